"""What admins do with the co-op's money and people: close an order early, pay cash out, list the members.

Closing and paying out are offered for the admin's confirmation (core/offers.py) and done on chain by the
treasurer's key (chain/intents.py `close_order`, `withdraw`); the group, the members and the admin are told how
they ended by the announcer (bot/announce.py).
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store import Member
from core import offers
from core.custody import exported
from core.orders import join_order, open_order, product_name, product_names
from core.ports import Ports
from core.results import Offered, Refused
from core.wallet import spendable


@dataclass(frozen=True)
class CloseTerms:
    order_id: int
    product: str
    units: int  # joined by members
    members: int
    bought: bool  # whether closing now buys it (else everyone is refunded)
    buys: int  # units bought: whole cases, tolerance included (0 when refunded)
    min_units: int
    paid: int  # Food-USD paid to the supplier when bought, minor units
    refunded: int  # Food-USD that goes back to the members, minor units


async def close_order(ports: Ports, admin: int, order_id: int) -> Offered[CloseTerms] | Refused:
    """The admin (their row id) ends open order `order_id` before its deadline: bought now if the whole cases it
    can buy reach its minimum, otherwise refunded. Refused: no_order, order_closed (`id`); history_behind (`id`):
    some joins are not in the history yet, so the members' order (which an allocation needs) is not known."""
    order = await open_order(ports, order_id)
    if isinstance(order, Refused):
        return order
    buys = order.buys if order.buys >= order.min_units else 0
    intent: dict = {"order_id": order_id}
    if buys and buys != order.units:  # units are shared out first come, first served: the members in join order
        members = await join_order(ports, order_id)
        if len(members) != order.members:
            return Refused("history_behind", {"id": order_id})
        intent["join_order"] = members
    held = (order.units + order.tolerance) * order.unit_price
    terms = CloseTerms(order_id, product_name(await product_names(ports), order), order.units, order.members,
                       bool(buys), buys, order.min_units, buys * order.unit_price, held - buys * order.unit_price)
    token = await offers.offer(ports.uow, ports.clock, admin, "close_order", {"intent": intent}, by_admin=True)
    return Offered(token, terms)


@dataclass(frozen=True)
class WithdrawTerms:
    member_id: str
    amount: int  # Food-USD minor units
    balance_after: int
    on_its_way: int = 0  # Food-USD the member's confirmed actions are taking, counted in balance_after


async def withdraw(ports: Ports, admin: int, member_id: str, amount: int,
                   burner: str) -> Offered[WithdrawTerms] | Refused:
    """The admin (their row id) pays resident `member_id` `amount` in cash: that much of their Food-USD is burned
    by `burner` (the treasurer's account), which the member's account allows first. Refused: zero_amount;
    exported (their account is in their own custody, so the co-op cannot allow it for them);
    withdrawal_under_way (`member_id`): one for them is not finished yet (core/offers.py says why);
    over_balance (`amount`, `balance`, `on_its_way`: what the member's confirmed actions are taking, left out
    of `balance`)."""
    if amount <= 0:
        return Refused("zero_amount")
    if await exported(ports.uow, member_id):
        return Refused("exported", {"member_id": member_id})
    async with ports.uow.read() as session:
        under_way = await offers.withdrawal_under_way(session, member_id)
    if under_way:  # confirming is checked again (core/offers.py `answer`): two offers may both be pending
        return Refused("withdrawal_under_way", {"member_id": member_id})
    held = await spendable(ports, member_id)
    if amount > held.food_usd:
        return Refused("over_balance", {"amount": amount, "balance": held.food_usd,
                                        "on_its_way": held.coming.food_usd})
    token = offers.new_token()  # also the withdrawal's reference on chain: recorded once, however often confirmed
    await offers.offer(ports.uow, ports.clock, admin, "withdraw", {
        "for_member_id": member_id, "intent": {"amount": amount, "ref": token},
        "before": [["approve_withdrawal", {"burner": burner, "amount": amount}]], **offers.spends(food_usd=amount)},
        by_admin=True, token=token)
    return Offered(token, WithdrawTerms(member_id, amount, held.food_usd - amount, held.coming.food_usd))


@dataclass(frozen=True)
class Identity:
    """One channel a resident uses."""

    channel: str
    name: str  # as admins see it and type it: the alias (@ana), else the channel's id
    blocked: bool  # they blocked the bot there: nothing reaches them on it


@dataclass(frozen=True)
class Resident:
    member_id: str
    identities: tuple[Identity, ...]  # oldest first
    lang: str | None  # the language they chose (None: not chosen yet)
    joined_at: datetime  # their first identity's, UTC


@dataclass(frozen=True)
class MembersPage:
    residents: list[Resident]  # oldest member first
    page: int  # from 1
    pages: int
    total: int  # residents (one linked on two channels is one)


PAGE_SIZE = 20  # residents a page: a chat message stays readable (and under Telegram's 4,096 characters)


async def members(ports: Ports, page: int = 1) -> MembersPage | Refused:
    """Who is in: each resident with their channels, page `page` of them. Refused: no_page (`pages`)."""
    async with ports.uow.read() as session:
        rows = list((await session.execute(select(Member).order_by(Member.joined_at, Member.id))).scalars())
    by_resident: dict[str, list[Member]] = {}
    for row in rows:
        by_resident.setdefault(row.member_id, []).append(row)
    pages = max(1, -(-len(by_resident) // PAGE_SIZE))
    if not 1 <= page <= pages:
        return Refused("no_page", {"pages": pages})
    shown = list(by_resident.values())[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    residents = [Resident(rows[0].member_id, tuple(Identity(m.channel, m.name, m.blocked) for m in rows),
                          next((m.lang for m in rows if m.lang), None), rows[0].joined_at) for rows in shown]
    return MembersPage(residents, page, pages, len(by_resident))
