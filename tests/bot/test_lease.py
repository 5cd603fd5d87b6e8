"""The leader lease (chain/lease.py) between two replicas on one database: taken by one, kept while renewed,
taken over only once it stood still for the whole lease, and never trusted by the old holder past two thirds of
it; freed at once by a clean stop. On SQLite (one process owns the file) it is taken at once. The fence: a
leader paused past its lease stores and sends nothing it signed, and a take waits for a store under way."""
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import store
from chain.lease import LeaderLease
from chain import db as chain_db
from chain.accounts import ensure_account
from chain.db import Intent, OperatorTransaction, create_engine, sessionmaker
from chain.keystore import Keystore
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.transactions import NotLeader
from tests.chain.conftest import anvil, anvil_coop, anvil_deployed, migrated_database  # noqa: F401 (fixtures)
from tests.chain.test_crash import CHEAP_KDF, MASTER_KEY, node, run_worker  # noqa: F401 (node: a fixture)

TTL = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, tmp_path: Path) -> Iterator[str]:
    yield from migrated_database(request.param, tmp_path, store.migrate)


@pytest.fixture
def shared_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL with the chain's and the chat side's tables, as replicas share it."""
    def both(url: str) -> None:
        chain_db.migrate(url)
        store.migrate(url)
    yield from migrated_database("postgresql", tmp_path, both)


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


async def test_a_leader_paused_past_its_lease_stores_and_sends_nothing_it_signed(shared_url, anvil_coop):
    a, b, a_clock, b_clock = await replicas(shared_url)
    sessions = sessionmaker(a.engine)
    keystore = Keystore(sessions, "test master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    outbox = Outbox(sessions)
    checks = []

    async def checked_then_paused() -> bool:
        """A's check right before sending passes; then A pauses past its lease and B takes it over."""
        allowed = await a.may_sign()
        checks.append(allowed)
        if len(checks) == 2:
            a_clock.now += TTL
            b_clock.now += TTL + 1
            assert await b.take()
        return allowed

    def worker(lease: LeaderLease, may_sign) -> Worker:
        return Worker(anvil_coop.w3, anvil_coop.contracts, outbox, keystore, anvil_coop.keys,
                      WorkerOptions(window=0), may_sign=may_sign, fence=lease.fence)

    registrar = anvil_coop.keys.registrar.address
    try:
        await ensure_account(sessions, keystore, anvil_coop.contracts, "ana")
        intent = await outbox.submit("register-ana", "ana", "register", {"resident_id": "resident-ana"})
        nonce = anvil_coop.w3.eth.get_transaction_count(registrar)
        assert await a.take()
        assert not await b.take()  # A leads

        with pytest.raises(NotLeader):
            await worker(a, checked_then_paused).run_once()
        assert checks == [True, True]  # both checks passed: only the fence stopped it
        async with sessions() as session:
            assert (await session.execute(select(func.count()).select_from(OperatorTransaction))).scalar_one() == 0
        assert (await outbox.get(intent.id)).state == "pending"  # nothing stored…
        assert anvil_coop.w3.eth.get_transaction_count(registrar, "pending") == nonce  # …nothing sent
        assert not a.held()

        await worker(b, b.may_sign).drain()  # the new leader signs it, once
        assert (await outbox.get(intent.id)).state == "confirmed"
        assert anvil_coop.w3.eth.get_transaction_count(registrar) == nonce + 1
    finally:
        await a.engine.dispose()


async def test_a_take_waits_for_a_store_under_way_then_finds_it(shared_url):
    a, b, a_clock, b_clock = await replicas(shared_url)
    try:
        assert await a.take()
        assert not await b.take()
        b_clock.now += TTL + 1  # the row stood still for the whole lease: B may take it…
        async with sessionmaker(a.engine)() as session, session.begin():
            assert await a.fence(session)  # …but A is storing what it signed, under the lease's lock
            taking = asyncio.create_task(b.take())
            await asyncio.sleep(0.5)
            assert not taking.done()
        assert await taking  # once A's store committed
        async with sessionmaker(a.engine)() as session, session.begin():
            assert not await a.fence(session)  # and A stores nothing more
    finally:
        await a.engine.dispose()


async def test_the_worker_run_apart_refuses_while_a_replica_leads_then_takes_the_lease(shared_url, node, monkeypatch):
    _, contracts, _, _, _ = node
    monkeypatch.setenv("COOP_LEADER_LEASE", "2")
    replica = LeaderLease(create_engine(shared_url), 2.0)
    sessions = sessionmaker(replica.engine)
    keystore = Keystore(sessions, MASTER_KEY, kdf_params=CHEAP_KDF)
    await keystore.open()
    await ensure_account(sessions, keystore, contracts, "ana")
    intent = await Outbox(sessions).submit("register-ana", "ana", "register", {"resident_id": "resident-ana"})
    assert await replica.take()
    leading = asyncio.Event()

    async def renewing() -> None:
        while not leading.is_set():
            assert await replica.renew()
            await asyncio.sleep(0.5)

    renewals = asyncio.create_task(renewing())
    try:
        refused = await asyncio.to_thread(run_worker, shared_url, node, "--until-idle")
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert "another process holds the leader lease" in refused.stderr and "Traceback" not in refused.stderr
        assert (await Outbox(sessions).get(intent.id)).state == "pending"  # nothing signed beside the replica

        leading.set()
        await renewals
        await replica.release()  # the replica stops: the worker leads
        finished = await asyncio.to_thread(run_worker, shared_url, node, "--until-idle")
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert (await Outbox(sessions).get(intent.id)).state == "confirmed"
        assert await replica.take() and replica.epoch == 3  # the worker took the lease (epoch 2) and freed it
    finally:
        leading.set()
        await asyncio.gather(renewals, return_exceptions=True)
        await replica.engine.dispose()
