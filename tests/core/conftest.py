"""Use cases over fakes, in milliseconds: tests/fakes.py's InMemoryLedger for the chain, the real tables in an
in-memory SQLite database as the unit of work, and a clock the test sets."""
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from bot.store import BotBase, Invite, Member
from chain.db import ChainBase, HistoryEvent, SmartAccount, sessionmaker
from core.onboarding import InviteAttempts
from core.ports import Ports, SqlUnitOfWork, utc
from tests.fakes import InMemoryLedger


@dataclass
class FakeAccounts:
    """New residents' accounts (core/onboarding.Accounts) at `account(member_id)`, with no key or node; `failing`
    makes the write fail inside the joining transaction."""

    failing: bool = False
    made: list[str] = field(default_factory=list)  # member ids, in order

    async def new(self, member_id: str) -> str:
        self.made.append(member_id)
        return member_id

    async def add_to(self, session, member_id: str) -> None:
        if self.failing:
            raise RuntimeError("the keystore is away")
        session.add(SmartAccount(member_id=member_id, address=account(member_id), signer="0x" + "ee" * 20, salt=0))


@dataclass
class FixedClock:
    """A clock that says what a test sets."""

    at: float

    def now(self) -> float:
        return self.at


@dataclass
class World:
    """What a use-case test arranges and reads back."""

    ledger: InMemoryLedger
    clock: FixedClock
    ports: Ports
    accounts: FakeAccounts
    attempts: InviteAttempts  # on the world's clock

    async def member(self, name: str = "ana", channel: str = "console", member_id: str | None = None,
                     invite_code: str = "test") -> Member:
        """A member with her row in the store; her account is `account(member_id)`, `r_<name>` unless given."""
        async with self.ports.uow() as session:
            member = Member(channel=channel, handle=name, chat_id=name, member_id=member_id or f"r_{name}", lang="en",
                            invite_code=invite_code)
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

    async def invite(self, code: str = "GOODCODE", for_member_id: str | None = None, days: float = 14) -> Invite:
        """An unused invite (a /link code when `for_member_id`), valid for `days` from now on the world's clock."""
        async with self.ports.uow() as session:
            invite = Invite(code=code, created_by="console:admin", for_member_id=for_member_id,
                            expires_at=utc(self.clock) + timedelta(days=days))
            session.add(invite)
        return invite


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

    yield World(ledger, clock, Ports(ledger, SqlUnitOfWork(sessionmaker(engine)), clock, wallet), FakeAccounts(),
                InviteAttempts(clock=clock.now))
    await engine.dispose()
