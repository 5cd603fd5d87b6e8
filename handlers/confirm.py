"""Confirmations: a plain summary with exactly two buttons, confirm first and cancel second.

The first answer wins, decided by one conditional UPDATE (offered → confirmed | cancelled): a second
confirm, a retried webhook or a confirm after cancel changes nothing and says so. A confirm writes the
chain intent whose idempotency key is the offer's token, so even a crash between the two is finished
on the next start (`resume_confirmed`) and never done twice.

An offer lasts `COOP_CONFIRM_TTL` (15 minutes): pressed later, it expires and says so. An offer an admin
command made is done only if the one pressing is still an admin when they press.
"""
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.store import Member, PendingAction, Timing
from chain.db import Intent, utcnow
from chain.outbox import Outbox
from handlers.base import Button, Context, Reply
from locales import format_number

CONFIRM, CANCEL = "ok:", "no:"


async def offer(ctx: Context, kind: str, params: dict[str, Any], summary: str) -> list[Reply]:
    """Records the action and shows its summary with the two buttons."""
    token = secrets.token_urlsafe(12)
    if ctx.as_admin:
        params = {**params, "by_admin": True}
    async with ctx.services.sessions() as session, session.begin():
        session.add(PendingAction(token=token, member=ctx.member.id, kind=kind, params=params))
    buttons = [[Button(ctx.t("Confirm"), CONFIRM + token), Button(ctx.t("Cancel"), CANCEL + token)]]
    return [ctx.reply(summary, buttons)]


async def answer(ctx: Context, token: str, confirmed: bool) -> list[Reply]:
    """A press of confirm or cancel on offer `token`."""
    async with ctx.services.sessions() as session, session.begin():
        action = await session.get(PendingAction, token)
        if action is None or ctx.member is None or action.member != ctx.member.id:
            return [ctx.reply(ctx.t("That button is no longer valid. Send /menu to start again."))]
        ttl = ctx.services.settings.confirm_ttl
        expired = action.state == "expired"
        if action.state == "offered" and utcnow() - action.created_at > timedelta(seconds=ttl):
            expired = (await session.execute(update(PendingAction).where(
                PendingAction.token == token, PendingAction.state == "offered")
                .values(state="expired", answered_at=utcnow()))).rowcount == 1
        if expired:
            return [_expired(ctx)]
        # An admin's offer (a deposit, a certification: older offers carry only for_member_id) needs an admin now.
        if confirmed and (action.params.get("by_admin") or "for_member_id" in action.params) \
                and not await ctx.is_admin():
            return [ctx.reply(ctx.t("Sorry, only the co-op's admins can do that."))]
        won = (await session.execute(
            update(PendingAction).where(PendingAction.token == token, PendingAction.state == "offered")
            .values(state="confirmed" if confirmed else "cancelled", answered_at=utcnow()))).rowcount == 1
        if not won:  # another press answered it since it was read: what that press decided
            await session.refresh(action)
    if not won:
        if action.state == "expired":
            return [_expired(ctx)]
        if action.state == "confirmed":
            return [ctx.reply(ctx.t("You already confirmed this; it is being done only once."))]
        return [ctx.reply(ctx.t("You already cancelled this; nothing was done."))]
    if not confirmed:
        return [ctx.reply(ctx.t("Cancelled. Nothing was done."))]
    await submit(ctx.services.sessions, ctx.services.outbox, token)
    return [ctx.reply(ctx.t("On its way. I will tell you when it is done."))]


def _expired(ctx: Context) -> Reply:
    minutes = max(1, round(ctx.services.settings.confirm_ttl / 60))
    return ctx.reply(ctx.tn("Sorry, this offer expired: offers last {minutes} minute. Nothing was done; please send "
                            "the command again if you still want it.",
                            "Sorry, this offer expired: offers last {minutes} minutes. Nothing was done; please send "
                            "the command again if you still want it.", minutes,
                            minutes=format_number(minutes, ctx.lang)))


async def submit(sessions, outbox: Outbox, token: str) -> None:
    """Writes the confirmed action's intent and links it to the offer in one transaction: the worker may finish
    the intent at once (a quick refusal), and its outcome finds the member through that link. The token is the
    intent's key, so a second press or a restart writes nothing twice."""
    try:
        async with sessions() as session, session.begin():
            action = await session.get(PendingAction, token)
            if action.intent_id is not None:
                return
            member = await session.get(Member, action.member)
            member_id = action.params.get("for_member_id", member.member_id)  # an admin's deposit is for someone else
            intent = Outbox.add(session, token, member_id, action.kind, action.params["intent"])
            await session.flush()
            action.intent_id = intent.id
            session.add(Timing(intent_id=intent.id))
    except IntegrityError:  # its intent is there already (another process, or an older version's crash): link it
        async with sessions() as session, session.begin():
            action = await session.get(PendingAction, token)
            if action.intent_id is None:
                intent = (await session.execute(select(Intent).where(Intent.idempotency_key == token))).scalar_one()
                action.intent_id = intent.id
                session.add(Timing(intent_id=intent.id))


async def resume_confirmed(sessions, outbox: Outbox) -> int:
    """After a restart: confirmed actions whose intent was not written yet get it now."""
    async with sessions() as session:
        tokens = list((await session.execute(select(PendingAction.token).where(
            PendingAction.state == "confirmed", PendingAction.intent_id.is_(None)))).scalars())
    for token in tokens:
        await submit(sessions, outbox, token)
    return len(tokens)
