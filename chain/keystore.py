"""Members' custodial signing keys, stored only encrypted (AES-GCM envelope under a key derived from COOP_MASTER_KEY).

Each member has one secp256k1 key. It is encrypted under a data key of its own, and the data key is wrapped
under the key-encryption key (KEK) that scrypt derives from COOP_MASTER_KEY and the salt of a MasterKey row.
Associated data binds every ciphertext to its member, address and master key id, so rows cannot be swapped.
A check value (a fixed constant under the KEK) tells a wrong master key apart before any member key is touched.
Rotation rewraps the data keys only. Neither the master key, the KEK nor a member key is ever logged, stored
in clear, kept in a repr or carried by an exception.
"""
import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chain.db import MasterKey, MemberKey, utcnow
from chain.errors import ChainError

Random = Callable[[int], bytes]

KDF = "scrypt"
# n * r * 128 bytes = 32 MiB of memory per guess, about 0.1 s on one core.
DEFAULT_KDF_PARAMS: dict[str, int] = {"n": 2**15, "r": 8, "p": 1}
DEV_MASTER_KEY_FILE = "master.key"
# How an operator changes the master key; the wrong-key message points there.
ROTATE_HINT = ("`coop rotate-master-key` (the key in use in COOP_MASTER_KEY, its replacement in "
               "COOP_NEW_MASTER_KEY)")

_KEY_BYTES = 32
_NONCE_BYTES = 12
_SALT_BYTES = 16
_CHECK_CONSTANT = b"coop-assistant master key check v1"
# The order of the secp256k1 group: a private key is an integer in [1, n - 1].
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeystoreError(ChainError):
    """Root of what can go wrong with the custodial keys."""


class MasterKeyError(KeystoreError):
    """COOP_MASTER_KEY is missing, or is not the key that encrypted this database."""


class MemberKeyUnreadable(KeystoreError):
    """A member's stored key does not decrypt: the row was altered, moved to another member, or is wrapped
    under a master key this process does not hold."""


def _aad(*parts: str | int) -> bytes:
    # JSON keeps the parts unambiguous whatever characters a member id contains.
    return json.dumps(["coop-keystore", *parts], separators=(",", ":")).encode()


def _check_kdf_params(params: dict[str, Any]) -> dict[str, int]:
    try:
        n, r, p = (params[name] for name in ("n", "r", "p"))
    except (KeyError, TypeError):
        raise KeystoreError("scrypt parameters need n, r and p") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (n, r, p)) or n < 2 or n & (n - 1):
        raise KeystoreError("scrypt parameters: n must be a power of 2 above 1, r and p positive integers")
    return {"n": n, "r": r, "p": p}


def _derive_kek(master_key: str, salt: bytes, params: dict[str, int]) -> AESGCM:
    kdf = Scrypt(salt=salt, length=_KEY_BYTES, n=params["n"], r=params["r"], p=params["p"])
    return AESGCM(kdf.derive(master_key.encode()))


