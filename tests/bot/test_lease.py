"""The leader lease (bot/lease.py) between two replicas on one database: taken by one, kept while renewed,
taken over only once it stood still for the whole lease, and never trusted by the old holder past two thirds of
it; freed at once by a clean stop. On SQLite (one process owns the file) it is taken at once."""
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import store
from bot.lease import LeaderLease
from chain.db import create_engine
from tests.chain.conftest import migrated_database

TTL = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, tmp_path: Path) -> Iterator[str]:
    yield from migrated_database(request.param, tmp_path, store.migrate)


async def replicas(url: str) -> tuple[LeaderLease, LeaderLease, Clock, Clock]:
    engine = create_engine(url)
    a_clock, b_clock = Clock(), Clock()
    return LeaderLease(engine, TTL, clock=a_clock), LeaderLease(engine, TTL, clock=b_clock), a_clock, b_clock


async def test_a_follower_takes_the_lease_only_after_it_stood_still_for_the_whole_lease(url):
    if url.startswith("sqlite"):
        pytest.skip("one process owns a SQLite database")
    a, b, a_clock, b_clock = await replicas(url)
    try:
        assert await a.take() and a.held() and await a.may_sign()
        assert not await b.take()
        for _ in range(6):  # the leader renews every third of the lease: never standing still that long
            a_clock.now += TTL / 3
            b_clock.now += TTL / 3
            assert await a.renew() and a.held()
            assert not await b.take()
        a_clock.now += TTL * 2 / 3  # the leader stops renewing (a pause, a kill): it stops trusting the lease…
        assert not a.held() and not await a.may_sign()
        b_clock.now += TTL - 0.1  # …a third of the lease before the follower may take it
        assert not await b.take()
        b_clock.now += 0.2
        assert await b.take() and b.held() and b.epoch == a.epoch + 1
        assert not await a.renew()  # the old leader hears it lost the lease
    finally:
        await a.engine.dispose()


async def test_a_released_lease_is_taken_at_once(url):
    a, b, _, _ = await replicas(url)
    try:
        assert await a.take()
        await a.release()
        assert not a.held()
        assert await b.take()
    finally:
        await a.engine.dispose()


async def test_on_sqlite_a_new_process_takes_the_lease_a_killed_one_left_at_once(url):
    if not url.startswith("sqlite"):
        pytest.skip("SQLite only")
    killed, restarted, _, clock = await replicas(url)
    try:
        assert await killed.take()  # and never released
        assert await restarted.take() and restarted.held()
        clock.now += 10 * TTL  # held for good: nothing renews it
        assert restarted.held()
    finally:
        await killed.engine.dispose()
