"""Offers: a money-moving action recorded with its parameters, waiting for the member's confirm or cancel.

The first answer wins, decided by one conditional UPDATE (offered → confirmed | cancelled): a second confirm,
a retried webhook or a confirm after cancel changes nothing and says so. The confirm and the chain intent
(whose idempotency key is the offer's token) are written in one transaction: a confirmed offer always has its
intent, and the intent is never written twice. An offer lasts `ttl` seconds; answered later, it expires. An offer
an admin made is done only if the one answering is still an admin. An offer made with `confirm_with` is confirmed
only by typing those characters (an irreversible hand-over: the member checks the address against their wallet).

What a confirmed offer will take from the member (`spends`) counts against their balance until the chain has done
it (`on_its_way`): a second summary made meanwhile says what is really left.
"""
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import Member, PendingAction, Timing
from chain.db import Intent
from chain.intents import OPERATOR_KINDS
from chain.outbox import Outbox
from core.ports import Clock, UnitOfWork, utc


class Answer(StrEnum):
    """What answering an offer did."""

    CONFIRMED = "confirmed"  # its intent is written: the outcome is told when the chain has done it
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # no such offer, or not this member's
    EXPIRED = "expired"
    ADMINS_ONLY = "admins_only"  # an admin's offer, and the one confirming is no admin (any more)
    ALREADY_CONFIRMED = "already_confirmed"
    ALREADY_CANCELLED = "already_cancelled"
    BUSY = "busy"  # a withdrawal while another for the member is under way (core/treasury.py): press again later
    MISTYPED = "mistyped"  # an offer confirmed by typing, and the characters typed are not the ones asked for


@dataclass(frozen=True)
class OnItsWay:
    """What the member's confirmed actions will take from them once the chain has done them, minor units."""

    food_usd: int = 0
    gro: int = 0


def spends(food_usd: int = 0, gro: int = 0) -> dict[str, Any]:
    """An offer's parameters saying what it takes from the member once done (counted by `on_its_way`)."""
    return {"spends": {"food_usd": food_usd, "gro": gro}}


async def on_its_way(uow: UnitOfWork, member_id: str) -> OnItsWay:
    """What the member's confirmed offers whose intents the chain has not finished yet will take from them (an
    admin's withdrawal for them included: its intent is theirs). An intent mined a moment before the worker reads
    its receipt counts twice for that moment: a summary may then say less is left, never more."""
    async with uow.read() as session:
        rows = (await session.execute(select(PendingAction.params).join(
            Intent, PendingAction.intent_id == Intent.id).where(
            Intent.member_id == member_id, Intent.state.in_(("pending", "submitted")),
            PendingAction.state == "confirmed"))).scalars()
        taken = [params.get("spends", {}) for params in rows]
    return OnItsWay(sum(int(s.get("food_usd", 0)) for s in taken), sum(int(s.get("gro", 0)) for s in taken))


async def withdrawal_under_way(session, member_id: str) -> bool:
    """A cash payout for `member_id` is not finished: its approval sets the allowance rather than adding to it, so
    a second one sent meanwhile would replace the first's and one burn would fail after its cash was paid."""
    return (await session.execute(select(Intent.id).where(
        Intent.member_id == member_id, Intent.kind.in_(("withdraw", "approve_withdrawal")),
        Intent.state.in_(("pending", "submitted"))).limit(1))).scalar_one_or_none() is not None


def new_token() -> str:
    return secrets.token_urlsafe(12)


async def offer(uow: UnitOfWork, clock: Clock, member: int, kind: str, params: dict[str, Any],
                by_admin: bool = False, token: str | None = None, confirm_with: str | None = None) -> str:
    """Records the action offered to `member` (their row in bot_members) and returns its token (`token` when
    the parameters name it already: a withdrawal's reference). With `confirm_with`, only typing those characters
    (any case) confirms it (`typed`)."""
    async with uow() as session:
        return add(session, clock, member, kind, params, by_admin, token, confirm_with)


def add(session: AsyncSession, clock: Clock, member: int, kind: str, params: dict[str, Any],
        by_admin: bool = False, token: str | None = None, confirm_with: str | None = None) -> str:
    """As `offer`, in the caller's transaction (a use case that writes more with its offer)."""
    token = token or new_token()
    if by_admin:
        params = {**params, "by_admin": True}
    if confirm_with:
        params = {**params, "confirm_with": confirm_with.lower()}
    session.add(PendingAction(token=token, member=member, kind=kind, params=params, created_at=utc(clock)))
    return token


