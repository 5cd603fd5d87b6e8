"""What admins do: invite codes, new orders, cash deposits, certified produce and broadcasts.

Each checks what can be checked before the chain (an order's terms as GroupBuy will check them, the
certification caps the members voted) and refuses with the numbers that say why; a new order, a deposit or a
certification is offered for confirmation (core/offers.py), an admin's offer that needs an admin when confirmed.
"""
import asyncio
import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_utils import keccak
from sqlalchemy import select

from bot.store import Invite, Member, Product
from core import offers
from core.orders import product_id
from core.ports import Ports, utc
from core.results import Offered, Refused

MAX_INVITES = 20  # codes one /invite makes
INVITE_DAYS = 14
CODE_BYTES = 10  # 80 bits: 16 base32 characters with no padding, too many to guess (handlers/doorstep.py)
DEFAULT_ORDER_DAYS = 7
MAX_ORDER_DAYS = 90  # GroupBuy.MAX_ORDER_DURATION: the chain refuses a later deadline
MAX_GRADE = 255  # GroToken takes a grade as uint8
MAX_PRODUCT = 120  # characters of a product's name (bot_products.name)


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class Invites:
    codes: list[str]  # single-use
    expires_at: datetime  # naive UTC


async def invite(ports: Ports, created_by: str, count: int) -> Invites | Refused:
    """`count` codes for new residents, made by `created_by` (their channel identity), all written in one
    transaction. Refused: count (`most`)."""
    if not 1 <= count <= MAX_INVITES:
        return Refused("count", {"most": MAX_INVITES})
    made = Invites([new_code() for _ in range(count)], utc(ports.clock) + timedelta(days=INVITE_DAYS))
    async with ports.uow() as session:
        session.add_all(Invite(code=code, created_by=created_by, expires_at=made.expires_at) for code in made.codes)
    return made


async def link_code(ports: Ports, created_by: str, member_id: str) -> Invites:
    """A code that makes the chat it is sent from (with /start) resident `member_id` too: the same wallet, one vote."""
    made = Invites([new_code()], utc(ports.clock) + timedelta(days=INVITE_DAYS))
    async with ports.uow() as session:
        session.add(Invite(code=made.codes[0], created_by=created_by, for_member_id=member_id,
                           expires_at=made.expires_at))
    return made


@dataclass(frozen=True)
class OrderTerms:
    """An order offered to the admin who asked for it; once confirmed it is asked of the chain, and the admin and
    the group hear its number when it is open (bot/announce.py)."""

    product: str
    unit_price: int  # Food-USD, minor units
    target_units: int
    min_units: int
    days: int
    case_size: int
    deadline: int  # seconds since the epoch: `days` from the offer


async def new_order(ports: Ports, admin: int, supplier: str, asked_by: tuple[str, str], product: str,
                    unit_price: int, target_units: int, min_units: int | None = None, days: int = DEFAULT_ORDER_DAYS,
                    case_size: int = 1) -> Offered[OrderTerms] | Refused:
    """Admin `admin` (their row id) offers an order of `product` from `supplier` (the co-op's treasurer account:
    the treasurer pays the real supplier), asked by `asked_by` (channel, handle: told when it is open); it opens
    once confirmed. The product's name and the offer are written in one transaction. Refused: product (no name,
    or longer than `most`); and as GroupBuy would refuse it: price (not above zero), units (`which`: target,
    minimum or case_size, not above zero), minimum_over_target (`minimum`, `target`), days (`most`), whole_cases
    (`case`, and `lower` and `higher` targets that are whole cases)."""
    min_units = target_units if min_units is None else min_units
    product = product.strip()
    if not 1 <= len(product) <= MAX_PRODUCT:
        return Refused("product", {"most": MAX_PRODUCT})
    if unit_price <= 0:
        return Refused("price")
    for which, count in (("target", target_units), ("minimum", min_units), ("case_size", case_size)):
        if count < 1:
            return Refused("units", {"which": which})
    if min_units > target_units:
        return Refused("minimum_over_target", {"minimum": min_units, "target": target_units})
    if not 1 <= days <= MAX_ORDER_DAYS:
        return Refused("days", {"most": MAX_ORDER_DAYS})
    if target_units % case_size:
        lower = max(target_units - target_units % case_size, case_size)
        return Refused("whole_cases", {"case": case_size, "lower": lower, "higher": lower + case_size})
    # The deadline is fixed when offered, so the one the admin confirms is the one the chain gets.
    terms = OrderTerms(product, unit_price, target_units, min_units, days, case_size,
                       int(ports.clock.now()) + days * 86400)
    intent = {"supplier": supplier, "product": product_id(product), "unit_price": unit_price,
              "target_units": target_units, "min_units": min_units, "max_units_per_member": target_units,
              "case_size": case_size, "deadline": terms.deadline,
              # not for the chain: who asked, to tell them and the group when the order is open
              "announce": {"channel": asked_by[0], "to": asked_by[1], "product": product}}
    async with ports.uow() as session:
        if await session.get(Product, product_id(product)) is None:
            session.add(Product(product_id=product_id(product), name=product))
        token = offers.add(session, ports.clock, admin, "create_order", {"intent": intent}, by_admin=True)
    return Offered(token, terms)


