"""Group orders: the open ones with their progress, and joining one (after a confirmation)."""
import time

from eth_utils import keccak
from sqlalchemy import select

from bot.store import Product
from chain.ledger import Order
from handlers import confirm
from handlers.base import Context, Reply
from handlers.wallet import balances
from locales import AmountError, format_money, format_number, parse_count

async def product_names(ctx: Context) -> dict[str, str]:
    async with ctx.services.sessions() as session:
        return {p.product_id: p.name for p in (await session.execute(select(Product))).scalars()}


def product_id(name: str) -> str:
    return "0x" + keccak(text=name.strip().lower()).hex()


async def open_orders(ctx: Context) -> list[tuple[int, Order]]:
    now = time.time()
    return [(order.id, order) for order in await ctx.services.ledger.orders() if order.open_at(now)]


def time_left(ctx: Context, deadline: int) -> str:
    hours = max(int((deadline - time.time()) // 3600), 0)
    if hours >= 48:
        return ctx.tn("{count} day left", "{count} days left", hours // 24, count=format_number(hours // 24, ctx.lang))
    return ctx.tn("{count} hour left", "{count} hours left", hours, count=format_number(hours, ctx.lang))


async def orders(ctx: Context, args: list[str]) -> list[Reply]:
    """/orders: each open order with its progress, time left and the member's share."""
    listed = await open_orders(ctx)
    if not listed:
        return [ctx.reply(ctx.t("There are no open orders right now."))]
    names = await product_names(ctx)
    account = await ctx.services.wallet(ctx.member.member_id)
    parts = await ctx.services.ledger.parts([order_id for order_id, _ in listed], account)
    lines = []
    for (order_id, order), part in zip(listed, parts):
        mine, extra = part.units, part.tolerance
        line = ctx.t(
            "#{id} {product}: {price} each, {units} of {target} units joined, {left}. You: {mine}.",
            id=format_number(order_id, ctx.lang), product=product_name(names, order),
            price=format_money(order.unit_price, ctx.lang), units=format_number(order.units, ctx.lang),
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


def product_name(names: dict[str, str], order: Order) -> str:
    return names.get("0x" + order.product_id.hex(), "?")


async def open_order(ctx: Context, typed: str, usage: str) -> tuple[int, Order] | list[Reply]:
    """The open order whose number the member typed, or the reply that says why there is none."""
    try:
        order_id = parse_count(typed, ctx.lang)
    except AmountError:
        return [ctx.reply(ctx.t("I could not read those numbers.") + " " + usage)]
    order = await ctx.services.ledger.order(order_id)
    if not order.status:  # never created
        return [ctx.reply(ctx.t("There is no order #{id}. Send /orders to see the open ones.",
                                id=format_number(order_id, ctx.lang)))]
    if not order.open_at(time.time()):
        return [ctx.reply(ctx.t("Order #{id} is closed. Send /orders to see the open ones.",
                                id=format_number(order_id, ctx.lang)))]
    return order_id, order


def over_cap(ctx: Context, order_id: int, order: Order) -> list[Reply]:
    return [ctx.reply(ctx.t("One member may take at most {cap} units of order #{id}.",
                            cap=format_number(order.max_units_per_member, ctx.lang),
                            id=format_number(order_id, ctx.lang)))]


def top_up(ctx: Context, cost: int, fusd: int) -> list[Reply]:
    return [ctx.reply(ctx.t("Joining costs {cost} but you have {balance}: {missing} is missing. To top up, give "
                            "an admin cash and they will record a deposit for you.",
                            cost=format_money(cost, ctx.lang), balance=format_money(fusd, ctx.lang),
                            missing=format_money(cost - fusd, ctx.lang)))]


async def join(ctx: Context, args: list[str]) -> list[Reply]:
    """/join ORDER UNITS: checks what can be checked now, then offers the join for confirmation. A member
    who joined already raises their units."""
    usage = ctx.t("Send the order number and how many units, for example: /join 1 2")
    if len(args) != 2:
        return [ctx.reply(usage)]
    found = await open_order(ctx, args[0], usage)
    if isinstance(found, list):
        return found
    order_id, order = found
    try:
        units = parse_count(args[1], ctx.lang)
    except AmountError:
        return [ctx.reply(ctx.t("I could not read those numbers.") + " " + usage)]
    left = order.target_units - order.units
    if units > left:
        return [ctx.reply(ctx.t("Only {left} units are left in order #{id}.", left=format_number(left, ctx.lang),
                                id=format_number(order_id, ctx.lang)))]
    account = await ctx.services.wallet(ctx.member.member_id)
    part = await ctx.services.ledger.part(order_id, account)
    if part.units + part.tolerance + units > order.max_units_per_member:
        return over_cap(ctx, order_id, order)
    cost = units * order.unit_price
    fusd = (await balances(ctx.services, ctx.member.member_id)).food_usd
    if cost > fusd:
        return top_up(ctx, cost, fusd)
    names = await product_names(ctx)
    summary = ctx.t("Join order #{id} ({product}) with {units}, for {cost}. Your Food-USD after: {after}.",
                    id=format_number(order_id, ctx.lang), product=product_name(names, order),
                    units=ctx.tn("{count} unit", "{count} units", units, count=format_number(units, ctx.lang)),
                    cost=format_money(cost, ctx.lang), after=format_money(fusd - cost, ctx.lang))
    if part.units:
        summary += " " + ctx.t("You will have {total} in all.", total=ctx.tn(
            "{count} unit", "{count} units", part.units + units, count=format_number(part.units + units, ctx.lang)))
    return await confirm.offer(ctx, "join", {"intent": {"order_id": order_id, "units": units}}, summary)


async def tolerance(ctx: Context, args: list[str]) -> list[Reply]:
    """/tolerance ORDER UNITS: how many extra units the member would take so the last case can be bought
    whole (paid now; what is not used comes back after the deadline). 0 takes the offer back."""
    usage = ctx.t("Send the order number and how many extra units you would take, for example: /tolerance 1 2")
    if len(args) != 2:
        return [ctx.reply(usage)]
    found = await open_order(ctx, args[0], usage)
    if isinstance(found, list):
        return found
    order_id, order = found
    shown = format_number(order_id, ctx.lang)
    try:
        extra = parse_count(args[1], ctx.lang)
    except AmountError as e:
        if e.code != "zero":
            return [ctx.reply(ctx.t("I could not read those numbers.") + " " + usage)]
        extra = 0
    if order.case_size == 1:
        return [ctx.reply(ctx.t("Order #{id} is bought by the unit, so there is no case to fill.", id=shown))]
    account = await ctx.services.wallet(ctx.member.member_id)
    part = await ctx.services.ledger.part(order_id, account)
    units, before = part.units, part.tolerance
    if not units:
        return [ctx.reply(ctx.t("Join order #{id} first (/join {id} UNITS); then you can offer extra units to "
                                "fill the last case.", id=shown))]
    if extra >= order.case_size:  # more than a case less one can never be used, yet would be paid until the deadline
        return [ctx.reply(ctx.t("At most {most} extra units can help fill a case of {case}.",
                                most=format_number(order.case_size - 1, ctx.lang),
                                case=format_number(order.case_size, ctx.lang)))]
    if units + extra > order.max_units_per_member:
        return over_cap(ctx, order_id, order)
    change = (extra - before) * order.unit_price
    fusd = (await balances(ctx.services, ctx.member.member_id)).food_usd
    if change > fusd:
        return top_up(ctx, change, fusd)
    if extra == before:
        return [ctx.reply(ctx.t("You already offer {extra} for order #{id}; nothing to change.",
                                extra=ctx.tn("{count} extra unit", "{count} extra units", extra,
                                             count=format_number(extra, ctx.lang)), id=shown))]
    summary = ctx.t("Order #{id} is bought in whole cases of {case}. Take up to {extra} if they complete "
                    "the last case?", id=shown, case=format_number(order.case_size, ctx.lang),
                    extra=ctx.tn("{count} extra unit", "{count} extra units", extra,
                                 count=format_number(extra, ctx.lang)))
    if change > 0:
        summary += " " + ctx.t("You pay {cost} now; what is not used comes back after the deadline. "
                               "Your Food-USD after: {after}.", cost=format_money(change, ctx.lang),
                               after=format_money(fusd - change, ctx.lang))
    else:
        summary += " " + ctx.t("{amount} comes back to you now. Your Food-USD after: {after}.",
                               amount=format_money(-change, ctx.lang), after=format_money(fusd - change, ctx.lang))
    return await confirm.offer(ctx, "tolerance", {"intent": {"order_id": order_id, "tolerance": extra}}, summary)
