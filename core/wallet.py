"""A resident's own money: what they hold, Food-USD sent to a neighbour, GRO redeemed for produce.

Each checks what can be checked before the chain (the amount, what the member holds less what their confirmed
actions are already taking, that the co-op still acts for their account) and offers the action for confirmation
(core/offers.py).
"""
import asyncio
import secrets
from dataclasses import dataclass

from bot.store import Member
from chain.ledger import Balances
from core import offers
from core.custody import exported
from core.offers import OnItsWay, on_its_way, spends
from core.ports import Ports
from core.results import Offered, Refused

ITEM_BYTES = 32  # GroToken.redeem records the item as one bytes32: the name's UTF-8, cut to fit


async def balances(ports: Ports, member_id: str) -> Balances:
    """The resident's Food-USD, GRO, veGRO and lock, in one node round trip."""
    return await ports.ledger.balances(await ports.wallet(member_id))


@dataclass(frozen=True)
class Spendable:
    """What a member may still spend: what the chain holds (`chain`) less what their confirmed actions not done
    yet will take (`coming`). Every summary's "after" and every "not enough" check goes by it, so a second
    action confirmed before the first is mined is not promised money the first takes."""

    chain: Balances
    coming: OnItsWay

    @property
    def food_usd(self) -> int:
        return max(self.chain.food_usd - self.coming.food_usd, 0)

    @property
    def gro(self) -> int:
        return max(self.chain.gro - self.coming.gro, 0)


async def spendable(ports: Ports, member_id: str) -> Spendable:
    return Spendable(*await asyncio.gather(balances(ports, member_id), on_its_way(ports.uow, member_id)))


@dataclass(frozen=True)
class SendTerms:
    to_member_id: str
    to_name: str  # how the recipient is named in the chat: their alias, else their channel's id
    amount: int  # Food-USD, minor units
    balance_after: int
    on_its_way: int = 0  # Food-USD the member's earlier confirmed actions are taking, counted in balance_after


async def send(ports: Ports, member: int, member_id: str, to: int, amount: int) -> Offered[SendTerms] | Refused:
    """`member` (row id; `member_id` the resident) sends `amount` Food-USD to the member of row `to`.
    Refused: exported, no_member (`to`), to_self, not_positive, over_balance (`amount`, `balance`, `on_its_way`:
    what the member's confirmed actions are taking, already left out of `balance`)."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    async with ports.uow.read() as session:
        recipient = await session.get(Member, to)
    if recipient is None:
        return Refused("no_member", {"to": to})
    if recipient.member_id == member_id:  # also the resident's other channel (/link): the same wallet
        return Refused("to_self")
    if amount <= 0:
        return Refused("not_positive")
    held = await spendable(ports, member_id)
    if amount > held.food_usd:
        return Refused("over_balance", {"amount": amount, "balance": held.food_usd,
                                        "on_its_way": held.coming.food_usd})
    terms = SendTerms(recipient.member_id, recipient.name, amount, held.food_usd - amount, held.coming.food_usd)
    # The recipient is named for the outcome (bot/announce.py tells them too); not `for_member_id`, which marks
    # an admin's offer.
    token = await offers.offer(ports.uow, ports.clock, member, "transfer", {
        "intent": {"to": await ports.wallet(recipient.member_id), "amount": str(amount)},
        "recipient": recipient.member_id, "to_name": recipient.name, **spends(food_usd=amount)})
    return Offered(token, terms)


def item_bytes(item: str) -> bytes:
    """The item's name as GroToken records it: UTF-8, cut at a whole character to fit 32 bytes, zero-padded."""
    while len(item.encode()) > ITEM_BYTES:
        item = item[:-1]
    return item.encode().ljust(ITEM_BYTES, b"\0")


def item_text(recorded: bytes) -> str:
    """The item's name back from its bytes32 ("" when none, or when it is not a name: an older hashed one)."""
    try:
        text = recorded.rstrip(b"\0").decode()
    except UnicodeDecodeError:
        return ""
    return text if text.isprintable() else ""


@dataclass(frozen=True)
class RedeemTerms:
    amount: int  # GRO, minor units
    item: str  # as it will be recorded (possibly shortened); "" for none
    gro_after: int
    on_its_way: int = 0  # GRO the member's earlier confirmed actions are taking, counted in gro_after


async def redeem(ports: Ports, member: int, member_id: str, amount: int, item: str) -> Offered[RedeemTerms] | Refused:
    """Burns `amount` GRO for produce taken from the grow room (`item`, optional, is recorded with it).
    Refused: exported, not_positive, over_held (`amount`, `held`, `on_its_way` as for `send`; `locked` and
    `unlock_time`: GRO in the vote escrow, which cannot be spent before then)."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    if amount <= 0:
        return Refused("not_positive")
    held = await spendable(ports, member_id)
    if amount > held.gro:
        return Refused("over_held", {"amount": amount, "held": held.gro, "on_its_way": held.coming.gro,
                                     "locked": held.chain.locked, "unlock_time": held.chain.unlock_time})
    recorded = item_bytes(" ".join(item.split()))
    token = await offers.offer(ports.uow, ports.clock, member, "redeem", {"intent": {
        "amount": str(amount), "redemption_id": "0x" + secrets.token_hex(32), "item": "0x" + recorded.hex()},
        **spends(gro=amount)})
    return Offered(token, RedeemTerms(amount, item_text(recorded), held.gro - amount, held.coming.gro))
