"""/closeorder, /withdraw and /members in the chat: the admin's words read, the use cases (core/treasury.py)
called with plain values, and their results worded in the admin's language."""
from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

from core import treasury as use
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.numbers import bad_number
from handlers.onboarding import LANGUAGE_NAMES
from handlers.orders import refusal as order_refusal
from handlers.residents import member_and_cash
from locales import AmountError, format_day, format_money, format_number, parse_count

CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}


def _units(ctx: Context, count: int) -> str:
    return ctx.tn("{count} unit", "{count} units", count, count=format_number(count, ctx.lang))


async def close_order(ctx: Context, args: list[str]) -> list[Reply]:
    """/closeorder ORDER: ends an open order now — bought if its whole cases reach the minimum, else refunded."""
    usage = ctx.t("Send: /closeorder ORDER, for example: /closeorder 1")
    if len(args) != 1:
        return [ctx.reply(usage)]
    try:
        order_id = parse_count(args[0], ctx.lang)
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    result = await use.close_order(ctx.services.core, ctx.member.id, order_id)
    if isinstance(result, Refused):
        if result.reason == "history_behind":
            return [ctx.reply(ctx.t("Some joins of order #{id} are still being recorded. Try again in a minute.",
                                    id=format_number(order_id, ctx.lang)))]
        return order_refusal(ctx, result)
    terms, n = result.terms, lambda value: format_number(value, ctx.lang)
    joined = ctx.tn("{units} joined by {count} member", "{units} joined by {count} members", terms.members,
                    units=_units(ctx, terms.units), count=n(terms.members))
    if terms.bought:
        summary = ctx.t("Close order #{id} ({product}) now? {joined}. It buys {bought} and pays the supplier {paid}.",
                        id=n(terms.order_id), product=terms.product, joined=joined, bought=_units(ctx, terms.buys),
                        paid=format_money(terms.paid, ctx.lang))
        if terms.refunded:
            summary += " " + ctx.t("{amount} goes back to the members.", amount=format_money(terms.refunded, ctx.lang))
    else:
        summary = ctx.t("Close order #{id} ({product}) now? {joined}, below its minimum of {minimum}: nothing is "
                        "bought and {amount} goes back to the members.", id=n(terms.order_id),
                        product=terms.product, joined=joined, minimum=n(terms.min_units),
                        amount=format_money(terms.refunded, ctx.lang))
    return confirm.buttons(ctx, result.token, summary)


async def withdraw(ctx: Context, args: list[str]) -> list[Reply]:
    """/withdraw MEMBER AMOUNT: cash the admin pays a member; that much of their Food-USD is burned (confirmed
    first). The member hears it too."""
    usage = ctx.t("Send: /withdraw MEMBER AMOUNT, for example: /withdraw ana {amount}",
                  amount=format_number(Decimal("20.00"), ctx.lang, decimals=2))
    found = await member_and_cash(ctx, args, usage)
    if isinstance(found, list):
        return found
    member, amount = found
    result = await use.withdraw(ctx.services.core, ctx.member.id, member.member_id, amount,
                                ctx.services.treasurer_address)
    if isinstance(result, Refused):
        match result.reason:
            case "over_balance":
                text = ctx.t("{name} has {balance} in Food-USD, less than {amount}.", name=member.name,
                             balance=format_money(result.facts["balance"], ctx.lang),
                             amount=format_money(result.facts["amount"], ctx.lang)) \
                    + confirm.on_its_way(ctx, result.facts["on_its_way"])
            case "exported":
                text = ctx.t("{name} took their account into their own custody, so the co-op cannot take their "
                             "Food-USD for cash.", name=member.name)
            case "withdrawal_under_way":
                text = ctx.t("A cash payout to {name} is still being recorded. Wait until I tell you how it "
                             "ended, then send /withdraw again.", name=member.name)
            case _:  # zero_amount
                text = ctx.t("That amount is not valid.") + " " + usage
        return [ctx.reply(text)]
    terms = result.terms
    summary = ctx.t("Record paying {name} {amount} in cash? It takes {amount} of their Food-USD; they will have "
                    "{after}. Hand over the cash only when I tell you it is recorded.", name=member.name,
                    amount=format_money(terms.amount, ctx.lang),
                    after=format_money(terms.balance_after, ctx.lang)) + confirm.on_its_way(ctx, terms.on_its_way)
    return confirm.buttons(ctx, result.token, summary)


async def members(ctx: Context, args: list[str]) -> list[Reply]:
    """/members [PAGE]: who is in — each resident's names and channels, language, whether they blocked the bot,
    and when they joined; a page at a time."""
    usage = ctx.t("Send: /members [PAGE], for example: /members 2")
    try:
        page = parse_count(args[0], ctx.lang) if args else 1
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    result = await use.members(ctx.services.core, page)
    if isinstance(result, Refused):
        return [ctx.reply(usage)]
    lines = [ctx.tn("{count} member:", "{count} members:", result.total, count=format_number(result.total, ctx.lang))]
    zone = ZoneInfo(ctx.services.settings.timezone)  # the day it was where the co-op is, not in UTC
    for resident in result.residents:
        channels = ", ".join(
            ctx.t("{name} ({channel}, blocked)", name=i.name, channel=CHANNEL_NAMES.get(i.channel, i.channel))
            if i.blocked else f"{i.name} ({CHANNEL_NAMES.get(i.channel, i.channel)})" for i in resident.identities)
        language = LANGUAGE_NAMES[resident.lang] if resident.lang in LANGUAGE_NAMES else ctx.t("no language yet")
        lines.append(ctx.t("{channels} · {language} · joined {day}", channels=channels, language=language,
                           day=format_day(resident.joined_at.replace(tzinfo=UTC).astimezone(zone), ctx.lang)))
    page, pages = format_number(result.page, ctx.lang), format_number(result.pages, ctx.lang)
    if result.page < result.pages:
        lines.append(ctx.t("Page {page} of {pages}: /members {next} shows the next.", page=page, pages=pages,
                           next=result.page + 1))
    elif result.pages > 1:
        lines.append(ctx.t("Page {page} of {pages}.", page=page, pages=pages))
    return [ctx.reply("\n".join(lines))]


COMMANDS = {"closeorder": close_order, "withdraw": withdraw, "members": members}
