"""What closed orders still owe members, from the history: who joined an order now closed and has not claimed.

The keeper claims it for every member by itself, retried until done (bot/keeper.py); `/claim` lets a member
take it back at once. Both read the same durable state, so neither depends on hearing an order close.
"""
from sqlalchemy import select

from chain.db import HistoryEvent, Intent
from core.wallet import balances
from handlers import confirm
from handlers.base import Context, Reply, Services
from locales import format_money, format_number

CLOSING_EVENTS = ("OrderExecuted", "OrderRefunded", "OrderCancelled")
OPEN = ("pending", "submitted")


async def unclaimed(services: Services, account: str | None = None) -> list[tuple[int, str]]:
    """(order, account) for each member account (or only `account`) that joined an order now closed and has
    not claimed from it yet, as far as the history has followed the chain."""
    events = select(HistoryEvent.event, HistoryEvent.account, HistoryEvent.args).where(
        HistoryEvent.contract == "group_buy", HistoryEvent.event.in_(("Joined", "Claimed", *CLOSING_EVENTS)))
    if account is not None:
        events = events.where((HistoryEvent.account == account) | HistoryEvent.event.in_(CLOSING_EVENTS))
    async with services.sessions() as session:
        rows = (await session.execute(events)).all()
    closed = {int(args["orderId"]) for event, _, args in rows if event in CLOSING_EVENTS}
    joined = {(int(args["orderId"]), who) for event, who, args in rows if event == "Joined"}
    claimed = {(int(args["orderId"]), who) for event, who, args in rows if event == "Claimed"}
    return sorted(pair for pair in joined - claimed if pair[0] in closed)


async def claims_under_way(services: Services) -> set[tuple[int, str]]:
    """(order, member id) of claims written and not yet finished: the keeper's or a member's own /claim."""
    async with services.sessions() as session:
        rows = (await session.execute(select(Intent.kind, Intent.member_id, Intent.params).where(
            Intent.kind.in_(("claim", "claim_for")), Intent.state.in_(OPEN)))).all()
    return {(int(order_id), member_id) for kind, member_id, params in rows
            for order_id in params.get("order_ids") or [params["order_id"]]}


async def refund(services: Services, order_id: int, account: str) -> int:
    """The Food-USD order `order_id` still owes `account` (0 once claimed)."""
    return (await services.ledger.claimable(order_id, account)).refund


async def claim(ctx: Context, args: list[str]) -> list[Reply]:
    """/claim: everything closed orders owe the member, given back in one confirmed step."""
    member_id = ctx.member.member_id
    account = await ctx.services.wallet(member_id)
    under_way = await claims_under_way(ctx.services)
    owed = [(order_id, amount) for order_id, _ in await unclaimed(ctx.services, account)
            if (order_id, member_id) not in under_way and (amount := await refund(ctx.services, order_id, account))]
    if not owed:
        return [ctx.reply(ctx.t("You have nothing to get back right now. What a closed order owes you comes back "
                                "to you by itself; /balance shows it."))]
    orders = ", ".join("#" + format_number(order_id, ctx.lang) for order_id, _ in owed)
    total = sum(amount for _, amount in owed)
    fusd = (await balances(ctx.services.core, member_id)).food_usd
    summary = ctx.tn("Get back {amount} from order {orders}. Your Food-USD after: {after}.",
                     "Get back {amount} from orders {orders}. Your Food-USD after: {after}.", len(owed),
                     amount=format_money(total, ctx.lang), orders=orders, after=format_money(fusd + total, ctx.lang))
    return await confirm.offer(ctx, "claim", {"intent": {"order_ids": [order_id for order_id, _ in owed]}}, summary)
