"""Telling people what happened, in their own language: how a confirmed action ended (from the outbox),
what became of a group order (from the indexer's history), and of a proposal (new, decided, done: always
with what its actions do) — the group chat hears it too.

Each event's messages are recorded under one key in one transaction and marked told per recipient once
the channel took them (bot/told.py): seeing an event again (a restart, a retried subscriber) tells nothing twice.

When an order closes, each member who joined hears their part; what is theirs to get back is claimed for
them at once by the keeper (bot/keeper.py), which retries it until done.
"""
import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from web3 import Web3
from web3.logs import DISCARD

from bot.identity import identity_key
from bot.logsafe import SHOWN
from bot.settings import Settings
from bot.store import Admin, Announcement, Member, PendingAction, Timing
from bot.told import Telling
from chain.db import HistoryEvent, Intent, SmartAccount, utcnow
from chain.indexer import RolledBack
from chain.deploy import CoopSystem
from chain.ledger import CoopLedger, part_read
from chain.proposal_actions import decode_actions
from chain.transactions import crash_point
from core.claims import CLOSING_EVENTS
from core.governance import DEFEATED, EXECUTED, Proposal, in_history
from core.history import accounts_about
from core.ports import Ports
from core.wallet import balances
from handlers.outcomes import outcome_text
from handlers.proposal_text import actions_text, known_for
from handlers.reasons import reason_text
from locales import Translator, format_clock, format_day, format_gro, format_money, format_number

if TYPE_CHECKING:
    from handlers.base import Reply

Messages = list[tuple[str, "Reply"]]  # (channel, reply)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnouncerDeps:
    """What the Announcer reads and tells through (bot/app.py wires it)."""

    sessions: async_sessionmaker
    telling: Telling
    ledger: CoopLedger
    contracts: CoopSystem
    core: Ports  # for the use cases' reads (balances, proposals)
    w3: Web3  # an opened order's receipt
    settings: Settings  # the time zone, the fee ceiling, crash points in tests
    admins: frozenset[str]  # identities, "channel:id"
    channels: set[str]  # the channels connected so far, each with a group chat (the App's set: it grows)


def public_name(tr: Translator, member: Member, identities: list[Member]) -> str:
    """How `member` is named to another member: their alias on any channel they use (@ana, chosen to be seen);
    without one, never their WhatsApp number (a neighbour would get a stranger's phone): its last digits only,
    as in the logs; nor their Telegram numeric id, which means nothing to a person and finds their account."""
    alias = next((i.alias for i in [member, *identities] if i.alias), None)
    if alias:
        return f"@{alias}"
    if member.channel == "whatsapp":
        return f"•••{member.handle[-SHOWN:]}"
    if member.channel == "telegram":
        return tr.t("Someone on Telegram")  # said at the start of a sentence
    return member.handle  # the console: a name typed by whoever runs it


