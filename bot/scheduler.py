"""What runs by itself, on a schedule (APScheduler, in the assistant's event loop).

Now the keepers (bot/keeper.py: orders past their deadline, passed proposals) and the prune of stale rows
(bot/prune.py). The price and
demand-forecast digests join here when they are built, on cron schedules in COOP_TIMEZONE.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
# A run skipped because the previous one is still going is expected (the next run does the work), and
# APScheduler would warn about each one.
logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


class Scheduler:
    def __init__(self, timezone: str):
        self._zone = ZoneInfo(timezone)
        self._scheduler = AsyncIOScheduler(timezone=self._zone)
        self._running: set[asyncio.Task] = set()

    def every(self, seconds: float, job: Callable[[], Awaitable[None]], name: str) -> None:
        """`job` every `seconds`, the first run at once; a run still going when the next is due skips it."""
        self._scheduler.add_job(self._tracked(job), "interval", seconds=seconds, id=name, name=name,
                                max_instances=1, coalesce=True, next_run_time=datetime.now(self._zone))

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            self._running.add(task)
            try:
                await job()
            finally:
                self._running.discard(task)
        return run

    def start(self) -> None:
        # Jobs are registered at start-up and first run now: a replica that leads only later (chain/lease.py) would
        # otherwise find every first run missed, and skipped.
        now = datetime.now(self._zone)
        for job in self._scheduler.get_jobs():
            job.modify(next_run_time=now)
        self._scheduler.start()

    async def stop(self) -> None:
        """No new runs; the ones under way finish first (they may be writing intents)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.gather(*self._running, return_exceptions=True)
