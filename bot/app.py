"""The composition root: builds every part from the settings and runs them together.

On the embedded defaults (no COOP_CHAIN_RPC_URL) the chain is anvil with its state in the data dir,
the database SQLite there, and the custodial keys' master key a generated file there. The outbox worker
runs in this process; outcomes of members' actions are pushed to them through the channel's sink.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from web3 import Web3
from web3.logs import DISCARD

from bot import store
from bot.settings import Settings
from bot.store import Member, PendingAction, Timing
from chain import db as chain_db
from chain.accounts import ensure_account
from chain.db import Intent, create_engine, sessionmaker, utcnow
from chain.deploy import load_manifest
from chain.keystore import Keystore, dev_master_key
from chain.outbox import Outbox, Worker, WorkerOptions
from handlers import confirm, router
from handlers.base import Inbound, Reply
from handlers.reasons import reason_text
from handlers.wallet import balances
from locales import Translator, format_money, format_number

log = logging.getLogger(__name__)

Sink = Callable[[Reply], Awaitable[None]]
MANIFEST_FILE = "chain-manifest.json"


class App:
    """Everything the running assistant is made of; `Services` for the handlers."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.admins = settings.admins
        self.sinks: dict[str, Sink] = {}  # channel -> where its pushed replies go
        self._embedded = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # ---- start and stop ----

    async def start(self) -> "App":
        s = self.settings
        s.require_production_secrets()
        s.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(chain_db.migrate, s.database_url)
        await asyncio.to_thread(store.migrate, s.database_url)
        self.engine = create_engine(s.database_url)
        self.sessions = sessionmaker(self.engine)
        if s.embedded:
            from chain.embedded import start_embedded

            self._embedded = await asyncio.to_thread(start_embedded, s.data_dir / "chain")
            self.w3, self.contracts, operator = self._embedded.w3, self._embedded.contracts, self._embedded.operator
            master_key = s.master_key or dev_master_key(s.data_dir)
        else:
            from eth_account import Account

            self.w3 = Web3(Web3.HTTPProvider(s.chain_rpc_url, request_kwargs={"timeout": 30}))
            self.contracts = await asyncio.to_thread(load_manifest, self.w3, s.data_dir / MANIFEST_FILE)
            operator, master_key = Account.from_key(s.operator_key), s.master_key
        self.operator_address = operator.address
        self.keystore = Keystore(self.sessions, master_key)
        await self.keystore.open()
        self.outbox = Outbox(self.sessions)
        self.outbox.subscribe(self._tell_outcome)
        self.worker = Worker(self.w3, self.contracts, self.outbox, self.keystore, operator, WorkerOptions(window=0.1))
        await confirm.resume_confirmed(self.sessions, self.outbox)
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop)))
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.engine.dispose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.close)

    async def settle(self, timeout: float = 120.0) -> None:
        """Waits until every intent has its outcome and every outcome was told (before exiting)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            async with self.sessions() as session:
                open_ = (await session.execute(select(Intent.id).where(
                    (Intent.state.in_(("pending", "submitted"))) | Intent.notified_at.is_(None)))).first()
            if open_ is None:
                return
            await asyncio.sleep(0.1)
        log.warning("exiting with intents still open after %s s", timeout)

    # ---- Services, for the handlers ----

    async def handle(self, inbound: Inbound) -> list[Reply]:
        return await router.handle(self, inbound)

    async def wallet(self, member_id: str) -> str:
        return (await ensure_account(self.sessions, self.keystore, self.contracts, member_id)).address

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def push(self, channel: str, reply: Reply) -> None:
        sink = self.sinks.get(channel)
        if sink is None:
            log.warning("no %s transport to push to %s", channel, reply.to)
            return
        await sink(reply)

    # ---- outcomes ----

    async def _tell_outcome(self, intent: Intent) -> None:
        """Tells the member who confirmed an action how it ended, in their language (and the member a
        deposit was for)."""
        async with self.sessions() as session:
            action = (await session.execute(select(PendingAction).where(
                PendingAction.intent_id == intent.id))).scalar_one_or_none()
            if action is None:
                if intent.kind == "create_order" and intent.state == "confirmed":
                    await self._announce_order(intent)
                return
            member = await session.get(Member, action.member)
            timing = (await session.execute(select(Timing).where(Timing.intent_id == intent.id))).scalar_one_or_none()
        if timing is not None:
            async with self.sessions() as session, session.begin():
                row = await session.get(Timing, timing.id)
                row.finished_at = utcnow()
                row.milliseconds = int((row.finished_at - row.confirmed_at).total_seconds() * 1000)
        translator = Translator(member.lang or "en")
        if intent.state == "failed":
            text = translator.t("That did not go through: {reason}", reason=reason_text(translator, intent.reason))
            await self.push(member.channel, Reply(member.handle, text))
            return
        fusd, _, _ = await balances(self, member.member_id)
        text = translator.t("Done. Your Food-USD balance is now {amount}.", amount=format_money(fusd, translator.lang))
        if action.kind == "deposit":
            await self._tell_depositee(action, intent)
            text = translator.t("Done. The deposit is recorded.")
        await self.push(member.channel, Reply(member.handle, text))

    async def _announce_order(self, intent: Intent) -> None:
        """A new order is open: the admin who opened it and the group hear its number."""
        receipt = await self.read(self.w3.eth.get_transaction_receipt, intent.tx_hash)
        created = self.contracts.group_buy.events.OrderCreated().process_receipt(receipt, errors=DISCARD)
        if not created:
            return
        order_id = created[0]["args"]["orderId"]
        who, params = intent.params["announce"], intent.params
        async with self.sessions() as session:
            admin = (await session.execute(select(Member).where(
                Member.channel == who["channel"], Member.handle == who["to"].lstrip("@")))).scalar_one_or_none()
        translator = Translator(admin.lang if admin and admin.lang else "en")
        text = translator.t("Order #{id} is open: {product}, {price} each. Members join with /join {id} UNITS.",
                            id=format_number(order_id, translator.lang), product=who["product"],
                            price=format_money(int(params["unit_price"]), translator.lang))
        await self.push(who["channel"], Reply(who["to"], text))
        await self.push(who["channel"], Reply("group", Translator("en").t(
            "Order #{id} is open: {product}, {price} each. Members join with /join {id} UNITS.",
            id=str(order_id), product=who["product"], price=format_money(int(params["unit_price"]), "en"))))

    async def _tell_depositee(self, action: PendingAction, intent: Intent) -> None:
        async with self.sessions() as session:
            member = (await session.execute(select(Member).where(
                Member.member_id == action.params["for_member_id"]))).scalar_one()
        translator = Translator(member.lang or "en")
        fusd, _, _ = await balances(self, member.member_id)
        await self.push(member.channel, Reply(member.handle, translator.t(
            "A cash deposit of {amount} was recorded for you. Your Food-USD balance is now {balance}.",
            amount=format_money(int(action.params["intent"]["amount"]), translator.lang),
            balance=format_money(fusd, translator.lang))))


__all__ = ["App", "MANIFEST_FILE"]
