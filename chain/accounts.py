"""Members' smart accounts: a key per member and the account address it gives, known before the
account exists (the factory's CREATE2 prediction). The account is created inside the member's first
user operation; balances and history work at the address before that."""
import asyncio
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chain.db import SmartAccount
from chain.deploy import CoopSystem
from chain.keystore import Keystore, SealedKey

# EIP-1167 minimal proxy runtime code around the implementation address: what the factory's clone
# holds, used to simulate an operation of an account that does not exist yet.
_CLONE_PREFIX = bytes.fromhex("363d3d373d3d3d363d73")
_CLONE_SUFFIX = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")


class Signers(Protocol):
    """Where members' keys live (chain.keystore.Keystore), for signing their operations."""

    async def signers(self, member_ids: list[str]) -> dict[str, LocalAccount]: ...


@dataclass(frozen=True)
class NewAccount:
    """A new member's key and account address, made ready outside any transaction (the key's generation
    and the node's address prediction); `add_to` writes both in the caller's transaction."""

    key: SealedKey
    address: str
    salt: int = 0

    async def add_to(self, session: AsyncSession, keystore: Keystore) -> SmartAccount:
        await keystore.add_key(session, self.key)
        account = SmartAccount(member_id=self.key.member_id, address=self.address, signer=self.key.address,
                               salt=self.salt)
        session.add(account)
        return account


async def new_account(keystore: Keystore, contracts: CoopSystem, member_id: str, salt: int = 0) -> NewAccount:
    """A key for `member_id` and the address of the account it gives, not yet stored (see NewAccount)."""
    key = keystore.new_key(member_id)
    return NewAccount(key, await _predict(contracts, key.address, salt), salt)


async def _predict(contracts: CoopSystem, signer: str, salt: int) -> str:
    # A blocking node call: off the event loop, so other members' messages go on meanwhile.
    return await asyncio.to_thread(contracts.account_factory.functions.predictAddress(signer, salt).call)


async def ensure_account(sessions: async_sessionmaker, keystore: Keystore, contracts: CoopSystem,
                         member_id: str, salt: int = 0) -> SmartAccount:
    """The member's account, made on first use: their key and its account's address written together (a node
    away while the address is predicted leaves nothing behind). A member whose key an older version stored
    without its account gets the account of that key."""
    async with sessions() as session:
        account = await session.get(SmartAccount, member_id)
        if account is not None:
            return account
    try:
        if (signer := await keystore.address_of(member_id)) is None:
            made = await new_account(keystore, contracts, member_id, salt)
            async with sessions() as session, session.begin():
                return await made.add_to(session, keystore)
        account = SmartAccount(member_id=member_id, address=await _predict(contracts, signer, salt), signer=signer,
                               salt=salt)
        async with sessions() as session, session.begin():
            session.add(account)
        return account
    except IntegrityError:  # a concurrent first use recorded it meanwhile (key and account together)
        async with sessions() as session:
            return await session.get(SmartAccount, member_id)


def clone_code(contracts: CoopSystem) -> bytes:
    implementation = contracts.account_factory.functions.implementation().call()
    return _CLONE_PREFIX + bytes.fromhex(implementation[2:]) + _CLONE_SUFFIX
