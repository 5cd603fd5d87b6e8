"""A resident's own money: what they hold, Food-USD sent to a neighbour, GRO redeemed for produce.

Each checks what can be checked before the chain (the amount, what the member holds, that the co-op still
acts for their account) and offers the action for confirmation (core/offers.py).
"""
import secrets
from dataclasses import dataclass

from bot.store import Member
from chain.ledger import Balances
from core import offers
from core.custody import exported
from core.ports import Ports
from core.results import Offered, Refused

ITEM_BYTES = 32  # GroToken.redeem records the item as one bytes32: the name's UTF-8, cut to fit


async def balances(ports: Ports, member_id: str) -> Balances:
    """The resident's Food-USD, GRO, veGRO and lock, in one node round trip."""
    return await ports.ledger.balances(await ports.wallet(member_id))


@dataclass(frozen=True)
class SendTerms:
    to_member_id: str
    to_name: str  # how the recipient is named in the chat: their alias, else their channel's id
    amount: int  # Food-USD, minor units
    balance_after: int


async def send(ports: Ports, member: int, member_id: str, to: int, amount: int) -> Offered[SendTerms] | Refused:
    """`member` (row id; `member_id` the resident) sends `amount` Food-USD to the member of row `to`.
    Refused: exported, no_member (`to`), to_self, not_positive, over_balance (`amount`, `balance`)."""
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
    held = (await balances(ports, member_id)).food_usd
    if amount > held:
        return Refused("over_balance", {"amount": amount, "balance": held})
    terms = SendTerms(recipient.member_id, recipient.name, amount, held - amount)
    # The recipient is named for the outcome (bot/announce.py tells them too); not `for_member_id`, which marks
    # an admin's offer.
    token = await offers.offer(ports.uow, ports.clock, member, "transfer", {
        "intent": {"to": await ports.wallet(recipient.member_id), "amount": str(amount)},
        "recipient": recipient.member_id, "to_name": recipient.name})
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


async def redeem(ports: Ports, member: int, member_id: str, amount: int, item: str) -> Offered[RedeemTerms] | Refused:
    """Burns `amount` GRO for produce taken from the grow room (`item`, optional, is recorded with it).
    Refused: exported, not_positive, over_held (`amount`, `held`; `locked` and `unlock_time`: GRO in the vote
    escrow, which cannot be spent before then)."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    if amount <= 0:
        return Refused("not_positive")
    held = await balances(ports, member_id)
    if amount > held.gro:
        return Refused("over_held", {"amount": amount, "held": held.gro, "locked": held.locked,
                                     "unlock_time": held.unlock_time})
    recorded = item_bytes(" ".join(item.split()))
    token = await offers.offer(ports.uow, ports.clock, member, "redeem", {"intent": {
        "amount": str(amount), "redemption_id": "0x" + secrets.token_hex(32), "item": "0x" + recorded.hex()}})
    return Offered(token, RedeemTerms(amount, item_text(recorded), held.gro - amount))
