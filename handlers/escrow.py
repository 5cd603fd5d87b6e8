"""Locks in the chat: /lock (a new lock, `add` more GRO, `extend` its end) and /unlock, with a preview of the
voting power before the confirmation (core/escrow.py)."""
from decimal import Decimal

from chain.ledger import GRO_DECIMALS
from core import escrow as use
from core.escrow import MAX_WEEKS, LockTerms
from core.results import Offered, Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import exported_reply
from handlers.history import day
from handlers.numbers import bad_number
from locales import AmountError, format_gro, format_number, parse_amount, parse_count


def _usage(ctx: Context) -> str:
    return "\n".join([
        ctx.t("Send how much GRO and for how many weeks (at most {max}), for example: /lock {example}",
              max=format_number(MAX_WEEKS, ctx.lang),
              example=f"{format_number(Decimal('12.5'), ctx.lang)} {format_number(52, ctx.lang)}"),
        ctx.t("To add GRO to your lock: /lock add AMOUNT. To make it last longer: /lock extend WEEKS (counted "
              "from today).")])


def refusal(ctx: Context, refused: Refused) -> list[Reply]:
    """An escrow use case's refusal (core/escrow.py) in the member's words."""
    f = refused.facts
    match refused.reason:
        case "exported":
            return exported_reply(ctx)
        case "weeks_out_of_range":
            text = ctx.tn("GRO can be locked for at most {count} week (four years).",
                          "GRO can be locked for at most {count} weeks (four years).", f["max"],
                          count=format_number(f["max"], ctx.lang)) + "\n" + _usage(ctx)
        case "not_positive":
            text = ctx.t("The amount must be more than zero.")
        case "over_held":
            text = ctx.t("You have {held} GRO, so you cannot lock {amount} GRO. GRO comes from certified produce.",
                         held=format_gro(f["held"], ctx.lang), amount=format_gro(f["amount"], ctx.lang)) \
                + confirm.on_its_way(ctx, gro=f["on_its_way"])
        case "lock_ended":
            text = ctx.t("Your earlier lock ended on {date}. Take that GRO back first with /unlock; then you can "
                         "lock again.", date=day(ctx, f["end"]))
        case "no_lock":
            text = ctx.t("You have no GRO locked. To start a lock: /lock AMOUNT WEEKS.")
        case "not_later":
            text = ctx.t("Your lock already lasts until {date}. To extend it, choose more weeks from today.",
                         date=day(ctx, f["end"]))
        case "not_ended":
            text = ctx.t("Your lock ends on {date}; you can take your GRO back from then.", date=day(ctx, f["end"]))
        case _:
            raise ValueError(f"no wording for the refusal {refused.reason!r}")
    return [ctx.reply(text)]


def _offered(ctx: Context, result: Offered[LockTerms]) -> list[Reply]:
    terms = result.terms
    what = dict(amount=format_gro(terms.amount, ctx.lang), date=day(ctx, terms.unlock_time),
                power=format_gro(terms.power, ctx.lang))
    if terms.kind == "lock":
        summary = ctx.t("Lock {amount} GRO until {date}. It gives you about {power} voting power, which shrinks as "
                        "the date nears. You cannot take the GRO back before then.", **what)
    elif terms.kind == "increase_lock":
        summary = ctx.t("Add {amount} GRO to your lock, which ends on {date}. Your voting power will be about "
                        "{power}. The GRO stays locked until then.", **what)
    else:
        summary = ctx.t("Keep your {locked} GRO locked until {date}. Your voting power will be about {power}. You "
                        "cannot take the GRO back before then.", locked=format_gro(terms.locked, ctx.lang),
                        date=what["date"], power=what["power"])
    return confirm.buttons(ctx, result.token, summary)


def _gro(ctx: Context, typed: str) -> int | list[Reply]:
    try:
        return int(parse_amount(typed, ctx.lang, decimals=2).scaleb(GRO_DECIMALS))
    except AmountError as e:
        return bad_number(ctx, e, typed, _usage(ctx))


def _weeks(ctx: Context, typed: str) -> int | list[Reply]:
    try:
        return parse_count(typed, ctx.lang)
    except AmountError as e:
        return bad_number(ctx, e, typed, _usage(ctx))


async def lock(ctx: Context, args: list[str]) -> list[Reply]:
    """/lock AMOUNT WEEKS: a new lock (with one running, the amount is added to it and its end stays);
    /lock add AMOUNT: more GRO in the running lock; /lock extend WEEKS: its end moved to WEEKS from today."""
    if len(args) != 2:
        return [ctx.reply(_usage(ctx))]
    core, member, member_id = ctx.services.core, ctx.member.id, ctx.member.member_id
    word = args[0].lower()
    if word == "add":
        amount = _gro(ctx, args[1])
        if isinstance(amount, list):
            return amount
        result = await use.add(core, member, member_id, amount)
    elif word == "extend":
        weeks = _weeks(ctx, args[1])
        if isinstance(weeks, list):
            return weeks
        result = await use.extend(core, member, member_id, weeks)
    else:
        amount, weeks = _gro(ctx, args[0]), _weeks(ctx, args[1])
        if isinstance(amount, list) or isinstance(weeks, list):
            return amount if isinstance(amount, list) else weeks
        result = await use.lock(core, member, member_id, amount, weeks)
    return refusal(ctx, result) if isinstance(result, Refused) else _offered(ctx, result)


async def unlock(ctx: Context, args: list[str]) -> list[Reply]:
    """/unlock: takes back the GRO of a lock that has ended, after a confirmation."""
    result = await use.unlock(ctx.services.core, ctx.member.id, ctx.member.member_id)
    if isinstance(result, Refused):
        return refusal(ctx, result)
    summary = ctx.t("Take back the {amount} GRO from your lock? Your voting power from it ends. Your GRO after: "
                    "{after}.", amount=format_gro(result.terms.amount, ctx.lang),
                    after=format_gro(result.terms.gro_after, ctx.lang)) \
        + confirm.on_its_way(ctx, gro=result.terms.on_its_way)
    return confirm.buttons(ctx, result.token, summary)
