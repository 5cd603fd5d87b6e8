"""What the use cases depend on, as ports: the co-op's ledger, a unit of work, a clock and the members' wallets.

Production wires `CoopLedger`, `SqlUnitOfWork` over the database and `SystemClock` (bot/app.py); fast tests
wire `tests/fakes.InMemoryLedger`, a unit of work over an in-memory SQLite database and a fixed clock.
"""
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chain.ledger import CoopLedger


class Clock(Protocol):
    def now(self) -> float: ...  # seconds since the epoch


class SystemClock:
    def now(self) -> float:
        return time.time()


def utc(clock: Clock) -> datetime:
    """The clock's time as the store keeps times: naive UTC."""
    return datetime.fromtimestamp(clock.now(), timezone.utc).replace(tzinfo=None)


class UnitOfWork(Protocol):
    """`async with uow() as session:` — one transaction; committed when the block ends, rolled back when it
    raises. `uow.read()` — a session for reads only."""

    def __call__(self) -> "AsyncIterator[AsyncSession]": ...

    def read(self) -> AsyncSession: ...


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    def read(self) -> AsyncSession:
        return self.sessions()


Wallet = Callable[[str], Awaitable[str]]  # a member's id -> their smart account's address (made on first use)


@dataclass(frozen=True)
class Ports:
    """Everything a use case may touch. `ledger` is chain/ledger.py's interface (tests: InMemoryLedger)."""

    ledger: CoopLedger
    uow: UnitOfWork
    clock: Clock
    wallet: Wallet
    operators: tuple[str, ...] = ()  # the backend's own accounts, one per role (chain/roles.py; the keepers' too)
