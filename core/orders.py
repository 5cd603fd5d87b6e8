"""Group orders: joining one, offering extra units so its last case is bought whole, and who joined in which order.

Each checks what can be checked before the chain (the order is open, units are left, the member's cap, their
Food-USD) and offers the action for confirmation (core/offers.py).
"""
import asyncio
from dataclasses import dataclass

from eth_utils import keccak
from sqlalchemy import select

from bot.store import Product
from chain.db import HistoryEvent
from chain.ledger import Order, Part
from core import offers
from core.ports import Ports
from core.results import Offered, Refused
from core.wallet import Spendable, spendable


async def product_names(ports: Ports) -> dict[str, str]:
    """Product names by the id orders carry on chain (0x-hex of keccak of the name)."""
    async with ports.uow.read() as session:
        return {p.product_id: p.name for p in (await session.execute(select(Product))).scalars()}


def product_id(name: str) -> str:
    """The id an order carries on chain for a product's name."""
    return "0x" + keccak(text=name.strip().lower()).hex()


def product_name(names: dict[str, str], order: Order) -> str:
    return names.get("0x" + order.product_id.hex(), "?")


async def join_order(ports: Ports, order_id: int) -> list[str]:
    """The accounts that joined `order_id`, in the order they first joined (from the indexed Joined events), as
    GroupBuy takes them when it must share out units. Shorter than the order's members while the history lags."""
    async with ports.uow.read() as session:
        joins = (await session.execute(select(HistoryEvent.account, HistoryEvent.args).where(
            HistoryEvent.contract == "group_buy", HistoryEvent.event == "Joined"))).all()
    # (The order id sits in JSON, compared here rather than in each database's JSON syntax.)
    by_seq = {int(args["seq"]): account for account, args in joins if int(args["orderId"]) == order_id}
    return [by_seq[seq] for seq in sorted(by_seq)]


async def open_orders(ports: Ports) -> list[Order]:
    now = ports.clock.now()
    return [order for order in await ports.ledger.orders() if order.open_at(now)]


@dataclass(frozen=True)
class OpenOrder:
    order: Order
    product: str
    mine: Part  # the member's share of it


async def open_orders_for(ports: Ports, member_id: str) -> list[OpenOrder]:
    """The open orders, each with its product's name and the member's share (read in one batch)."""
    listed = await open_orders(ports)
    if not listed:
        return []
    names = await product_names(ports)
    parts = await ports.ledger.parts([order.id for order in listed], await ports.wallet(member_id))
    return [OpenOrder(order, product_name(names, order), part) for order, part in zip(listed, parts)]


async def open_order(ports: Ports, order_id: int) -> Order | Refused:
    """The open order `order_id`; refused `no_order` (never made) or `order_closed`, with the order's `id`."""
    order = await ports.ledger.order(order_id)
    if not order.status:
        return Refused("no_order", {"id": order_id})
    if not order.open_at(ports.clock.now()):
        return Refused("order_closed", {"id": order_id})
    return order


def _over_cap(order: Order) -> Refused:
    return Refused("over_cap", {"id": order.id, "cap": order.max_units_per_member})


def _top_up(cost: int, held: Spendable) -> Refused:
    return Refused("top_up", {"cost": cost, "balance": held.food_usd, "on_its_way": held.coming.food_usd})


@dataclass(frozen=True)
class JoinTerms:
    order_id: int
    product: str
    units: int
    cost: int  # Food-USD, minor units
    balance_after: int
    total_units: int  # the member's units in the order once this is done
    on_its_way: int = 0  # Food-USD the member's earlier confirmed actions are taking, counted in balance_after


async def join(ports: Ports, member: int, member_id: str, order_id: int, units: int) -> Offered[JoinTerms] | Refused:
    """`member` (their row id; `member_id` the resident) joins order `order_id` with `units` more units.
    Refused: not_positive (`value`), no_order, order_closed, units_left (`left`), over_cap (`cap`), top_up (`cost`,
    `balance`: what the member may spend, less `on_its_way`, what their confirmed actions are already taking)."""
    if units < 1:  # the chat reads only counts; another door may send anything
        return Refused("not_positive", {"value": units})
    order = await open_order(ports, order_id)
    if isinstance(order, Refused):
        return order
    left = order.target_units - order.units
    if units > left:
        return Refused("units_left", {"id": order_id, "left": left})
    account = await ports.wallet(member_id)
    part, held = await asyncio.gather(ports.ledger.part(order_id, account), spendable(ports, member_id))
    if part.units + part.tolerance + units > order.max_units_per_member:
        return _over_cap(order)
    cost = units * order.unit_price
    if cost > held.food_usd:
        return _top_up(cost, held)
    terms = JoinTerms(order_id, product_name(await product_names(ports), order), units, cost, held.food_usd - cost,
                      part.units + units, held.coming.food_usd)
    token = await offers.offer(ports.uow, ports.clock, member, "join",
                               {"intent": {"order_id": order_id, "units": units}, **offers.spends(food_usd=cost)})
    return Offered(token, terms)


@dataclass(frozen=True)
class ToleranceTerms:
    order_id: int
    case_size: int
    extra: int  # the extra units offered from now on
    change: int  # Food-USD paid now (> 0) or given back now (< 0), minor units
    balance_after: int
    on_its_way: int = 0  # as for JoinTerms


async def tolerance(ports: Ports, member: int, member_id: str, order_id: int,
                    extra: int) -> Offered[ToleranceTerms] | Refused:
    """The member would take up to `extra` more units so the order's last case is bought whole (paid now; what
    is not used comes back after the deadline); 0 takes the offer back. Refused: not_positive, no_order, order_closed,
    by_the_unit, not_joined, case_too_small (`most`, `case`), over_cap, top_up, unchanged (`extra`)."""
    if extra < 0:
        return Refused("not_positive", {"value": extra})
    order = await open_order(ports, order_id)
    if isinstance(order, Refused):
        return order
    if order.case_size == 1:
        return Refused("by_the_unit", {"id": order_id})
    account = await ports.wallet(member_id)
    part = await ports.ledger.part(order_id, account)
    if not part.units:
        return Refused("not_joined", {"id": order_id})
    if extra >= order.case_size:  # more than a case less one can never be used, yet would be paid until the deadline
        return Refused("case_too_small", {"most": order.case_size - 1, "case": order.case_size})
    if part.units + extra > order.max_units_per_member:
        return _over_cap(order)
    change = (extra - part.tolerance) * order.unit_price
    held = await spendable(ports, member_id)
    if change > held.food_usd:
        return _top_up(change, held)
    if extra == part.tolerance:
        return Refused("unchanged", {"id": order_id, "extra": extra})
    token = await offers.offer(ports.uow, ports.clock, member, "tolerance", {
        "intent": {"order_id": order_id, "tolerance": extra}, **offers.spends(food_usd=max(change, 0))})
    return Offered(token, ToleranceTerms(order_id, order.case_size, extra, change, held.food_usd - change,
                                         held.coming.food_usd))
