"""/orders, /join and /tolerance in the chat: the numbers read from the member's words, the use cases
(core/orders.py) called with them, and their results worded in the member's language."""
from core import orders as use
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.numbers import bad_number
from locales import AmountError, format_money, format_number, parse_count


def time_left(ctx: Context, deadline: int) -> str:
    hours = max(int((deadline - ctx.services.core.clock.now()) // 3600), 0)
    if hours >= 48:
        return ctx.tn("{count} day left", "{count} days left", hours // 24, count=format_number(hours // 24, ctx.lang))
    return ctx.tn("{count} hour left", "{count} hours left", hours, count=format_number(hours, ctx.lang))


async def orders(ctx: Context, args: list[str]) -> list[Reply]:
    """/orders: each open order with its progress, time left and the member's share."""
    listed = await use.open_orders_for(ctx.services.core, ctx.member.member_id)
    if not listed:
        return [ctx.reply(ctx.t("There are no open orders right now."))]
    lines = []
    for shown in listed:
        order, part, order_id = shown.order, shown.mine, shown.order.id
        mine, extra = part.units, part.tolerance
        line = ctx.tn(
            "#{id} {product}: {price} each, {count} unit of {target} joined, {left}. You: {mine}.",
            "#{id} {product}: {price} each, {count} units of {target} joined, {left}. You: {mine}.", order.units,
            id=format_number(order_id, ctx.lang), product=shown.product,
            price=format_money(order.unit_price, ctx.lang), count=format_number(order.units, ctx.lang),
            target=format_number(order.target_units, ctx.lang), left=time_left(ctx, order.deadline),
            mine=format_number(mine, ctx.lang))
        if order.case_size > 1 and mine:
            line += " " + ctx.t("Bought in whole cases of {case}; you would take {extra} more to fill the last one "
                                "(/tolerance {id} UNITS).", case=format_number(order.case_size, ctx.lang),
                                extra=format_number(extra, ctx.lang), id=format_number(order_id, ctx.lang))
        elif order.case_size > 1:
            line += " " + ctx.t("Bought in whole cases of {case}.", case=format_number(order.case_size, ctx.lang))
        lines.append(line)
    lines.append(ctx.t("To join: /join ORDER UNITS, for example /join {example}", example="1 2"))
    return [ctx.reply("\n".join(lines))]


def refusal(ctx: Context, refused: Refused) -> list[Reply]:
    """An order use case's refusal (core/orders.py) in the member's words."""
    f, n = refused.facts, lambda value: format_number(value, ctx.lang)
    match refused.reason:
        case "no_order":
            text = ctx.t("There is no order #{id}. Send /orders to see the open ones.", id=n(f["id"]))
        case "order_closed":
            text = ctx.t("Order #{id} is closed. Send /orders to see the open ones.", id=n(f["id"]))
        case "units_left":
            text = ctx.tn("Only {count} unit is left in order #{id}.", "Only {count} units are left in order #{id}.",
                          f["left"], count=n(f["left"]), id=n(f["id"]))
        case "over_cap":
            text = ctx.tn("One member may take at most {count} unit of order #{id}.",
                          "One member may take at most {count} units of order #{id}.", f["cap"], count=n(f["cap"]),
                          id=n(f["id"]))
        case "top_up":
            text = ctx.t("Joining costs {cost} but you have {balance}: {missing} is missing. To top up, give "
                         "an admin cash and they will record a deposit for you.",
                         cost=format_money(f["cost"], ctx.lang), balance=format_money(f["balance"], ctx.lang),
                         missing=format_money(f["cost"] - f["balance"], ctx.lang)) \
                + confirm.on_its_way(ctx, f["on_its_way"])
        case "by_the_unit":
            text = ctx.t("Order #{id} is bought by the unit, so there is no case to fill.", id=n(f["id"]))
        case "not_joined":
            text = ctx.t("Join order #{id} first (/join {id} UNITS); then you can offer extra units to "
                         "fill the last case.", id=n(f["id"]))
        case "case_too_small":
            text = ctx.tn("At most {count} extra unit can help fill a case of {case}.",
                          "At most {count} extra units can help fill a case of {case}.", f["most"], count=n(f["most"]),
                         case=n(f["case"]))
        case "unchanged":
            text = ctx.t("You already offer {extra} for order #{id}; nothing to change.",
                         extra=ctx.tn("{count} extra unit", "{count} extra units", f["extra"], count=n(f["extra"])),
                         id=n(f["id"]))
        case _:  # not_positive: the chat reads only counts, so it never sends one
            raise ValueError(f"no wording for the refusal {refused.reason!r}")
    return [ctx.reply(text)]


def _numbers(ctx: Context, args: list[str], usage: str, zero_allowed: bool = False) -> tuple[int, int] | list[Reply]:
    """ORDER and a count, as the member typed them."""
    try:
        order_id = parse_count(args[0], ctx.lang)
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    try:
        return order_id, parse_count(args[1], ctx.lang)
    except AmountError as e:
        if zero_allowed and e.code == "zero":
            return order_id, 0
        return bad_number(ctx, e, args[1], usage)


async def join(ctx: Context, args: list[str]) -> list[Reply]:
    """/join ORDER UNITS: offers the join for confirmation (a member who joined already raises their units)."""
    usage = ctx.t("Send the order number and how many units, for example: /join 1 2")
    if len(args) != 2:
        return [ctx.reply(usage)]
    numbers = _numbers(ctx, args, usage)
    if isinstance(numbers, list):
        return numbers
    result = await use.join(ctx.services.core, ctx.member.id, ctx.member.member_id, *numbers)
    if isinstance(result, Refused):
        return refusal(ctx, result)
    terms, n = result.terms, lambda value: format_number(value, ctx.lang)
    summary = ctx.t("Join order #{id} ({product}) with {units}, for {cost}. Your Food-USD after: {after}.",
                    id=n(terms.order_id), product=terms.product,
                    units=ctx.tn("{count} unit", "{count} units", terms.units, count=n(terms.units)),
                    cost=format_money(terms.cost, ctx.lang), after=format_money(terms.balance_after, ctx.lang)) \
        + confirm.on_its_way(ctx, terms.on_its_way)
    if terms.total_units != terms.units:
        summary += " " + ctx.t("You will have {total} in all.", total=ctx.tn(
            "{count} unit", "{count} units", terms.total_units, count=n(terms.total_units)))
    return confirm.buttons(ctx, result.token, summary)


async def tolerance(ctx: Context, args: list[str]) -> list[Reply]:
    """/tolerance ORDER UNITS: how many extra units the member would take so the last case can be bought
    whole (paid now; what is not used comes back after the deadline). 0 takes the offer back."""
    usage = ctx.t("Send the order number and how many extra units you would take, for example: /tolerance 1 2")
    if len(args) != 2:
        return [ctx.reply(usage)]
    numbers = _numbers(ctx, args, usage, zero_allowed=True)
    if isinstance(numbers, list):
        return numbers
    result = await use.tolerance(ctx.services.core, ctx.member.id, ctx.member.member_id, *numbers)
    if isinstance(result, Refused):
        return refusal(ctx, result)
    terms, n = result.terms, lambda value: format_number(value, ctx.lang)
    summary = ctx.t("Order #{id} is bought in whole cases of {case}. Take up to {extra} if they complete "
                    "the last case?", id=n(terms.order_id), case=n(terms.case_size),
                    extra=ctx.tn("{count} extra unit", "{count} extra units", terms.extra, count=n(terms.extra)))
    if terms.change > 0:
        summary += " " + ctx.t("You pay {cost} now; what is not used comes back after the deadline. "
                               "Your Food-USD after: {after}.", cost=format_money(terms.change, ctx.lang),
                               after=format_money(terms.balance_after, ctx.lang))
    else:
        summary += " " + ctx.t("{amount} comes back to you now. Your Food-USD after: {after}.",
                               amount=format_money(-terms.change, ctx.lang),
                               after=format_money(terms.balance_after, ctx.lang))
    summary += confirm.on_its_way(ctx, terms.on_its_way)
    return confirm.buttons(ctx, result.token, summary)
