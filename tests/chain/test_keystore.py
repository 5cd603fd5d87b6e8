"""The keystore: one encrypted key per member on SQLite and PostgreSQL, a wrong or missing master key refused
with a clear message, rotation, and no key material in clear in the database, reprs or exceptions."""
import asyncio
import os
import random as stdlib_random
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from eth_account.messages import encode_defunct
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from chain.db import MasterKey, MemberKey, create_engine, migrate, sessionmaker
from chain.keystore import (DEFAULT_KDF_PARAMS, Keystore, KeystoreError, MasterKeyError, MemberKeyUnreadable,
                            dev_master_key)

CHEAP = {"n": 2**10, "r": 8, "p": 1}
MASTER = "correct horse battery staple, but longer"
OTHER = "a different master key altogether"


class RecordingRandom:
    """os.urandom, or a seeded stream, remembering every value it hands out."""

    def __init__(self, seed: int | None = None):
        self._source: Callable[[int], bytes] = stdlib_random.Random(seed).randbytes if seed is not None else os.urandom
        self.values: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        value = self._source(n)
        self.values.append(value)
        return value


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    yield sessionmaker(engine)
    await engine.dispose()


async def opened(sessions, master_key: str | None = MASTER, **kwargs) -> Keystore:
    keystore = Keystore(sessions, master_key, kdf_params=kwargs.pop("kdf_params", CHEAP), **kwargs)
    await keystore.open()
    return keystore


async def store_key(sessions, keystore: Keystore, member_id: str) -> str:
    """A new key for the member, stored as joining stores it (in the caller's transaction); its address."""
    key = keystore.new_key(member_id)
    async with sessions() as session, session.begin():
        await keystore.add_key(session, key)
    return key.address


async def test_a_member_has_one_key_and_it_signs_for_its_address(sessions):
    keystore = await opened(sessions)
    assert await keystore.address_of("alice") is None

    address = await store_key(sessions, keystore, "alice")

    with pytest.raises(IntegrityError):
        await store_key(sessions, keystore, "alice")
    assert await keystore.address_of("alice") == address
    signer = await keystore.signer("alice")
    assert signer.address == address
    message = encode_defunct(text="join order 7")
    assert signer.sign_message(message).signature
    assert await store_key(sessions, keystore, "bob") != address
    async with sessions() as session:
        assert await session.scalar(select(MemberKey.address).where(MemberKey.member_id == "alice")) == address


async def test_another_process_with_the_same_master_key_reads_the_keys(sessions):
    address = await store_key(sessions, await opened(sessions), "alice")

    later = await opened(sessions)

    assert (await later.signer("alice")).address == address


async def test_concurrent_processes_make_one_master_key_and_one_key_per_member(database_url):
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        first, second = (Keystore(sessionmaker(e), MASTER, kdf_params=CHEAP) for e in engines)
        await asyncio.gather(first.open(), second.open())  # both on an empty database: one master key

        stored = await asyncio.gather(store_key(sessionmaker(engines[0]), first, "alice"),
                                      store_key(sessionmaker(engines[1]), second, "alice"), return_exceptions=True)

        [address] = [a for a in stored if isinstance(a, str)]
        assert [type(e) for e in stored if not isinstance(e, str)] == [IntegrityError]
        assert (await second.signer("alice")).address == (await first.signer("alice")).address == address
        async with sessionmaker(engines[0])() as session:
            assert len((await session.scalars(select(MemberKey))).all()) == 1
            assert len((await session.scalars(select(MasterKey))).all()) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_same_random_stream_gives_the_same_address(sessions, tmp_path):
    address = await store_key(sessions, await opened(sessions, random=RecordingRandom(seed=7)), "alice")
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    migrate(other_url)
    engine = create_engine(other_url)
    try:
        other = sessionmaker(engine)
        again = await opened(other, random=RecordingRandom(seed=7))
        assert await store_key(other, again, "alice") == address
        assert await store_key(other, again, "bob") != address
    finally:
        await engine.dispose()


async def test_wrong_master_key_is_refused_with_what_to_do(sessions):
    await store_key(sessions, await opened(sessions), "alice")
    async with sessions() as session:
        key_id = await session.scalar(select(MasterKey.key_id))

    with pytest.raises(MasterKeyError) as refused:
        await opened(sessions, OTHER)

    message = str(refused.value)
    assert "COOP_MASTER_KEY does not match the key that encrypted this database" in message
    assert key_id in message and "rotate" in message
    assert OTHER not in message and MASTER not in message
    assert refused.value.__cause__ is None


@pytest.mark.parametrize("missing", [None, ""])
async def test_missing_master_key_names_the_setting(sessions, missing):
    with pytest.raises(MasterKeyError, match="COOP_MASTER_KEY is not set"):
        await opened(sessions, missing)
    async with sessions() as session:
        assert (await session.scalars(select(MasterKey))).all() == []


async def test_unopened_keystore_refuses_to_work(sessions):
    with pytest.raises(KeystoreError, match="open"):
        Keystore(sessions, MASTER, kdf_params=CHEAP).new_key("alice")


