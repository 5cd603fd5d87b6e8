"""One replica migrating at a time (the leader lease itself is chain/lease.py: the outbox worker run apart takes it
too)."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_LOCK = 0x636F6F70  # "coop": PostgreSQL advisory lock key while a replica migrates


@asynccontextmanager
async def migrating_alone(engine: AsyncEngine) -> AsyncIterator[None]:
    """On PostgreSQL, one replica migrates at a time (two starting together would both create the tables)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATIONS_LOCK})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATIONS_LOCK})
            await connection.commit()


__all__ = ["migrating_alone"]