async def answer(uow: UnitOfWork, clock: Clock, ttl: float, token: str, member: int | None, confirmed: bool,
                 is_admin: bool, typed: str | None = None) -> Answer:
    """`member` (their row id, None for a stranger) pressed confirm or cancel on offer `token` (`typed`: the
    characters they typed to confirm one made with `confirm_with`; a press alone never confirms it)."""
    now = utc(clock)
    async with uow() as session:
        action = await session.get(PendingAction, token)
        if action is None or member is None or action.member != member:
            return Answer.UNKNOWN
        expired = action.state == "expired"
        if action.state == "offered" and now - action.created_at > timedelta(seconds=ttl):
            expired = (await session.execute(update(PendingAction).where(
                PendingAction.token == token, PendingAction.state == "offered")
                .values(state="expired", answered_at=now))).rowcount == 1
        if expired:
            return Answer.EXPIRED
        code = action.params.get("confirm_with")
        if confirmed and action.state == "offered" and code and _typed(typed or "") != code:
            return Answer.MISTYPED  # the offer stays open: typing the right characters still confirms it
        # An admin's offer (a deposit, a certification: older offers carry only for_member_id) needs an admin now.
        if confirmed and (action.params.get("by_admin") or "for_member_id" in action.params) and not is_admin:
            return Answer.ADMINS_ONLY
        # Two /withdraw offers for one member, each fine when made, confirmed one after the other.
        if confirmed and action.kind == "withdraw" and await withdrawal_under_way(session,
                                                                                 action.params["for_member_id"]):
            return Answer.BUSY
        won = (await session.execute(
            update(PendingAction).where(PendingAction.token == token, PendingAction.state == "offered")
            .values(state="confirmed" if confirmed else "cancelled", answered_at=now))).rowcount == 1
        if not won:  # another press answered it since it was read: what that press decided
            await session.refresh(action)
            return {"expired": Answer.EXPIRED, "confirmed": Answer.ALREADY_CONFIRMED}.get(
                action.state, Answer.ALREADY_CANCELLED)
        if not confirmed:
            return Answer.CANCELLED
        # In the same transaction as the confirm: a confirmed offer always has its intent (the conditional update
        # above lets one press through, so no other transaction writes this intent meanwhile).
        await _write_intent(session, action)
    return Answer.CONFIRMED


async def typed(uow: UnitOfWork, clock: Clock, ttl: float, member: int, text: str, is_admin: bool) -> Answer | None:
    """`text`, typed by `member` (their row id), answers their newest offer waiting for typed characters: it
    confirms the offer when it is those characters ("0x" before them or not, any case), else MISTYPED (the offer
    stays open). None when no such offer is open and `text` is not its characters either (after it expired they
    say EXPIRED): read it as usual."""
    async with uow.read() as session:
        waiting = next((action for action in (await session.execute(select(PendingAction).where(
            PendingAction.member == member, PendingAction.state == "offered")
            .order_by(PendingAction.created_at.desc()).limit(_RECENT))).scalars()
            if action.params.get("confirm_with")), None)
    if waiting is None:
        return None
    is_open = utc(clock) - waiting.created_at <= timedelta(seconds=ttl)
    if not is_open and _typed(text) != waiting.params["confirm_with"]:
        return None
    return await answer(uow, clock, ttl, waiting.token, member, True, is_admin, typed=text)


_RECENT = 20  # a member's newest offers looked at for one waiting for typed characters


def _typed(text: str) -> str:
    return text.strip().lower().removeprefix("0x")


async def _write_intent(session: AsyncSession, action: PendingAction) -> None:
    """The confirmed action's intent, after the intents it needs first (`before`), linked to the offer: the worker
    may finish the intent at once (a quick refusal), and its outcome finds the member through that link. The
    token is the intent's key: one written already (by an older version that wrote it apart) is linked, not
    written twice."""
    intent = (await session.execute(select(Intent).where(Intent.idempotency_key == action.token))).scalar_one_or_none()
    if intent is None:
        member = await session.get(Member, action.member)
        member_id = _whose(action, member)
        for n, (kind, params) in enumerate(action.params.get("before", [])):  # a withdrawal's approval
            Outbox.add(session, f"{action.token}:{n}", member_id, kind, params)
        intent = Outbox.add(session, action.token, member_id, action.kind, action.params["intent"])
        await session.flush()
    action.intent_id = intent.id
    session.add(Timing(intent_id=intent.id))


def _whose(action: PendingAction, member: Member) -> str | None:
    """The member an action's intents are for: the one named (an admin's deposit, withdrawal or certification),
    else none for an operator call (an admin closing an order: the worker then reads no account for it, as for
    the keeper's steps), else the member who confirmed."""
    if "for_member_id" in action.params:
        return action.params["for_member_id"]
    return None if action.kind in OPERATOR_KINDS else member.member_id


async def resume_confirmed(uow: UnitOfWork) -> int:
    """At start: offers an older version confirmed without writing their intent (it wrote them apart) get it now."""
    async with uow() as session:
        actions = list((await session.execute(select(PendingAction).where(
            PendingAction.state == "confirmed", PendingAction.intent_id.is_(None)))).scalars())
        for action in actions:
            await _write_intent(session, action)
    return len(actions)
