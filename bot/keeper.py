"""Keepers: what the co-op does by itself once time passes (run on a schedule, bot/scheduler.py).

- An open order past its deadline is finalized: bought when its whole cases reach the minimum, else
  refunded. One still open two weeks after its deadline (GroupBuy.STALE_AFTER) is refunded. The indexer
  then tells the group and each member who joined (bot/announce.py).
- A member whose registration on chain was never written (a crash, in older versions), or was refused by
  the chain, is registered: retried until done, the admins told if the chain keeps refusing (a refusal
  because they are registered already counts as done).
- What a closed order owes a member (a refund) is claimed for them, from the history (core/claims.py):
  retried until done, the admins told if the chain keeps refusing.
- A proposal whose vote has ended is announced to the group once, passed or not, with the tallies; a
  passed one is queued in the timelock and, once the timelock's delay is over, executed; the group hears
  when it took effect. A passed proposal with a privileged or unknown action (chain/proposal_actions.py)
  is queued only once the governor's guardian window after its deadline is over: until then the
  governor refuses it, so the keeper waits quietly instead of spending attempts on it.

Each step on chain is an operator intent keyed by order or proposal and attempt, so two processes or a
restart never do it twice. An attempt the chain refuses (a node whose clock is not yet past the
deadline) fails without being sent and is tried again on a later tick, a few times at most.
"""
import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from web3 import Web3

from bot.announce import Announcer
from bot.store import Member
from chain.db import Intent, SmartAccount
from chain.deploy import CoopSystem
from chain.indexer import Indexer
from chain.intents import REASONS
from chain.ledger import CoopLedger, Order, OrderStatus
from chain.outbox import Outbox
from chain.proposal_actions import decode_actions, waits_for_guardian
from core import orders
from core.claims import claims_under_way, refund, unclaimed
from core.governance import CANCELED, DEFEATED, EXECUTED, QUEUED, SUCCEEDED, in_history
from core.ports import Ports

log = logging.getLogger(__name__)

GRACE = 30  # seconds past a deadline before acting: a real chain's next block may lag the wall clock
ATTEMPTS = 5  # per step; a step refused this often is left to the admins (they are told)
FINISHED = (DEFEATED, CANCELED, EXECUTED)  # (a timelocked governor's proposals never expire)
ALREADY_MEMBER = REASONS["AlreadyMember"]  # a registration refused with it is done


@dataclass(frozen=True)
class KeeperDeps:
    """What the keeper reads and acts through (bot/app.py wires it)."""

    sessions: async_sessionmaker
    ledger: CoopLedger
    contracts: CoopSystem
    core: Ports  # the use cases' reads (claims, proposals) and members' accounts (made on first use)
    w3: Web3  # the latest block: the chain's clock
    indexer: Indexer  # how far the history has followed the chain
    outbox: Outbox  # each step is an intent
    announcer: Announcer  # proposals' results, and what the keeper gave up on


