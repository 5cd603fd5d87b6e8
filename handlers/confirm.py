"""Confirmations in the chat: an offer's plain summary with exactly two buttons, confirm first and cancel
second, and what pressing one did (core/offers.py decides it: the first answer wins, once). An irreversible
hand-over is confirmed by typing characters the summary asks for instead: its summary has only a cancel button,
and the member's next message of four hex characters answers it (`typed`)."""
import re

from core import offers
from core.offers import Answer
from handlers.base import Button, Context, Reply
from locales import format_gro, format_money, format_number

CONFIRM, CANCEL = "ok:", "no:"


def buttons(ctx: Context, token: str, summary: str) -> list[Reply]:
    """The summary of offer `token` with its two buttons."""
    return [ctx.reply(summary, [[Button(ctx.t("Confirm"), CONFIRM + token), Button(ctx.t("Cancel"), CANCEL + token)]])]


def on_its_way(ctx: Context, food_usd: int = 0, gro: int = 0) -> str:
    """The sentence saying what earlier confirmed actions are still taking, already left out of the balance a
    summary or a refusal quotes (core/offers.py `on_its_way`), with its leading space; "" when nothing is."""
    if food_usd:
        return " " + ctx.t("That counts {amount} already on its way from earlier confirmations.",
                           amount=format_money(food_usd, ctx.lang))
    if gro:
        return " " + ctx.t("That counts {amount} GRO already on its way from earlier confirmations.",
                           amount=format_gro(gro, ctx.lang))
    return ""


_HEX_TYPED = re.compile(r"(0x)?[0-9a-fA-F]{4}")  # an address's last four, as a member may type them


def typed_offer(ctx: Context, token: str, summary: str) -> list[Reply]:
    """The summary of offer `token`, confirmed by typing (the summary says what), with its cancel button."""
    return [ctx.reply(summary, [[Button(ctx.t("Cancel"), CANCEL + token)]])]


async def answer(ctx: Context, token: str, confirmed: bool) -> list[Reply]:
    """A press of confirm or cancel on offer `token`."""
    core = ctx.services.core
    done = await offers.answer(core.uow, core.clock, ctx.services.settings.confirm_ttl, token,
                               ctx.member.id if ctx.member else None, confirmed, is_admin=await ctx.is_admin())
    return said(ctx, done)


async def typed(ctx: Context, text: str) -> list[Reply] | None:
    """A member's message of four hex characters ("0x" before them or not), when an offer of theirs waits for typed
    characters: what it did. None when none waits, or the message could not be such characters ("balance", "100",
    a sentence): the message is read as usual."""
    if ctx.member is None or not _HEX_TYPED.fullmatch(text.strip()):
        return None
    core = ctx.services.core
    done = await offers.typed(core.uow, core.clock, ctx.services.settings.confirm_ttl, ctx.member.id, text,
                              is_admin=await ctx.is_admin())
    return None if done is None else said(ctx, done)


def said(ctx: Context, done: Answer) -> list[Reply]:
    """What answering an offer did, in the member's words."""
    match done:
        case Answer.CONFIRMED:
            return [ctx.reply(ctx.t("On its way. I will tell you when it is done."))]
        case Answer.CANCELLED:
            return [ctx.reply(ctx.t("Cancelled. Nothing was done."))]
        case Answer.UNKNOWN:
            return [ctx.reply(ctx.t("That button is no longer valid. Send /menu to start again."))]
        case Answer.ADMINS_ONLY:
            return [ctx.reply(ctx.t("Sorry, only the co-op's admins can do that."))]
        case Answer.ALREADY_CONFIRMED:
            return [ctx.reply(ctx.t("You already confirmed this; it is being done only once."))]
        case Answer.ALREADY_CANCELLED:
            return [ctx.reply(ctx.t("You already cancelled this; nothing was done."))]
        case Answer.MISTYPED:
            return [ctx.reply(ctx.t("Those are not the last characters of the address, so nothing was done. Check "
                                    "them in your wallet app and type them again, or press Cancel."))]
        case Answer.BUSY:
            return [ctx.reply(ctx.t("Another cash payout to this member is still being recorded, so this one was "
                                    "not done yet. Press Confirm again once I tell you how that one ended."))]
    minutes = max(1, round(ctx.services.settings.confirm_ttl / 60))
    return [ctx.reply(ctx.tn("Sorry, this offer expired: offers last {minutes} minute. Nothing was done; please "
                             "send the command again if you still want it.",
                             "Sorry, this offer expired: offers last {minutes} minutes. Nothing was done; please "
                             "send the command again if you still want it.", minutes,
                             minutes=format_number(minutes, ctx.lang)))]
