"""The leader lease: of several `coop run` replicas on one database, one at a time signs and sends (the outbox
worker), runs the schedule (keepers, prune, resends), follows the chain's history and tells, and ingests the
sensors. Every replica serves webhooks and writes intents; the leader signs them. The outbox worker run apart
(`python -m chain.worker`) takes the same lease, so it never signs beside a replica (docs/replicas.md).

The lease is a row (bot_leases) taken and renewed by conditional UPDATEs, so it works alike on PostgreSQL and
SQLite. No clocks are compared across machines: a follower takes the lease once it has seen the row stand still
(same holder, epoch and version) for COOP_LEADER_LEASE seconds by its own clock, and the holder trusts it only
until two thirds of that after its last renewal began. A renewal's write commits after it began and a follower
starts counting only once it saw that write, so a new leader starts at least a third of the lease after the old
one stopped signing: the time a signature in hand has to be stored (a transaction stored is sent again by
whoever leads; one never stored was never sent). A leader stopped with SIGTERM frees the lease for a follower
to take at once.

That timing is the first guard; the fence is the second: what was signed is stored only in a transaction that
finds the lease's row still at this holder's epoch and locks it until the commit (`fence`). A holder paused past
its lease therefore stores nothing: it is refused, and a new leader's take waits for any store under way.

The row lives in the `bot_leases` table (migrated with the chat side's tables, bot/store.py `Lease`); the chain
package reads it by name, without importing the chat side.

On SQLite (one process owns the file) the lease is taken at once and held for good.
"""
import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import BigInteger, String, column, select, table, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger(__name__)

LEADER = "leader"
LEASES = "bot_leases"
_rows = table(LEASES, column("name", String), column("holder", String), column("epoch", BigInteger),
              column("version", BigInteger))
Lease = _rows.c


class LeaderLease:
    def __init__(self, engine: AsyncEngine, ttl: float, name: str = LEADER,
                 clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.ttl = ttl
        self.name = name
        self.clock = clock
        self.shared = engine.dialect.name != "sqlite"
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.epoch: int | None = None  # the fencing token while this replica holds the lease
        self._valid_until = 0.0
        self._seen: tuple | None = None  # (holder, epoch, version) as last read, and since when unchanged
        self._seen_since = 0.0

    def held(self) -> bool:
        """True while this replica may act as the leader (by its own clock: no database read)."""
        return self.epoch is not None and self.clock() < self._valid_until

    async def may_sign(self) -> bool:
        """The outbox worker's check right before it signs (chain.outbox.Worker `may_sign`)."""
        return self.held()

    async def fence(self, session: AsyncSession) -> bool:
        """The outbox's fence (chain.transactions.Fence), inside the transaction storing what was signed: True
        while the lease's row is still this holder's at its epoch, locked (PostgreSQL) until that transaction
        ends, so a replica taking the lease meanwhile waits for the commit and then finds what was stored. False
        once another replica took it: this one stops trusting the lease (`keep` then hears it was lost)."""
        if self.epoch is None:
            return False
        ours = (await session.execute(select(Lease.name).where(
            Lease.name == self.name, Lease.holder == self.holder, Lease.epoch == self.epoch).with_for_update())).first()
        if ours is None:
            self._valid_until = 0.0
            log.error("leader lease taken by another replica (epoch %s is no longer ours): nothing signed here is "
                      "stored or sent", self.epoch)
        return ours is not None

    async def take(self) -> bool:
        """One attempt: True when this replica now holds the lease (free, released, or left standing still for
        the whole lease by a holder that stopped renewing)."""
        began = self.clock()
        async with self.engine.begin() as connection:
            row = (await connection.execute(select(Lease.holder, Lease.epoch, Lease.version)
                                            .where(Lease.name == self.name))).one()
            if tuple(row) != self._seen:
                self._seen, self._seen_since = tuple(row), began
            holder, epoch, version = row
            if self.shared and holder is not None and began - self._seen_since < self.ttl:
                return False
            taken = await connection.execute(
                update(_rows).where(Lease.name == self.name, Lease.epoch == epoch, Lease.version == version)
                .values(holder=self.holder, epoch=epoch + 1, version=version + 1))
        if taken.rowcount != 1:
            return False  # another replica took it first
        self.epoch = epoch + 1
        self._valid_until = self._valid(began)
        log.info("leader lease taken holder=%s epoch=%s previous=%s", self.holder, self.epoch, holder)
        return True

    async def take_unless_led(self) -> bool:
        """Takes the lease unless another holder keeps renewing it: a row standing still (a holder that died)
        is waited out, for the lease at most; False as soon as the row is seen moving (a live leader)."""
        first = None
        while not await self.take():
            if first is None:
                first = self._seen
            elif self._seen != first:
                return False
            await asyncio.sleep(self.ttl / 3)
        return True

    async def renew(self) -> bool:
        """False when another replica holds the lease now; a database error leaves the lease to lapse."""
        began = self.clock()
        async with self.engine.begin() as connection:
            renewed = await connection.execute(
                update(_rows).where(Lease.name == self.name, Lease.holder == self.holder, Lease.epoch == self.epoch)
                .values(version=Lease.version + 1))
        if renewed.rowcount != 1:
            return False
        self._valid_until = self._valid(began)
        return True

    def _valid(self, began: float) -> float:
        return began + self.ttl * 2 / 3 if self.shared else math.inf

    async def keep(self, stop: asyncio.Event, won: Callable[[], Awaitable[None]],
                   lost: Callable[[], Awaitable[None]]) -> None:
        """Until `stop`: renews the lease while held (every third of it), else tries to take it; `won` runs
        when it is taken, `lost` once when it is lost or lapses (then this returns)."""
        if not self.shared:
            return
        while not stop.is_set():
            try:
                if self.epoch is None:
                    if await self.take():
                        await won()
                elif not await self.renew():
                    self.epoch = None
                    log.error("leader lease taken by another replica")
                    await lost()
                    return
            except Exception as e:  # the database away: a held lease lapses by itself, a follower waits
                log.warning("leader lease: %s", e)
            if self.epoch is not None and not self.held():
                self.epoch = None
                log.error("leader lease lapsed: not renewed within %s s", round(self.ttl * 2 / 3, 1))
                await lost()
                return
            try:
                await asyncio.wait_for(stop.wait(), self.ttl / 3)
            except TimeoutError:
                pass

    async def release(self) -> None:
        """Frees the lease (a clean stop), so a follower takes it at once."""
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    update(_rows).where(Lease.name == self.name, Lease.holder == self.holder, Lease.epoch == epoch)
                    .values(holder=None, version=Lease.version + 1))
        except Exception as e:  # it lapses by itself
            log.warning("leader lease not released: %s", e)


__all__ = ["LEADER", "LEASES", "LeaderLease"]