async def test_rotation_rewraps_keys_and_only_the_new_master_key_opens(sessions):
    keystore = await opened(sessions)
    addresses = {member: await store_key(sessions, keystore, member) for member in ("alice", "bob", "carol")}
    async with sessions() as session:
        before = {row.member_id: (row.encrypted_key, row.wrapped_data_key)
                  for row in (await session.scalars(select(MemberKey))).all()}

    assert await keystore.rotate_master(OTHER) == 3

    assert (await keystore.signer("alice")).address == addresses["alice"]  # this process keeps working
    with pytest.raises(MasterKeyError, match="does not match"):
        await opened(sessions, MASTER)
    rotated = await opened(sessions, OTHER)
    for member, address in addresses.items():
        assert (await rotated.signer(member)).address == address
    assert await store_key(sessions, rotated, "dave") not in addresses.values()
    async with sessions() as session:
        masters = (await session.scalars(select(MasterKey).order_by(MasterKey.version))).all()
        rows = (await session.scalars(select(MemberKey))).all()
    assert [m.version for m in masters] == [1, 2]
    assert masters[0].retired_at is not None and masters[1].retired_at is None
    assert {row.key_id for row in rows} == {masters[1].key_id}
    for row in rows:
        if row.member_id in before:
            assert row.encrypted_key == before[row.member_id][0]  # the key itself was not re-encrypted
            assert row.wrapped_data_key != before[row.member_id][1]


async def test_a_process_still_on_the_old_master_key_is_told_to_restart(sessions):
    stale = await opened(sessions)
    await store_key(sessions, stale, "alice")
    await (await opened(sessions)).rotate_master(OTHER)

    with pytest.raises(MemberKeyUnreadable, match="restart with the new COOP_MASTER_KEY"):
        await stale.signer("alice")
    with pytest.raises(MasterKeyError, match="rotated by another process"):
        await store_key(sessions, stale, "bob")
    with pytest.raises(MasterKeyError, match="already rotated"):
        await stale.rotate_master("yet another master key")
    assert await (await opened(sessions, OTHER)).address_of("bob") is None


async def test_swapped_rows_do_not_decrypt(sessions):
    keystore = await opened(sessions)
    await store_key(sessions, keystore, "alice")
    await store_key(sessions, keystore, "mallory")
    secrets = [(await keystore.signer(m)).key for m in ("alice", "mallory")]
    async with sessions() as session, session.begin():
        mallory = await session.get(MemberKey, "mallory")
        await session.execute(update(MemberKey).where(MemberKey.member_id == "alice").values(
            wrapped_data_key=mallory.wrapped_data_key, wrap_nonce=mallory.wrap_nonce,
            encrypted_key=mallory.encrypted_key, key_nonce=mallory.key_nonce))

    with pytest.raises(MemberKeyUnreadable) as unreadable:
        await keystore.signer("alice")

    assert unreadable.value.__cause__ is None
    shown = repr(unreadable.value) + str(unreadable.value)
    assert not any(s.hex() in shown.lower() for s in secrets)


async def test_default_kdf_parameters_are_memory_hard_and_stored(sessions):
    keystore = Keystore(sessions, MASTER)
    await keystore.open()

    async with sessions() as session:
        master = await session.scalar(select(MasterKey))
    assert master.kdf == "scrypt"
    assert master.kdf_params == DEFAULT_KDF_PARAMS
    assert master.kdf_params["n"] * master.kdf_params["r"] * 128 >= 16 * 2**20
    address = await store_key(sessions, keystore, "alice")
    assert (await (await opened(sessions, kdf_params=None)).signer("alice")).address == address


async def test_no_secret_in_repr_or_attributes(sessions):
    keystore = Keystore(sessions, MASTER, kdf_params=CHEAP)
    assert MASTER not in repr(keystore)
    await keystore.open()
    await store_key(sessions, keystore, "alice")
    secret = (await keystore.signer("alice")).key

    assert MASTER not in repr(keystore) and secret.hex() not in repr(keystore)
    assert all(value != MASTER for value in vars(keystore).values())


async def test_keys_are_never_at_rest_in_clear(database_url, sessions):
    random = RecordingRandom()
    keystore = await opened(sessions, random=random)
    members = [f"member-{i}" for i in range(5)]
    for member in members:
        await store_key(sessions, keystore, member)
    private_keys = [(await keystore.signer(member)).key for member in members]
    async with sessions() as session:
        salts = set((await session.scalars(select(MasterKey.salt))).all())
        rows = (await session.execute(text("SELECT * FROM chain_member_keys"))).all()
        masters = (await session.execute(text("SELECT * FROM chain_master_keys"))).all()
    # Every 32-byte value the keystore drew is a private key or a data key, except a KDF salt.
    secrets = set(private_keys) | {v for v in random.values if len(v) == 32 and v not in salts}
    assert set(private_keys) <= secrets and len(secrets) >= 2 * len(members)

    dumped = b"".join(_as_bytes(value) for row in (*rows, *masters) for value in row)
    _assert_absent(secrets, dumped)
    assert len(rows) == len(members)

    if database_url.startswith("sqlite"):
        database = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
        on_disk = b"".join(p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists())
        assert Path(f"{database}-wal").exists() and len(on_disk) > 4096
        _assert_absent(secrets, on_disk)


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _assert_absent(secrets: set[bytes], haystack: bytes) -> None:
    lowered = haystack.lower()
    for secret in secrets:
        assert secret not in haystack
        assert secret.hex().encode() not in lowered


def test_dev_master_key_is_created_private_then_read_back(tmp_path):
    data_dir = tmp_path / "data"

    key = dev_master_key(data_dir)

    path = data_dir / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32 and dev_master_key(data_dir) == key
    assert [p.name for p in data_dir.iterdir()] == ["master.key"]


def test_dev_master_key_readable_by_others_is_refused(tmp_path):
    dev_master_key(tmp_path)
    (tmp_path / "master.key").chmod(0o644)

    with pytest.raises(MasterKeyError, match="chmod 600"):
        dev_master_key(tmp_path)
