"""What closed orders still owe members, from the history: who joined an order now closed and has not claimed.

The keeper claims it for every member by itself, retried until done (bot/keeper.py); `claim` lets a member
take it back at once. Both read the same durable state, so neither depends on hearing an order close.
"""
import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from chain.db import HistoryEvent, Intent
from chain.ledger import CoopLedger
from core import offers
from core.custody import exported
from core.ports import Ports, UnitOfWork
from core.results import Offered, Refused

CLOSING_EVENTS = ("OrderExecuted", "OrderRefunded", "OrderCancelled")
OPEN = ("pending", "submitted")


async def unclaimed(uow: UnitOfWork, account: str | None = None) -> list[tuple[int, str]]:
    """(order, account) for each member account (or only `account`) that joined an order now closed and has
    not claimed from it yet, as far as the history has followed the chain."""
    events = select(HistoryEvent.event, HistoryEvent.account, HistoryEvent.args).where(
        HistoryEvent.contract == "group_buy", HistoryEvent.event.in_(("Joined", "Claimed", *CLOSING_EVENTS)))
    if account is not None:
        events = events.where((HistoryEvent.account == account) | HistoryEvent.event.in_(CLOSING_EVENTS))
    async with uow.read() as session:
        rows = (await session.execute(events)).all()
    closed = {int(args["orderId"]) for event, _, args in rows if event in CLOSING_EVENTS}
    joined = {(int(args["orderId"]), who) for event, who, args in rows if event == "Joined"}
    claimed = {(int(args["orderId"]), who) for event, who, args in rows if event == "Claimed"}
    return sorted(pair for pair in joined - claimed if pair[0] in closed)


async def claims_under_way(uow: UnitOfWork) -> set[tuple[int, str]]:
    """(order, member id) of claims written and not yet finished: the keeper's or a member's own."""
    async with uow.read() as session:
        rows = (await session.execute(select(Intent.kind, Intent.member_id, Intent.params).where(
            Intent.kind.in_(("claim", "claim_for")), Intent.state.in_(OPEN)))).all()
    return {(int(order_id), member_id) for kind, member_id, params in rows
            for order_id in params.get("order_ids") or [params["order_id"]]}


async def refund(ledger: CoopLedger, order_id: int, account: str) -> int:
    """The Food-USD order `order_id` still owes `account` (0 once claimed, or when all its units were bought)."""
    return (await ledger.claimable(order_id, account)).refund


async def owed(ports: Ports, member_id: str) -> list[tuple[int, int]]:
    """(order, Food-USD in minor units) for each closed order that still owes the member and whose claim is not
    already under way."""
    account = await ports.wallet(member_id)
    under_way = await claims_under_way(ports.uow)
    orders = [order_id for order_id, _ in await unclaimed(ports.uow, account) if (order_id, member_id) not in under_way]
    amounts = await asyncio.gather(*(refund(ports.ledger, order_id, account) for order_id in orders))
    return [(order_id, amount) for order_id, amount in zip(orders, amounts) if amount]


@dataclass(frozen=True)
class ClaimTerms:
    owed: list[tuple[int, int]]  # (order, Food-USD in minor units)
    total: int
    balance_after: int  # Food-USD


async def claim(ports: Ports, member: int, member_id: str) -> Offered[ClaimTerms] | Refused:
    """`member` (their row id; `member_id` the resident) takes back at once all that closed orders owe them.
    Refused: exported, nothing_owed."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    due = await owed(ports, member_id)
    if not due:
        return Refused("nothing_owed")
    total = sum(amount for _, amount in due)
    food_usd = (await ports.ledger.balances(await ports.wallet(member_id))).food_usd
    token = await offers.offer(ports.uow, ports.clock, member, "claim",
                               {"intent": {"order_ids": [order_id for order_id, _ in due]}})
    return Offered(token, ClaimTerms(due, total, food_usd + total))
