"""The composition root: builds every part from the settings and runs them together.

On the embedded defaults (no COOP_CHAIN_RPC_URL) the chain is anvil with its state in the data dir,
the database SQLite there, and the custodial keys' master key a generated file there. The outbox worker
runs in this process; outcomes of members' actions are pushed to them through the channel's sink.

Several processes may share one PostgreSQL database (replicas behind the same webhooks): each handles the
updates it receives and writes intents, and only the one holding the leader lease (chain/lease.py) runs the
worker, the indexer, the sensors and the schedule (`lead`).
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from sqlalchemy import select, update
from web3 import HTTPProvider, Web3

from bot import store
from bot.announce import Announcer, AnnouncerDeps
from bot.keeper import Keeper, KeeperDeps
from bot.lease import migrating_alone
from chain.lease import LeaderLease
from bot.notify import Limits, Notifier
from bot.prune import PRUNE_EVERY, prune
from bot.scheduler import Scheduler
from bot.sensors import Sensors
from bot.settings import Settings, SettingsError
from bot.store import Member
from bot.told import RESEND_EVERY, Telling
from chain import db as chain_db
from chain import rpc
from chain.accounts import ensure_account
from chain.bundler_client import BundlerClient
from chain.db import Intent, create_engine, sessionmaker
from chain.deploy import load_manifest
from chain.indexer import Indexer
from chain.keystore import Keystore, dev_master_key
from chain.ledger import CoopLedger
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.roles import missing_rights
from core import offers
from core.onboarding import InviteAttempts
from core.onboarding import CustodialAccounts
from core.ports import Ports, SqlUnitOfWork, SystemClock
from handlers import router
from handlers.base import Inbound, Reply
from iot import store as iot_store

log = logging.getLogger(__name__)

MANIFEST_FILE = "chain-manifest.json"
MAX_BATCH = 100  # chain reads in one JSON-RPC batch


class App:
    """Everything the running assistant is made of; `Services` for the handlers."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.admins = settings.admins
        self.telegram_username: str | None = None  # the bot's @username, once the Telegram transport asked getMe
        self.invite_attempts = InviteAttempts()  # failed /start CODE attempts, throttled (core/onboarding.py)
        # Everything pushed (outcomes, announcements, broadcasts) goes through the notifier's queue, at
        # each channel's pace; transports connect their send path to it. Events' messages are kept in the
        # database until told (bot/told.py): the notifier reports each one's end.
        self.notifier = Notifier({}, on_blocked=self.mark_blocked, on_done=self._message_done)
        self._embedded = None
        self._bundler: BundlerClient | None = None  # COOP_BUNDLER_URL: member operations go to it
        self.channels: set[str] = set()  # the channels a transport is connected on
        self._stop = asyncio.Event()
        self.lease_lost = asyncio.Event()  # set when another replica took the lead from this one (run exits)
        self.leading = False  # the leader's parts (see lead) run in this process
        self._on_lead: list[Callable[[], None]] = []  # parts of transports only the leader runs (when_leading)
        self._tasks: list[asyncio.Task] = []
        self._addresses: dict[str, str] = {}  # member_id -> smart account address (see wallet)
        self._http: aiohttp.ClientSession | None = None  # for chain reads in a batch (see batch)
        self._batches: list = []  # (requests, future) waiting for the next JSON-RPC batch
        self._batching: asyncio.Task | None = None

    # ---- start and stop ----

    async def start(self, background: bool = True) -> "App":
        """Builds every part; with `background` also starts the worker and indexer (see begin)."""
        s = self.settings
        s.require_production_secrets()
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(s.database_url)
        async with migrating_alone(self.engine):
            await asyncio.to_thread(chain_db.migrate, s.database_url)
            await asyncio.to_thread(store.migrate, s.database_url)
            await asyncio.to_thread(iot_store.migrate, s.database_url)
        self.sessions = sessionmaker(self.engine)
        self.lease = LeaderLease(self.engine, s.leader_lease)
        if s.embedded:
            from chain.embedded import start_embedded

            self._embedded = await asyncio.to_thread(start_embedded, s.data_dir / "chain",
                                                    params=s.deploy_params())
            self.w3, self.contracts, keys = self._embedded.w3, self._embedded.contracts, self._embedded.keys
            master_key = s.master_key or dev_master_key(s.data_dir)
        else:
            self.w3 = Web3(Web3.HTTPProvider(s.chain_rpc_url, request_kwargs={"timeout": 30}))
            self.contracts = await asyncio.to_thread(load_manifest, self.w3, s.data_dir / MANIFEST_FILE)
            keys, master_key = s.role_keys(), s.master_key
            missing = await asyncio.to_thread(missing_rights, self.contracts, keys)
            if missing:
                raise SettingsError("; ".join(missing) + " (docs/chain.md, \"Roles and keys\")")
        self.treasurer_address = keys.treasurer.address
        self.ledger = CoopLedger(self.contracts, self.batch)
        self.core = Ports(self.ledger, SqlUnitOfWork(self.sessions), SystemClock(), self.wallet,  # for core/
                          tuple(account.address for account in keys.accounts()))
        self.telling = Telling(self.sessions, self.notifier, s.crash_at)
        self.keystore = Keystore(self.sessions, master_key)
        await self.keystore.open()
        self.accounts = CustodialAccounts(self.keystore, self.contracts)  # new residents' keys and accounts
        await self.notifier.start()
        self.outbox = Outbox(self.sessions)
        self.announcer = Announcer(AnnouncerDeps(
            sessions=self.sessions, telling=self.telling, ledger=self.ledger, contracts=self.contracts,
            core=self.core, w3=self.w3, settings=s, admins=self.admins, channels=self.channels))
        self.outbox.subscribe(self.announcer.intent_finished)
        if s.bundler_url:
            self._bundler = BundlerClient(s.bundler_url, self.contracts.entry_point.address)
        self.worker = Worker(self.w3, self.contracts, self.outbox, self.keystore, keys,
                             WorkerOptions(window=0.1, bump_after=s.fee_bump_after, max_fee=s.max_fee_wei,
                                           crash_at=s.crash_at),
                             bundler=self._bundler, fee_ceiling_reached=self.announcer.fee_ceiling_reached,
                             may_sign=self.lease.may_sign, fence=self.lease.fence)
        # Contract events into member history; order outcomes are told from there.
        self.indexer = Indexer(self.w3, self.contracts, self.sessions)
        self.indexer.subscribe(self.announcer.history_event)
        self._indexer_stop = asyncio.Event()
        self.keeper = Keeper(KeeperDeps(
            sessions=self.sessions, ledger=self.ledger, contracts=self.contracts, core=self.core, w3=self.w3,
            indexer=self.indexer, outbox=self.outbox, announcer=self.announcer))
        self.announcer.after_order_closed(self.keeper.claim_refunds)
        self.scheduler = Scheduler(s.timezone)
        self.scheduler.every(s.keeper_interval, self.keeper.tick, "keeper")
        self.scheduler.every(PRUNE_EVERY, self.prune, "prune")
        self.scheduler.every(RESEND_EVERY, self.telling.resend, "resend untold")
        # History a failed subscriber left untold is told on a later look, not only after a restart.
        self.scheduler.every(RESEND_EVERY, self.announcer.catch_up, "catch up history")
        self.sensors = Sensors(s, self.sessions, self.scheduler, self.announcer.alert)
        self.alerts = self.sensors.alerts
        if background:
            await self.begin()
        return self

    async def begin(self) -> None:
        """Takes the leader lease and leads, or follows until the leader stops renewing it. Transports connect
        first, so outcomes finished while the assistant was down (told again as it starts leading) find their
        channel. On SQLite the lease is taken at once."""
        taken = await self.lease.take()
        if not taken:
            log.info("leader lease held by another replica: following (webhooks answered and intents written "
                     "here; the leader signs them)")
        # Renewed from now on, however long leading takes to start.
        self._tasks.append(asyncio.create_task(self.lease.keep(self._stop, self._lead_soon, self._lost_lease)))
        if taken:
            await self.lead()

    async def _lead_soon(self) -> None:
        """The lease was taken from a leader that stopped: this replica leads, while the lease is renewed."""
        self._tasks.append(asyncio.create_task(self.lead()))

    async def lead(self) -> None:
        """The leader's parts: what was left untold, the outbox worker (the one signer), the indexer, the
        sensors and the schedule."""
        self.leading = True
        for start in self._on_lead:
            start()
        await self.telling.resend(all_untold=True)  # what a crash or an outage left untold
        await self.announcer.catch_up()  # history recorded but not told before a crash
        await offers.resume_confirmed(self.core.uow)
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop)))
        self._indexing = asyncio.create_task(self.indexer.run(self._indexer_stop, interval=0.5))
        self._tasks.append(self._indexing)
        await self.sensors.start()
        if not self._stop.is_set():  # a replica stopping as it took the lead starts no schedule
            self.scheduler.start()

    def when_leading(self, start: Callable[[], None]) -> None:
        """Runs `start` now if this replica leads, else once it takes the lead: for what only one replica may do
        (Telegram's long polling, where replicas would take turns at getUpdates)."""
        if self.leading:
            start()
        else:
            self._on_lead.append(start)

    async def _lost_lease(self) -> None:
        """Another replica leads now: this one must not sign again, so it stops (a supervisor restarts it as a
        follower)."""
        self.lease_lost.set()

    async def stop(self) -> None:
        self._stop.set()  # first: a replica taking the lead now starts no schedule
        await self.scheduler.stop()
        self._indexer_stop.set()
        while running := [task for task in self._tasks if not task.done()]:  # leading may start more meanwhile
            await asyncio.gather(*running, return_exceptions=True)
        await self.lease.release()  # the worker has stopped: a follower may lead at once
        await self.sensors.stop()
        await self.notifier.stop(drain=True)
        if self._http is not None:
            await self._http.close()
        if self._bundler is not None:
            await self._bundler.close()
        await self.engine.dispose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.close)

    async def settle(self, timeout: float = 120.0) -> None:
        """Before exiting: waits until every intent has its outcome and it was told, and the history is
        followed to the chain's head (what it tells — an order bought — may start more intents: claims). A
        follower leaves that to the leader."""
        if not self.leading:
            return
        await self.scheduler.stop()  # no new keeper steps; one under way has written its intent
        self._indexer_stop.set()  # from here the history is followed here, so nothing is told twice
        await self._indexing  # its current poll finishes, subscribers included
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            async with self.sessions() as session:
                open_ = (await session.execute(select(Intent.id).where(
                    (Intent.state.in_(("pending", "submitted"))) | Intent.notified_at.is_(None)))).first()
            if open_ is None and await self.indexer.poll_once() == 0:
                await self.notifier.drain()
                return
            await asyncio.sleep(0.1)
        log.warning("exiting with intents still open after %s s", timeout)

    async def prune(self) -> None:
        """A prune tick (bot/prune.py), on the schedule."""
        await prune(self.sessions, self.settings.confirm_ttl)

    # ---- Services, for the handlers ----

    async def handle(self, inbound: Inbound) -> list[Reply]:
        return await router.handle(self, inbound)

    async def wallet(self, member_id: str) -> str:
        # An account's address never changes once recorded, so it is read from the database once per process.
        address = self._addresses.get(member_id)
        if address is None:
            address = (await ensure_account(self.sessions, self.keystore, self.contracts, member_id)).address
            self._addresses[member_id] = address
        return address

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def batch(self, requests: list[rpc.Request]) -> list[dict[str, Any]]:
        """Chain reads in one JSON-RPC batch, on this loop's HTTP client when the node speaks HTTP. Batches asked
        for while one is under way go to the node together in the next: one round trip per burst of members,
        and each still reads after it asked."""
        provider = self.w3.provider
        if not isinstance(provider, HTTPProvider):
            return await asyncio.to_thread(rpc.batch, self.w3, requests)
        future = asyncio.get_running_loop().create_future()
        self._batches.append((requests, future))
        if self._batching is None:
            self._batching = asyncio.create_task(self._send_batches(provider.endpoint_uri))
        return await future

    async def _send_batches(self, url: str) -> None:
        asked: list = []
        try:
            while self._batches:
                # Up to MAX_BATCH reads a round trip (nodes cap batches; geth at 1,000, some providers at 100).
                asked, size = [], 0
                while self._batches and (not asked or size + len(self._batches[0][0]) <= MAX_BATCH):
                    asked.append(self._batches.pop(0))
                    size += len(asked[-1][0])
                if self._http is None:
                    self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
                try:
                    responses = await rpc.abatch(self._http, url, [r for requests, _ in asked for r in requests])
                except Exception as e:  # each caller gets the failure, as from its own request
                    for _, future in asked:
                        if not future.done():
                            future.set_exception(e)
                    continue
                start = 0
                for requests, future in asked:
                    if not future.done():
                        future.set_result(responses[start:start + len(requests)])
                    start += len(requests)
        finally:
            for _, future in asked + self._batches:
                future.cancel()  # only those still waiting (a cancelled sender)
            self._batches, self._batching = [], None

    async def push(self, channel: str, reply: Reply) -> None:
        await self.notifier.push(channel, reply)

    def connect(self, channel: str, send: Callable[[Reply], Awaitable[None]], limits: Limits) -> None:
        """A transport's send path for pushed replies, paced by `limits`."""
        self.notifier.connect(channel, send, limits)
        self.channels.add(channel)

    async def _message_done(self, record: int, dropped: str | None, sent_id: str | None) -> None:
        await self.telling.finished(record, dropped, sent_id)

    async def not_delivered(self, channel: str, sent_id: str) -> None:
        """The channel took a message, then reported it undelivered because the member's 24-hour window had
        closed (WhatsApp): it is told again when they write (`wrote`)."""
        await self.telling.hold(channel, sent_id)

    async def wrote(self, channel: str, handle: str) -> None:
        """The member wrote (their window is open): what was held for them is told now."""
        await self.telling.release(channel, handle)

    def unblocked(self, channel: str, handle: str) -> None:
        self.notifier.unblock(channel, handle)

    async def mark_blocked(self, channel: str, to: str) -> None:
        """The member blocked the bot: pushes to them stop until they write again (transports and the
        notifier call this; the mark is in the store, so it outlives a restart)."""
        async with self.sessions() as session, session.begin():
            await session.execute(update(Member).where(Member.channel == channel, Member.handle == to.lstrip("@"))
                                  .values(blocked=True))


__all__ = ["App", "MANIFEST_FILE"]