class Announcer:
    def __init__(self, deps: AnnouncerDeps):
        self.deps = deps
        self._order_closed: list[Callable[[], Awaitable[None]]] = []

    def after_order_closed(self, then: Callable[[], Awaitable[None]]) -> None:
        """`then()` runs after an order's close is told (the keeper claims what it owes members)."""
        self._order_closed.append(then)

    @staticmethod
    def _to(member: Member, text: str) -> Messages:
        from handlers.base import Reply

        return [] if member.blocked else [(member.channel, Reply(member.handle, text))]

    def _group(self, text_of) -> Messages:
        """The group chat of each channel members use, in English (the group's shared language)."""
        from handlers.base import Reply

        return [(channel, Reply("group", text_of(Translator("en")))) for channel in sorted(self.deps.channels)]

    async def _tell(self, event: str, messages: Messages) -> None:
        await self.deps.telling.tell(event, messages)

    # ---- outcomes of confirmed actions ----

    async def intent_finished(self, intent: Intent) -> None:
        """The outbox's subscriber: told once per intent (the outbox calls again after a crash or a failure)."""
        event = f"intent:{intent.id}"
        if await self.deps.telling.told_already(event):
            return
        await self._tell(event, await self._outcome(intent))

    async def _outcome(self, intent: Intent) -> Messages:
        async with self.deps.sessions() as session:
            action = (await session.execute(select(PendingAction).where(
                PendingAction.intent_id == intent.id))).scalar_one_or_none()
            member = await session.get(Member, action.member) if action else None
        opened = intent.kind == "create_order" and intent.state == "confirmed"
        if action is None:  # an order an older version opened without a confirm
            return await self._order_opened(intent) if opened else []
        await self._record_timing(intent.id)
        if opened:
            return await self._order_opened(intent)
        tr = Translator(member.lang or "en")
        if intent.state == "failed" and action.kind == "withdraw":
            return await self._withdrawal_failed(action, member, intent.reason)
        if intent.state == "failed":
            text = tr.t("That did not go through: {reason}", reason=reason_text(tr, intent.reason))
            if action.kind == "close_order" and intent.reason == "order_changed":
                text += " " + tr.t("Send /closeorder {id} again.",
                                   id=format_number(int(action.params["intent"]["order_id"]), tr.lang))
            elif action.kind == "close_order" and intent.reason == "deadline_passed":
                text += " " + tr.t("It is closed by itself now, as every order is at its deadline.")
            return self._to(member, text)
        if action.kind in ("deposit", "certify", "withdraw"):
            return await self._beneficiary(action, member, intent)
        held = await balances(self.deps.core, member.member_id)
        special = outcome_text(tr, action.kind, action.params, held)
        if action.kind == "transfer":
            return self._to(member, special) + await self._recipient(action, member)
        if special is not None:
            return self._to(member, special)
        return self._to(member, tr.t("Done. Your Food-USD balance is now {amount}.",
                                     amount=format_money(held.food_usd, tr.lang)))

    async def _record_timing(self, intent_id: int) -> None:
        async with self.deps.sessions() as session, session.begin():
            row = (await session.execute(select(Timing).where(Timing.intent_id == intent_id))).scalar_one_or_none()
            if row is not None and row.finished_at is None:
                row.finished_at = utcnow()
                row.milliseconds = int((row.finished_at - row.confirmed_at).total_seconds() * 1000)

    async def _beneficiary(self, action: PendingAction, admin: Member, intent: Intent) -> Messages:
        """The `admin` who confirmed a deposit, withdrawal or certification, told what was recorded for whom;
        and the member it was for."""
        async with self.deps.sessions() as session:  # on each channel the resident uses (/link)
            members = list((await session.execute(select(Member).where(
                Member.member_id == action.params["for_member_id"]).order_by(Member.id))).scalars())
        held = await balances(self.deps.core, action.params["for_member_id"])
        fusd, gro = held.food_usd, held.gro
        tr = Translator(admin.lang or "en")
        messages = self._to(admin, await self._recorded(tr, action, intent, members[0].name, fusd))
        for member in members:
            tr = Translator(member.lang or "en")
            amount = format_money(int(action.params["intent"].get("amount", 0)), tr.lang)
            if action.kind == "deposit":
                text = tr.t("A cash deposit of {amount} was recorded for you. Your Food-USD balance is now {balance}.",
                           amount=amount, balance=format_money(fusd, tr.lang))
            elif action.kind == "withdraw":
                text = tr.t("You were paid {amount} in cash from your Food-USD. Your Food-USD balance is now "
                            "{balance}.", amount=amount, balance=format_money(fusd, tr.lang))
            else:
                text = tr.t("Your produce batch {batch} is certified. You now have {gro} GRO.",
                           batch=action.params["intent"]["batch_id"], gro=format_gro(gro, tr.lang))
            messages += self._to(member, text)
        return messages

    async def _recorded(self, tr: Translator, action: PendingAction, intent: Intent, name: str, fusd: int) -> str:
        params = action.params["intent"]
        if action.kind == "withdraw":  # the summary told them to hand the cash over only now
            return tr.t("Recorded: hand {name} {amount} in cash now. They now have {balance} in Food-USD.",
                        name=name, amount=format_money(int(params["amount"]), tr.lang),
                        balance=format_money(fusd, tr.lang))
        if action.kind == "certify":
            gro = action.params.get("gro")  # offers made before it was kept: what the rate gives now
            if gro is None:
                gro = int(params["grams"]) * (await self.deps.core.ledger.certification()).rate_per_kg // 1000
            return tr.t("Recorded: batch {batch}, {kg} kg grown by {name}, earning {gro} GRO.",
                        batch=params["batch_id"], kg=format_number(Decimal(params["grams"]).scaleb(-3), tr.lang),
                        name=name, gro=format_gro(int(gro), tr.lang))
        amount = format_money(int(params["amount"]), tr.lang)
        number = await self._deposit_number(intent)
        if number is None:
            return tr.t("Recorded: {amount} cash from {name}.", amount=amount, name=name)
        return tr.t("Recorded: {amount} cash from {name} (deposit #{number}).", amount=amount, name=name,
                    number=format_number(number, tr.lang))

    async def _deposit_number(self, intent: Intent) -> int | None:
        """The co-op's how-manieth recorded cash deposit this is, in the order they were confirmed."""
        if intent.finished_at is None:
            return None
        async with self.deps.sessions() as session:
            return (await session.execute(select(func.count()).select_from(Intent).where(
                Intent.kind == "deposit", Intent.state == "confirmed",
                or_(Intent.finished_at < intent.finished_at,
                    and_(Intent.finished_at == intent.finished_at, Intent.id <= intent.id))))).scalar_one()

    async def _withdrawal_failed(self, action: PendingAction, admin: Member, reason: str | None) -> Messages:
        """The admin whose cash payout was not recorded: not the member's words (a deposit to ask for) but
        theirs — the member's balance now, and not to pay."""
        async with self.deps.sessions() as session:
            member = (await session.execute(select(Member).where(
                Member.member_id == action.params["for_member_id"]).order_by(Member.id).limit(1))).scalar_one()
        held = await balances(self.deps.core, member.member_id)
        tr = Translator(admin.lang or "en")
        text = tr.t("The cash payout of {amount} to {name} was not recorded, so do not pay the cash. {name} has "
                    "{balance} in Food-USD now.", name=member.name, balance=format_money(held.food_usd, tr.lang),
                    amount=format_money(int(action.params["intent"]["amount"]), tr.lang))
        if reason not in ("insufficient_funds", None):  # the balance explains a shortfall; other reasons are told
            text += " " + reason_text(tr, reason)
        return self._to(admin, text)

    async def _recipient(self, action: PendingAction, sender: Member) -> Messages:
        """Whom a member's /send went to, on each channel they use. Told here, in the sender's outcome event
        (`intent:ID`), rather than from an indexed Transfer: it is recorded in one transaction with the sender's
        message, so both are told exactly once, and only once the chain has done it (the outbox retries the
        outcome until told). FoodUSD transfers are not indexed at all (chain/indexer.py says why)."""
        recipient = action.params["recipient"]
        async with self.deps.sessions() as session:
            members = list((await session.execute(select(Member).where(Member.member_id == recipient))).scalars())
            senders = list((await session.execute(select(Member).where(
                Member.member_id == sender.member_id).order_by(Member.id))).scalars())
        fusd = (await balances(self.deps.core, recipient)).food_usd
        messages = []
        for member in members:
            tr = Translator(member.lang or "en")
            messages += self._to(member, tr.t("{name} sent you {amount}. Your Food-USD balance is now {balance}.",
                                              name=public_name(tr, sender, senders),
                                              balance=format_money(fusd, tr.lang),
                                              amount=format_money(int(action.params["intent"]["amount"]), tr.lang)))
        return messages

    async def _order_opened(self, intent: Intent) -> Messages:
        """The admin who opened an order and the group hear its number."""
        deps = self.deps
        receipt = await asyncio.to_thread(deps.w3.eth.get_transaction_receipt, intent.tx_hash)
        created = deps.contracts.group_buy.events.OrderCreated().process_receipt(receipt, errors=DISCARD)
        if not created:
            return []
        order_id, who = created[0]["args"]["orderId"], intent.params["announce"]
        price = int(intent.params["unit_price"])

        def text(tr: Translator) -> str:
            return tr.t("Order #{id} is open: {product}, {price} each. Members join with /join {id} UNITS.",
                       id=format_number(order_id, tr.lang), product=who["product"], price=format_money(price, tr.lang))

        async with deps.sessions() as session:
            admin = (await session.execute(select(Member).where(
                Member.channel == who["channel"], Member.handle == who["to"].lstrip("@")))).scalar_one_or_none()
        told = self._to(admin, text(Translator(admin.lang or "en"))) if admin is not None else []
        return told + self._group(text)

    # ---- what became of an order ----

    @staticmethod
    def _event_key(event: HistoryEvent) -> str | None:
        """The key a history event is told under, if it is told."""
        if event.contract == "governor" and event.event == "ProposalCreated":
            return f"proposal:{int(event.args['proposalId'])}:created"
        if event.contract == "group_buy" and event.event in CLOSING_EVENTS:
            return f"order:{int(event.args['orderId'])}:closed"
        return None

    async def catch_up(self) -> None:
        """At start-up, then on a schedule: history the indexer recorded but that was not told (a crash between
        the two, or a subscriber that failed) is told now, once."""
        async with self.deps.sessions() as session:
            events = list((await session.execute(select(HistoryEvent).where(
                ((HistoryEvent.contract == "group_buy") & HistoryEvent.event.in_(CLOSING_EVENTS))
                | ((HistoryEvent.contract == "governor") & (HistoryEvent.event == "ProposalCreated")))
                .order_by(HistoryEvent.id))).scalars())
            told = set((await session.execute(select(Announcement.key).where(
                Announcement.key.like("order:%") | Announcement.key.like("proposal:%")))).scalars())
        for event in events:
            if self._event_key(event) not in told:
                try:
                    await self.history_event(event)
                except Exception:  # the node is away: the next start tries again
                    log.exception("catching up history event failed: %s %s", event.event, event.tx_hash)

    async def history_event(self, event) -> None:
        if isinstance(event, RolledBack):
            log.warning("history event rolled back by a reorg: %s %s", event.event.event, event.event.tx_hash)
            return
        key = self._event_key(event)
        if key is None or await self.deps.telling.told_already(key):
            return
        if event.contract == "governor":
            await self._proposal_created(int(event.args["proposalId"]), key)
            return
        order_id = int(event.args["orderId"])
        crash_point(self.deps.settings.crash_at, "before_order_told")  # tests: the history kept, not told
        order = await self.deps.ledger.order(order_id)
        async with self.deps.sessions() as session:  # indexed with the close, in the same transaction
            early = (await session.execute(select(HistoryEvent.id).where(
                HistoryEvent.tx_hash == event.tx_hash, HistoryEvent.contract == "group_buy",
                HistoryEvent.event == "ClosedEarly").limit(1))).scalar_one_or_none() is not None
        # Refunded at the deadline although its whole cases reached the minimum: it was not closed in time.
        stale = event.event == "OrderRefunded" and order.buys >= order.min_units and not early
        messages = self._group(lambda tr: self._order_closed_text(tr, event, order_id, stale, early))
        joined = await self._joined(order_id)
        # From each member's part (one batch), not claimable: told late (a catch-up), a refund may be claimed already.
        reads = [part_read(self.deps.contracts, order_id, account) for _, account in joined]
        parts = await self.deps.ledger.read(*reads) if reads else []
        for (member, _), part in zip(joined, parts):
            units, refund = astuple(order.outcome_for(part))
            tr = Translator(member.lang or "en")
            if event.event == "OrderExecuted":
                text = tr.tn("Order #{id} was bought: {count} unit is yours.",
                            "Order #{id} was bought: {count} units are yours.", units,
                            id=format_number(order_id, tr.lang), count=format_number(units, tr.lang))
            else:
                text = tr.t("Order #{id} did not go ahead.", id=format_number(order_id, tr.lang))
            if refund:
                text += " " + tr.t("{amount} comes back to your Food-USD.", amount=format_money(refund, tr.lang))
            messages += self._to(member, text)
        await self._tell(key, messages)
        for then in self._order_closed:  # the keeper claims refunds at once, not at its next look
            await then()

    @staticmethod
    def _order_closed_text(tr: Translator, event: HistoryEvent, order_id: int, stale: bool, early: bool) -> str:
        number = format_number(order_id, tr.lang)
        if event.event == "OrderExecuted" and early:
            bought = int(event.args["boughtUnits"])
            return tr.tn("Order #{id} was closed early by an admin and bought: {count} unit.",
                         "Order #{id} was closed early by an admin and bought: {count} units.", bought, id=number,
                         count=format_number(bought, tr.lang))
        if event.event == "OrderRefunded" and early:
            return tr.t("Order #{id} was closed early by an admin below its minimum; everyone gets their Food-USD "
                        "back.", id=number)
        if event.event == "OrderExecuted":
            bought = int(event.args["boughtUnits"])
            return tr.tn("Order #{id} reached its goal and was bought: {count} unit.",
                         "Order #{id} reached its goal and was bought: {count} units.", bought, id=number,
                         count=format_number(bought, tr.lang))
        if event.event == "OrderRefunded" and stale:
            return tr.t("Order #{id} could not be closed in time; everyone gets their Food-USD back.", id=number)
        if event.event == "OrderRefunded":
            return tr.t("Order #{id} did not reach its minimum; everyone gets their Food-USD back.", id=number)
        return tr.t("Order #{id} was cancelled; everyone gets their Food-USD back.", id=number)

    async def _joined(self, order_id: int) -> list[tuple[Member, str]]:
        """The members who joined `order_id`, with their accounts."""
        return await self._members_of("group_buy", ("Joined",), "orderId", order_id)

    async def _members_of(self, contract: str, events: tuple[str, ...], arg: str, value: int
                          ) -> list[tuple[Member, str]]:
        """The members (with their accounts) whose accounts emitted one of `events` about `value`."""
        accounts = {account for account, _ in await accounts_about(self.deps.core.uow, contract, events, arg, value)}
        async with self.deps.sessions() as session:
            rows = (await session.execute(
                select(Member, SmartAccount.address).join(SmartAccount, SmartAccount.member_id == Member.member_id)
                .where(SmartAccount.address.in_(accounts)))).all()
        return [(member, address) for member, address in rows]

    # ---- what became of a proposal (the keeper reports it, bot/keeper.py) ----

    async def _actions_of(self, proposal: Proposal, stoppable: bool = True):
        """A function of a translator: what the proposal's actions do, in that language. `stoppable`: the
        guardian can still cancel it (not once it is decided against or done)."""
        actions = decode_actions(self.deps.contracts, *proposal.actions)
        known = await known_for(self.deps, actions)
        return lambda tr: actions_text(tr, actions, known, stoppable)

    async def _proposal_created(self, proposal_id: int, key: str) -> None:
        """Once: the group hears of a new proposal, with what it would do."""
        proposal = next((p for p in await in_history(self.deps.core.uow) if p.proposal_id == proposal_id), None)
        if proposal is None:
            return
        actions = await self._actions_of(proposal)

        def text(tr: Translator) -> str:
            number = format_number(proposal.number, tr.lang)
            return "\n".join([
                tr.t("New proposal #{number} “{title}”. If it passes:", number=number, title=proposal.title),
                actions(tr),
                tr.t("Send /proposals to see when voting opens, then /vote {number} to vote.", number=number)])

        await self._tell(key, self._group(text))

    async def proposal_result(self, proposal: Proposal, state: int, tally: tuple[int, int, int],
                              queueable_at: int | None = None) -> None:
        """Once, when a proposal's vote has ended: the group and every member who voted hear the result.
        `queueable_at`: a passed proposal that waits for the guardian window can take effect from then on."""
        key = f"proposal:{proposal.proposal_id}:result"
        if await self.deps.telling.told_already(key):
            return
        against, for_, abstain = tally
        actions = await self._actions_of(proposal, stoppable=state != DEFEATED)
        zone = ZoneInfo(self.deps.settings.timezone)
        earliest = None  # the guardian's window, then the timelock's delay
        if queueable_at is not None:
            earliest = queueable_at + (await self.deps.ledger.governor_terms()).timelock_delay

        def text(tr: Translator) -> str:
            return result(tr) + "\n" + actions(tr)

        def result(tr: Translator) -> str:
            fields = dict(number=format_number(proposal.number, tr.lang), title=proposal.title,
                          yes=format_number(for_, tr.lang), no=format_number(against, tr.lang),
                          abstain=format_number(abstain, tr.lang))
            if state == DEFEATED:
                return tr.t("Proposal #{number} “{title}” did not pass. Yes {yes} · No {no} · Abstain {abstain}.",
                            **fields)
            if state == EXECUTED:  # first seen already done (its "has taken effect" follows)
                return tr.t("Proposal #{number} “{title}” passed. Yes {yes} · No {no} · Abstain {abstain}.", **fields)
            if earliest is not None:
                moment = datetime.fromtimestamp(earliest, zone)
                return tr.t("Proposal #{number} “{title}” passed. Yes {yes} · No {no} · Abstain {abstain}. It takes "
                            "effect on {day} at {time} at the earliest; until then the co-op's board (its guardian) "
                            "can still stop it.", day=format_day(moment, tr.lang), time=format_clock(moment, tr.lang),
                            **fields)
            return tr.t("Proposal #{number} “{title}” passed. Yes {yes} · No {no} · Abstain {abstain}. It takes "
                        "effect after the waiting time.", **fields)

        await self._tell(key, self._group(text) + await self._voters(proposal, text))

    async def keeper_gave_up(self, key: str, kind: str, number: int, attempts: int, reason: str | None,
                             member_id: str | None = None) -> None:
        """Once: the admins hear that something the co-op does by itself could not be done (`member_id`:
        the member a claim or a registration was for)."""
        member = None
        if member_id is not None:
            async with self.deps.sessions() as session:
                member = (await session.execute(select(Member).where(Member.member_id == member_id)
                                                .order_by(Member.id).limit(1))).scalar_one_or_none()

        def text(tr: Translator) -> str:
            fields = dict(number=format_number(number, tr.lang), count=format_number(attempts, tr.lang),
                          reason=reason_text(tr, reason))
            who = (member.alias or member.handle) if member else member_id
            if kind == "claim_for":
                return tr.tn("What order #{number} owes {member} could not be given back by itself: the chain "
                             "refused it {count} time ({reason}). The money stays safe in the order; they can "
                             "send /claim, or ask the developers to look.",
                             "What order #{number} owes {member} could not be given back by itself: the chain "
                             "refused it {count} times ({reason}). The money stays safe in the order; they can "
                             "send /claim, or ask the developers to look.", attempts, member=who, **fields)
            if kind == "register":
                return tr.tn("{member} could not be registered on the chain by itself: the chain refused it {count} "
                             "time ({reason}). Until it is done they cannot vote; please ask the developers to look.",
                             "{member} could not be registered on the chain by itself: the chain refused it {count} "
                             "times ({reason}). Until it is done they cannot vote; please ask the developers to look.",
                             attempts, member=who, **fields)
            if kind == "finalize":
                return tr.tn("Order #{number} could not be closed by itself: the chain refused it {count} time "
                             "({reason}). The money stays safe in the order; please ask the developers to look.",
                             "Order #{number} could not be closed by itself: the chain refused it {count} times "
                             "({reason}). The money stays safe in the order; please ask the developers to look.",
                             attempts, **fields)
            return tr.tn("Proposal #{number} could not be carried out by itself: the chain refused it {count} "
                         "time ({reason}). Please ask the developers to look.",
                         "Proposal #{number} could not be carried out by itself: the chain refused it {count} "
                         "times ({reason}). Please ask the developers to look.", attempts, **fields)

        await self.tell_admins_once(f"gave-up:{key}", text)

    async def fee_ceiling_reached(self, sender: str, nonce: int, max_fee: int) -> None:
        """Once per transaction of the co-op's accounts (`sender`, one per role) left waiting at the fee ceiling
        (chain/transactions.py): the admins hear why the co-op's actions are slow, and what would change it."""
        def text(tr: Translator) -> str:
            return tr.t("The co-op's actions are waiting: the network's fees are above the most the co-op pays "
                        "({fee} gwei a unit of gas, the setting COOP_MAX_FEE_GWEI), so I stopped raising my offer. "
                        "They go through by themselves when fees fall, and members' money stays safe meanwhile. To "
                        "pay more now, raise COOP_MAX_FEE_GWEI and restart me.",
                        fee=format_number(self.deps.settings.max_fee_gwei, tr.lang))

        await self.tell_admins_once(f"fee-ceiling:{sender}:{nonce}", text)

    async def tell_admins_once(self, key: str, text_of) -> None:
        """Once per `key`, in any process (bot_announcements): every admin hears `text_of(their translator)`."""
        if await self.deps.telling.told_already(key):
            return
        async with self.deps.sessions() as session:
            listed = select(Member).where(Member.handle.in_({a.split(":", 1)[1] for a in self.deps.admins}))
            added = select(Member).join(Admin, (Admin.channel == Member.channel) & (Admin.handle == Member.handle))
            admins = {m.id: m for m in (await session.execute(listed)).scalars()
                      if identity_key(m.channel, m.handle) in self.deps.admins}
            admins |= {m.id: m for m in (await session.execute(added)).scalars()}
        await self._tell(key, [m for member in admins.values()
                               for m in self._to(member, text_of(Translator(member.lang or "en")))])

    async def proposal_executed(self, proposal: Proposal) -> None:
        key = f"proposal:{proposal.proposal_id}:executed"
        if await self.deps.telling.told_already(key):
            return
        actions = await self._actions_of(proposal, stoppable=False)

        def text(tr: Translator) -> str:
            return tr.t("Proposal #{number} “{title}” has taken effect.",
                        number=format_number(proposal.number, tr.lang), title=proposal.title) + "\n" + actions(tr)

        await self._tell(key, self._group(text) + await self._voters(proposal, text))

    async def _voters(self, proposal, text_of) -> Messages:
        """Members who voted, in their language (WhatsApp has no group chat: this is how they hear it)."""
        voters = await self._members_of("governor", ("VoteCast", "VoteCastWithParams"), "proposalId",
                                        proposal.proposal_id)
        return [m for member, _ in voters for m in self._to(member, text_of(Translator(member.lang or "en")))]

    # ---- sensor alerts (iot/alerts.py decides when) ----

    async def alert(self, notice) -> None:
        """Members who subscribed (/alerts on) hear it in their language; the group hears criticals."""
        from handlers.alerts import notice_text
        from iot.rules import CRITICAL

        zone, now = ZoneInfo(self.deps.settings.timezone), time.time()
        async with self.deps.sessions() as session:
            members = list((await session.execute(select(Member).where(
                Member.alerts.is_(True), Member.blocked.is_(False)))).scalars())
        messages = [m for member in members for m in self._to(member, notice_text(Translator(member.lang or "en"),
                                                                                  notice, zone, now))]
        if notice.severity == CRITICAL:
            messages += self._group(lambda tr: notice_text(tr, notice, zone, now))
        # A notice is one event: its site, device, reading, kind and moment name it, and those of the notices
        # it carries (boards gone offline together, a summary); hashed: names may be long.
        name = "\0".join(f"{n.site}\0{n.device}\0{n.key}\0{n.kind}\0{n.at!r}" for n in (notice, *notice.held))
        await self._tell(f"alert:{hashlib.sha256(name.encode()).hexdigest()[:40]}", messages)