def _open_sealed(key: AESGCM, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """Decrypts, or None when the tag does not verify: callers raise their own error, with no traceback
    chain that could lead to frames holding key material."""
    try:
        return key.decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None


def _missing_master_key() -> MasterKeyError:
    return MasterKeyError(
        "COOP_MASTER_KEY is not set: it is required to encrypt and decrypt the members' keys. Set it to a long "
        "random secret (for example the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
        "and keep it safe: without it the keys in this database cannot be recovered.")


@dataclass(frozen=True, repr=False)
class SealedKey:
    """A member's key as it is stored: encrypted under its data key, the data key wrapped under the KEK."""

    member_id: str
    address: str
    key_id: str
    wrapped_data_key: bytes
    wrap_nonce: bytes
    encrypted_key: bytes
    key_nonce: bytes

    def __repr__(self) -> str:
        return f"<SealedKey {self.member_id} {self.address}>"


class Keystore:
    """The members' custodial keys in the chain database. Call `open()` once before anything else."""

    def __init__(self, sessions: async_sessionmaker, master_key: str | None, *, random: Random = os.urandom,
                 kdf_params: dict[str, int] | None = None):
        self._sessions = sessions
        # Held only until open() has derived the KEK from it.
        self._master_key: str | None = master_key
        self._open_called = False
        self._random = random
        self._kdf_params = _check_kdf_params(kdf_params if kdf_params is not None else DEFAULT_KDF_PARAMS)
        self._kek: AESGCM | None = None
        self._key_id: str | None = None

    def __repr__(self) -> str:
        state = f"key_id={self._key_id}" if self._key_id else "not opened"
        return f"<Keystore {state}>"

    def _bytes(self, n: int) -> bytes:
        value = self._random(n)
        if not isinstance(value, bytes | bytearray) or len(value) != n:
            raise KeystoreError(f"the random source returned something other than {n} bytes")
        return bytes(value)

    async def open(self) -> None:
        """Derives the KEK. Creates the first master key on an empty database; otherwise checks that
        COOP_MASTER_KEY is the one the current master key row was made with."""
        if self._open_called:
            raise KeystoreError("open() was already called on this Keystore (it keeps no master key); make a new one")
        self._open_called = True
        master_key, self._master_key = self._master_key, None
        if not master_key:
            raise _missing_master_key()
        for _ in range(2):
            async with self._sessions() as session:
                row = await self._current_master(session)
            if row is not None:
                if row.kdf != KDF:
                    raise KeystoreError(f"master key id {row.key_id} uses KDF {row.kdf!r}; this version knows {KDF!r}")
                kek = await asyncio.to_thread(_derive_kek, master_key, row.salt, _check_kdf_params(row.kdf_params))
                if _open_sealed(kek, row.check_nonce, row.check_value, _aad("check", row.key_id, row.version)) \
                        != _CHECK_CONSTANT:
                    raise MasterKeyError(
                        f"COOP_MASTER_KEY does not match the key that encrypted this database (key id {row.key_id}, "
                        f"version {row.version}); set the right one (to change it, run {ROTATE_HINT}).")
                self._kek, self._key_id = kek, row.key_id
                return
            try:
                kek, key_id = await self._create_master(master_key, version=1)
            except IntegrityError:
                continue  # another process created it first: check ours against theirs
            self._kek, self._key_id = kek, key_id
            return
        raise KeystoreError("could not create or read the first master key")

    async def _current_master(self, session: AsyncSession) -> MasterKey | None:
        row = (await session.scalars(select(MasterKey).where(MasterKey.retired_at.is_(None))
                                     .order_by(MasterKey.version.desc()).limit(1))).first()
        # Counting only retired rows: a first master key another process commits between these two reads
        # (PostgreSQL's read committed) is not mistaken for a database whose keys are all retired.
        if row is None and await session.scalar(select(func.count()).select_from(MasterKey)
                                                .where(MasterKey.retired_at.is_not(None))):
            raise MasterKeyError("every master key in this database is retired; the keystore cannot be opened")
        return row

    async def _new_kek(self, master_key: str) -> tuple[AESGCM, bytes]:
        salt = self._bytes(_SALT_BYTES)
        return await asyncio.to_thread(_derive_kek, master_key, salt, self._kdf_params), salt

    def _master_row(self, kek: AESGCM, salt: bytes, version: int) -> dict[str, Any]:
        key_id, check_nonce = self._bytes(16).hex(), self._bytes(_NONCE_BYTES)
        check_value = kek.encrypt(check_nonce, _CHECK_CONSTANT, _aad("check", key_id, version))
        return {"key_id": key_id, "version": version, "kdf": KDF, "kdf_params": dict(self._kdf_params),
                "salt": salt, "check_nonce": check_nonce, "check_value": check_value, "created_at": utcnow()}

    async def _create_master(self, master_key: str, version: int) -> tuple[AESGCM, str]:
        kek, salt = await self._new_kek(master_key)
        values = self._master_row(kek, salt, version)
        async with self._sessions() as session, session.begin():
            await session.execute(insert(MasterKey).values(**values))
        return kek, values["key_id"]

    def _opened(self) -> tuple[AESGCM, str]:
        if self._kek is None or self._key_id is None:
            raise KeystoreError("the keystore is not open: call open() first")
        return self._kek, self._key_id

    async def address_of(self, member_id: str) -> str | None:
        """The member's signing address, or None if they have no key yet."""
        async with self._sessions() as session:
            return await session.scalar(select(MemberKey.address).where(MemberKey.member_id == member_id))

    def _new_private_key(self) -> bytes:
        for _ in range(16):
            candidate = self._bytes(_KEY_BYTES)
            if 0 < int.from_bytes(candidate, "big") < _SECP256K1_N:
                return candidate
        raise KeystoreError("the random source keeps returning invalid secp256k1 keys")

    def new_key(self, member_id: str) -> "SealedKey":
        """A new key for `member_id`, already encrypted, not yet stored (`add_key` stores it): made outside
        any transaction, so one that writes the member too stays short."""
        kek, key_id = self._opened()
        private_key = self._new_private_key()
        address = Account.from_key(private_key).address
        data_key, key_nonce, wrap_nonce = self._bytes(_KEY_BYTES), self._bytes(_NONCE_BYTES), self._bytes(_NONCE_BYTES)
        encrypted_key = AESGCM(data_key).encrypt(key_nonce, private_key, _aad("member-key", member_id, address))
        wrapped = kek.encrypt(wrap_nonce, data_key, _aad("data-key", key_id, member_id, address))
        del private_key, data_key
        return SealedKey(member_id, address, key_id, wrapped, wrap_nonce, encrypted_key, key_nonce)

    async def add_key(self, session: AsyncSession, key: "SealedKey") -> None:
        """Stores `key` in the caller's transaction (it commits with whatever else the caller writes)."""
        # The insert comes first so SQLite takes its write lock before the check below; on PostgreSQL
        # FOR SHARE waits for a rotation in progress, so no key is left under a retired master key.
        await session.execute(insert(MemberKey).values(
            member_id=key.member_id, address=key.address, key_id=key.key_id, wrapped_data_key=key.wrapped_data_key,
            wrap_nonce=key.wrap_nonce, encrypted_key=key.encrypted_key, key_nonce=key.key_nonce,
            created_at=utcnow()))
        retired = await session.scalar(select(MasterKey.retired_at).where(MasterKey.key_id == key.key_id)
                                       .with_for_update(read=True))
        if retired is not None:
            raise MasterKeyError(f"the master key (key id {key.key_id}) was rotated by another process; "
                                 "restart with the new COOP_MASTER_KEY")

    async def signer(self, member_id: str) -> LocalAccount:
        """The member's account, decrypted in memory for signing. Do not keep it longer than needed."""
        return (await self.signers([member_id]))[member_id]

    async def signers(self, member_ids: list[str]) -> dict[str, LocalAccount]:
        """Several members' accounts in one read (a bundle signs for up to twenty members at once)."""
        kek, key_id = self._opened()
        async with self._sessions() as session:
            rows = {row.member_id: row for row in (await session.execute(
                select(MemberKey).where(MemberKey.member_id.in_(member_ids)))).scalars()}
        return {member_id: self._decrypt(kek, key_id, member_id, rows.get(member_id)) for member_id in member_ids}

    @staticmethod
    def _decrypt(kek: AESGCM, key_id: str, member_id: str, row: MemberKey | None) -> LocalAccount:
        if row is None:
            raise KeystoreError(f"member {member_id!r} has no key")
        if row.key_id != key_id:
            raise MemberKeyUnreadable(
                f"the key of member {member_id!r} is wrapped under master key id {row.key_id}, not the one this "
                f"process opened ({key_id}): the master key was probably rotated; restart with the new COOP_MASTER_KEY")
        data_key = _open_sealed(kek, row.wrap_nonce, row.wrapped_data_key,
                                _aad("data-key", row.key_id, row.member_id, row.address))
        private_key = data_key and _open_sealed(AESGCM(data_key), row.key_nonce, row.encrypted_key,
                                                _aad("member-key", row.member_id, row.address))
        del data_key
        account = Account.from_key(private_key) if private_key else None
        del private_key
        if account is None or account.address != row.address:
            raise MemberKeyUnreadable(f"the stored key of member {member_id!r} does not decrypt: the row was altered "
                                      "or moved from another member")
        return account

    async def rotate_master(self, new_master_key: str) -> int:
        """Makes `new_master_key` the only one that opens the store: a new master key version, every member's
        data key rewrapped under it and the old version retired, in one transaction. Returns how many member
        keys were rewrapped. Other processes must restart with the new key afterwards."""
        old_kek, old_key_id = self._opened()
        if not new_master_key:
            raise _missing_master_key()
        # Derived before the transaction, so the write lock is not held through scrypt.
        new_kek, salt = await self._new_kek(new_master_key)
        del new_master_key
        async with self._sessions() as session, session.begin():
            # The first statement is a write, so SQLite holds its write lock for the whole rotation and
            # PostgreSQL locks the old row against concurrent rotations and key creations.
            retired = await session.execute(update(MasterKey).where(MasterKey.key_id == old_key_id,
                                                                    MasterKey.retired_at.is_(None))
                                            .values(retired_at=utcnow()))
            if retired.rowcount != 1:
                raise MasterKeyError(f"the master key (key id {old_key_id}) was already rotated by another process; "
                                     "restart with the new COOP_MASTER_KEY")
            old_version = await session.scalar(select(MasterKey.version).where(MasterKey.key_id == old_key_id))
            values = self._master_row(new_kek, salt, old_version + 1)
            new_key_id = values["key_id"]
            await session.execute(insert(MasterKey).values(**values))
            rows = (await session.execute(select(MemberKey.member_id, MemberKey.address, MemberKey.key_id,
                                                 MemberKey.wrap_nonce, MemberKey.wrapped_data_key))).all()
            for member_id, address, key_id, wrap_nonce, wrapped in rows:
                data_key = None
                if key_id == old_key_id:
                    data_key = _open_sealed(old_kek, wrap_nonce, wrapped, _aad("data-key", key_id, member_id, address))
                if data_key is None:
                    raise MemberKeyUnreadable(f"the data key of member {member_id!r} does not unwrap under master "
                                              f"key id {old_key_id}; nothing was rotated")
                nonce = self._bytes(_NONCE_BYTES)
                rewrapped = new_kek.encrypt(nonce, data_key, _aad("data-key", new_key_id, member_id, address))
                del data_key
                await session.execute(update(MemberKey).where(MemberKey.member_id == member_id)
                                      .values(key_id=new_key_id, wrap_nonce=nonce, wrapped_data_key=rewrapped))
        self._kek, self._key_id = new_kek, new_key_id
        return len(rows)


def dev_master_key(data_dir: Path, *, random: Random = os.urandom) -> str:
    """The master key of the embedded default: read from `data_dir/master.key`, created (mode 0600) with a
    random value if absent. Only for the embedded default; callers decide when that is allowed."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / DEV_MASTER_KEY_FILE
    if not path.exists():
        # Written aside then linked into place, so a concurrent reader never sees a half-written file and
        # two processes starting together agree on one key.
        temporary = data_dir / f".{DEV_MASTER_KEY_FILE}.{os.getpid()}.{random(4).hex()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(random(32).hex() + "\n")
                file.flush()
                os.fsync(file.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise MasterKeyError(f"{path} can be read by other users; run `chmod 600 {path}`")
    key = path.read_text().strip()
    if not key:
        raise MasterKeyError(f"{path} is empty; delete it only if this data directory holds no member keys yet")
    return key