class Keeper:
    def __init__(self, deps: KeeperDeps):
        self.deps = deps
        self._closed: set[int] = set()  # order ids known not to be open (they never reopen)
        self._finished: set[int] = set()  # proposals announced in a final state
        self._given_up: set[str] = set()
        self._nothing_owed: set[tuple[int, str]] = set()  # (order, account): a closed order owes them nothing
        self._stale: int | None = None  # seconds past a deadline after which anyone may refund an open order
        self._guardian_window: int | None = None  # the governor's (immutable), read once

    async def tick(self) -> None:
        latest = await asyncio.to_thread(self.deps.w3.eth.get_block, "latest")
        # The later of the chain's clock and the wall clock: a dev chain may run ahead, and an idle one
        # mines no blocks (its next block still takes the wall clock's time).
        now = max(int(latest["timestamp"]), int(time.time()))
        await self.register_missing()
        await self.finalize_orders(now)
        if await self.deps.indexer.reached(latest["number"]):  # so a result reaches every member who voted
            await self.advance_proposals(now, latest["number"])
            await self.claim_refunds()

    # ---- members ----

    async def register_missing(self) -> None:
        """A member with no registration done or under way is registered now, so every member can vote: one
        whose registration was never written (a crash between writes, from before /start was one transaction),
        or one the chain refused (retried like any step, then left to the admins)."""
        # A registration the chain refused because the member is registered already (an earlier attempt that went
        # through after all, an older version's) is done, not one to retry or to tell the admins about.
        alive = select(Intent.id).where(Intent.kind == "register", Intent.member_id == Member.member_id,
                                        or_(Intent.state != "failed", Intent.reason == ALREADY_MEMBER))
        async with self.deps.sessions() as session:
            missing = list((await session.scalars(select(Member.member_id).where(~alive.exists()).distinct())))
        for member_id in missing:
            try:
                await self.deps.core.wallet(member_id)  # one whose registration was never written may lack an account
                # Attempts are keyed register:ID:n, apart from the one /start wrote (register:ID).
                if await self._step(f"register:{member_id}", "register", {"resident_id": member_id}, 0, member_id):
                    log.warning("member %s is not registered: registering them now", member_id)
            except Exception:  # noqa: BLE001 - one member's trouble must not stop the keepers' other work
                log.exception("registering member %s failed; trying again on a later tick", member_id)

    # ---- orders ----

    async def finalize_orders(self, now: int) -> None:
        ledger = self.deps.ledger
        count = await ledger.order_count()
        unknown = [order_id for order_id in range(1, count + 1) if order_id not in self._closed]
        for order in await ledger.orders(unknown):
            order_id = order.id
            if order.status != OrderStatus.OPEN:
                self._closed.add(order_id)
            elif now > order.deadline + await self._stale_after() + GRACE:
                # Still open two weeks on (finalizing kept failing, or the co-op was down): its members'
                # way out is a refund, which anyone may ask for then.
                await self._step(f"refund_stale:{order_id}", "refund_stale", {"order_id": order_id}, order_id)
            elif now > order.deadline + GRACE:
                await self._finalize(order_id, order)

    async def _stale_after(self) -> int:
        if self._stale is None:  # GroupBuy's constant
            self._stale = await self.deps.ledger.stale_after()
        return self._stale

    async def _finalize(self, order_id: int, order: Order) -> None:
        params: dict = {"order_id": order_id}
        bought = order.buys
        if bought >= order.min_units and bought != order.units:
            # Units are shared out first come, first served: the contract needs the members in join order.
            join_order = await orders.join_order(self.deps.core, order_id)
            if len(join_order) != order.members:
                return  # the history has not caught up with every join yet
            params["join_order"] = join_order
        await self._step(f"finalize:{order_id}", "finalize", params, order_id)

    # ---- what closed orders owe members ----

    async def claim_refunds(self) -> None:
        """Every member's refund from a closed order is claimed for them (GroupBuy refunds are pulled, and
        residents should not have to ask): from the history, so an order's close missed by a crash, or a
        claim that failed, is still done."""
        under_way = await claims_under_way(self.deps.core.uow)
        for order_id, account in await unclaimed(self.deps.core.uow):
            if (order_id, account) in self._nothing_owed:
                continue
            async with self.deps.sessions() as session:
                member_id = await session.scalar(select(SmartAccount.member_id).where(SmartAccount.address == account))
            key = f"claim:{order_id}:{member_id}"
            if member_id is None or (order_id, member_id) in under_way or key in self._given_up:
                continue
            if not await refund(self.deps.ledger, order_id, account):  # all their units were bought: nothing comes back
                self._nothing_owed.add((order_id, account))
                continue
            await self._step(key, "claim_for", {"order_id": order_id}, order_id, member_id)

    # ---- proposals ----

    async def advance_proposals(self, now: int, block: int) -> None:
        """Proposals as of `block`, up to which the history (its votes) has been followed."""
        for proposal in await in_history(self.deps.core.uow):
            if proposal.proposal_id in self._finished:
                continue
            status = await self.deps.ledger.proposal(proposal.proposal_id, block=block)
            state = status.state
            queueable_at = await self._queueable_at(proposal) if state == SUCCEEDED else None
            if state in (SUCCEEDED, QUEUED, EXECUTED, DEFEATED):
                await self.deps.announcer.proposal_result(proposal, state, status.tally, queueable_at)
            action = self._action(proposal)
            if state == SUCCEEDED and (queueable_at is None or now >= queueable_at + GRACE):
                await self._step(f"queue:{proposal.proposal_id}", "queue", action, proposal.number)
            elif state == QUEUED and now >= status.eta + GRACE:
                await self._step(f"execute:{proposal.proposal_id}", "execute", action, proposal.number)
            elif state == EXECUTED:
                await self.deps.announcer.proposal_executed(proposal)
            if state in FINISHED:
                self._finished.add(proposal.proposal_id)

    async def _queueable_at(self, proposal) -> int | None:
        """When a proposal that must wait for the guardian window can be queued; None when it need not wait."""
        if not waits_for_guardian(decode_actions(self.deps.contracts, *proposal.actions)):
            return None
        if self._guardian_window is None:
            self._guardian_window = (await self.deps.ledger.governor_terms()).guardian_window
        return (await self.deps.ledger.proposal(proposal.proposal_id)).deadline + self._guardian_window

    @staticmethod
    def _action(proposal) -> dict:
        args = proposal.created
        return {"targets": args["targets"], "values": args["values"], "calldatas": args["calldatas"],
                "description": args["description"]}

    # ---- one step on chain ----

    async def _step(self, key: str, kind: str, params: dict, number: int, member_id: str | None = None) -> bool:
        """Submits attempt n of a step unless one is under way or done; refused attempts are retried, and
        when the chain has refused it ATTEMPTS times the admins are told (`number`: the order's or the
        proposal's, as members know it; `member_id`: the member a claim or a registration is for). True when
        it submitted an attempt."""
        async with self.deps.sessions() as session:
            tried = (await session.execute(select(Intent.state, Intent.reason).where(
                Intent.idempotency_key.like(f"{key}:%")).order_by(Intent.id))).all()
        if any(state != "failed" for state, _ in tried):
            return False  # under way, or done
        if len(tried) < ATTEMPTS:
            await self.deps.outbox.submit(f"{key}:{len(tried) + 1}", member_id, kind, params)
            return True
        if key not in self._given_up:
            self._given_up.add(key)
            log.error("keeper gave up on %s after %d refused attempts (last: %s)", key, ATTEMPTS, tried[-1][1])
            await self.deps.announcer.keeper_gave_up(key, kind, number, ATTEMPTS, tried[-1][1], member_id)
        return False