@dataclass(frozen=True)
class DepositTerms:
    member_id: str  # the resident the cash is for
    amount: int  # Food-USD, minor units


async def deposit(ports: Ports, admin: int, admin_handle: str, member_id: str,
                  amount: int) -> Offered[DepositTerms] | Refused:
    """Admin `admin` (their row id; `admin_handle` their handle, kept in the deposit's reference) received
    `amount` in cash for resident `member_id`: Food-USD minted to them, once confirmed. Refused: amount (zero)."""
    if amount <= 0:
        return Refused("amount")
    ref = f"cash:{admin_handle}:{secrets.token_hex(8)}"
    token = await offers.offer(ports.uow, ports.clock, admin, "deposit",
                               {"for_member_id": member_id, "intent": {"amount": amount, "ref": ref}}, by_admin=True)
    return Offered(token, DepositTerms(member_id, amount))


@dataclass(frozen=True)
class CertifyTerms:
    member_id: str  # who grew it
    batch: str
    grams: int
    grade: int
    gro: int  # what it earns, GRO's 18 decimals


def batch_id(batch: str) -> bytes:
    return keccak(text=batch)  # as chain.intents hashes a batch id that is not already 0x-hex


async def certify(ports: Ports, admin: int, member_id: str, batch: str, grams: int,
                  grade: int = 1) -> Offered[CertifyTerms] | Refused:
    """Admin `admin` (their row id) certifies `grams` of produce in `batch`, grown by resident `member_id`: GRO
    minted to them, once confirmed, within the caps the members set by vote (GroToken). Refused: weight (not
    above zero), grade (above 255), already_certified (`batch`), worth_nothing, over_batch_cap (`gro`, `cap`,
    `most_grams`), over_period_cap (`gro`, `room`, `until`: when the period ends, seconds since the epoch)."""
    if grams <= 0:
        return Refused("weight")
    if not 0 <= grade <= MAX_GRADE:
        return Refused("grade", {"most": MAX_GRADE})
    certified, terms = await asyncio.gather(ports.ledger.certified(batch_id(batch)), ports.ledger.certification())
    if certified:
        return Refused("already_certified", {"batch": batch})
    earned = grams * terms.rate_per_kg // 1000  # as GroToken.certify computes it
    if earned == 0:
        return Refused("worth_nothing")
    if earned > terms.max_per_batch:
        return Refused("over_batch_cap", {"gro": earned, "cap": terms.max_per_batch,
                                          "most_grams": terms.max_per_batch * 1000 // terms.rate_per_kg})
    if earned > terms.room:
        return Refused("over_period_cap", {"gro": earned, "room": terms.room, "until": terms.period_ends})
    token = await offers.offer(ports.uow, ports.clock, admin, "certify",
                               {"for_member_id": member_id, "gro": earned,  # gro: to tell the admin
                                "intent": {"batch_id": batch, "grams": grams, "grade": grade}}, by_admin=True)
    return Offered(token, CertifyTerms(member_id, batch, grams, grade, earned))


@dataclass(frozen=True)
class Audience:
    channels: list[Member]  # every channel of every member who has not blocked the bot there
    members: int  # the residents they are (one resident on two channels is one)


async def broadcast_audience(ports: Ports) -> Audience:
    """Who hears a broadcast."""
    async with ports.uow.read() as session:
        rows = list((await session.execute(select(Member).where(Member.blocked.is_(False)))).scalars())
    return Audience(rows, len({row.member_id for row in rows}))
