"""Use cases over fakes, in milliseconds: tests/fakes.py's InMemoryLedger for the chain, the real tables in an
in-memory SQLite database as the unit of work, and a clock the test sets."""
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store import BotBase, Member
from chain.db import ChainBase, HistoryEvent, SmartAccount, sessionmaker
from core.ports import FixedClock, Ports, SqlUnitOfWork
from tests.fakes import InMemoryLedger


@dataclass
class World:
    """What a use-case test arranges and reads back."""

    ledger: InMemoryLedger
    clock: FixedClock
    ports: Ports

    async def member(self, name: str = "ana") -> Member:
        """A member with her row in the store; her account is `account(name)`."""
        async with self.ports.uow() as session:
            member = Member(channel="console", handle=name, chat_id=name, member_id=f"r_{name}", lang="en",
                            invite_code="test")
            session.add(member)
        return member

    async def indexed(self, contract: str, event: str, account: str | None = None, **args) -> None:
        """An event as the indexer keeps it in the history (chain_history), after those indexed before."""
        async with self.ports.uow() as session:
            n = await session.scalar(select(func.count()).select_from(HistoryEvent))
            session.add(HistoryEvent(block_number=n, block_hash="0x", timestamp=0, tx_hash=f"0x{n}", log_index=0,
                                     contract=contract, event=event, account=account, args=args))

    async def exported(self, member: Member) -> None:
        """The member took their account into their own custody."""
        async with self.ports.uow() as session:
            session.add(SmartAccount(member_id=member.member_id, address=account(member.member_id),
                                     signer="0x" + "5" * 40, exported_to="0x" + "6" * 40))


def account(member_id: str) -> str:
    """The account address the fake wallet gives a member: one per member, stable."""
    return "0x" + member_id.encode().hex().rjust(40, "0")[-40:]


@pytest.fixture
async def world():
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as connection:
        await connection.run_sync(ChainBase.metadata.create_all)
        await connection.run_sync(BotBase.metadata.create_all)
    ledger = InMemoryLedger()
    clock = FixedClock(ledger.now)

    async def wallet(member_id: str) -> str:
        return account(member_id)

    yield World(ledger, clock, Ports(ledger, SqlUnitOfWork(sessionmaker(engine)), clock, wallet))
    await engine.dispose()
