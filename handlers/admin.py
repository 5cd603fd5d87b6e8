"""What admins do: invites, new orders, cash deposits, certified produce, broadcasts and the pilot's figures."""
import secrets
import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from eth_utils import keccak

from bot.identity import identity_key
from bot.store import Invite, Member, Product
from chain.ledger import FOOD_USD
from core.orders import product_id
from handlers import alerts, confirm, devices
from handlers.base import Context, Reply
from handlers.doorstep import invite_links, new_code, show_code
from handlers.metrics import pilot_metrics
from handlers.onboarding import invite_expiry
from handlers.residents import find_member, link
from locales import (AmountError, Translator, format_clock, format_day, format_gro, format_money, format_number,
                     parse_amount, parse_count)

MAX_INVITES = 20
DEFAULT_ORDER_DAYS = 7
MAX_ORDER_DAYS = 90  # GroupBuy.MAX_ORDER_DURATION: the chain refuses a later deadline


async def invite(ctx: Context, args: list[str]) -> list[Reply]:
    """/invite [COUNT]: single-use codes, valid for two weeks."""
    try:
        count = parse_count(args[0], ctx.lang) if args else 1
    except AmountError:
        count = 0
    if not 1 <= count <= MAX_INVITES:
        return [ctx.reply(ctx.t("Send how many invites you want, from 1 to {max}, for example: /invite 3",
                                max=format_number(MAX_INVITES, ctx.lang)))]
    codes = [new_code() for _ in range(count)]
    async with ctx.services.sessions() as session, session.begin():
        for code in codes:
            session.add(Invite(code=code, created_by=identity_key(ctx.inbound.channel, ctx.inbound.user),
                               expires_at=invite_expiry()))
    # A link to tap for each (the chat opens with /start CODE in it), and the plain code beside it.
    links = [invite_links(code, ctx.services.telegram_username, ctx.services.settings.whatsapp_number)
             for code in codes]
    blocks = ["\n".join([show_code(code), *code_links]) for code, code_links in zip(codes, links)]
    if links[0]:
        heading = ctx.tn("Invite (it works once, for two weeks). The new member taps a link, or sends /start CODE:",
                         "Invites (each works once, for two weeks). Each new member taps their link, or sends "
                         "/start CODE:", count)
    else:  # no channel to link to (the console; WhatsApp without COOP_WHATSAPP_NUMBER)
        heading = ctx.tn("Invite (it works once, for two weeks). The new member sends /start CODE:",
                         "Invites (each works once, for two weeks). Each new member sends /start CODE:", count)
    return [ctx.reply("\n\n".join([heading, *blocks]))]


async def new_order(ctx: Context, args: list[str]) -> list[Reply]:
    """/neworder PRODUCT UNIT_PRICE TARGET_UNITS [MIN_UNITS] [DAYS] [CASE_SIZE]"""
    usage = ctx.t("Send: /neworder PRODUCT UNIT_PRICE TARGET_UNITS [MIN_UNITS] [DAYS] [CASE_SIZE], for example: "
                  "/neworder rice {price} 20 10 7 5", price=format_number(Decimal("18.50"), ctx.lang, decimals=2))
    if not 3 <= len(args) <= 6:
        return [ctx.reply(usage)]
    try:
        price = parse_amount(args[1], ctx.lang)
        target = parse_count(args[2], ctx.lang)
        minimum = parse_count(args[3], ctx.lang) if len(args) > 3 else target
        days = parse_count(args[4], ctx.lang) if len(args) > 4 else DEFAULT_ORDER_DAYS
        case = parse_count(args[5], ctx.lang) if len(args) > 5 else 1
    except AmountError:
        return [ctx.reply(ctx.t("I could not read those numbers.") + " " + usage)]
    if price <= 0 or minimum > target:
        return [ctx.reply(usage)]
    if not 1 <= days <= MAX_ORDER_DAYS:
        return [ctx.reply(ctx.t("An order stays open from 1 to {max} days.", max=format_number(MAX_ORDER_DAYS, ctx.lang))
                          + " " + usage)]
    if target % case:
        return [ctx.reply(ctx.t("The supplier sells cases of {case}, so the target must be whole cases: {lower} or "
                                "{higher}, for example.", case=format_number(case, ctx.lang),
                                lower=format_number(max(target - target % case, case), ctx.lang),
                                higher=format_number(max(target - target % case, case) + case, ctx.lang)))]
    product = args[0]
    async with ctx.services.sessions() as session, session.begin():
        if await session.get(Product, product_id(product)) is None:
            session.add(Product(product_id=product_id(product), name=product))
    # The co-op's treasurer account is the supplier on chain: the treasurer pays the real supplier.
    params = {"supplier": ctx.services.treasurer_address, "product": product_id(product),
              "unit_price": int(price * FOOD_USD), "target_units": target, "min_units": minimum,
              "max_units_per_member": target, "case_size": case, "deadline": int(time.time()) + days * 86400,
              # not for the chain: who asked, to tell them and the group when the order is open
              "announce": {"channel": ctx.inbound.channel, "to": ctx.inbound.user, "product": product}}
    key = f"neworder:{secrets.token_hex(8)}"
    await ctx.services.outbox.submit(key, None, "create_order", params)
    text = ctx.t("Opening an order for {product}: {target} units at {price} each, for {days} days.",
                 product=product, target=format_number(target, ctx.lang),
                 price=format_money(int(price * FOOD_USD), ctx.lang), days=format_number(days, ctx.lang))
    if case > 1:
        text += " " + ctx.t("Bought in whole cases of {case}.", case=format_number(case, ctx.lang))
    return [ctx.reply(text)]


async def deposit(ctx: Context, args: list[str]) -> list[Reply]:
    """/deposit MEMBER AMOUNT: records cash an admin received; mints Food-USD to the member (confirmed first)."""
    usage = ctx.t("Send: /deposit MEMBER AMOUNT, for example: /deposit ana {amount}",
                  amount=format_number(Decimal("20.00"), ctx.lang, decimals=2))
    if len(args) != 2:
        return [ctx.reply(usage)]
    try:
        amount = parse_amount(args[1], ctx.lang)
    except AmountError as e:
        return [ctx.reply(ctx.t("That amount is not valid.") + " " + usage + (f" ({e.example})" if e.example else ""))]
    member, refusal = await find_member(ctx, args[0])
    if refusal is not None:
        return [refusal]
    minor = int(amount * FOOD_USD)
    summary = ctx.t("Record a cash deposit of {amount} for {name}? It gives them {amount} in Food-USD.",
                    amount=format_money(minor, ctx.lang), name=member.name)
    ref = f"cash:{ctx.inbound.user}:{secrets.token_hex(8)}"
    return await confirm.offer(ctx, "deposit", {"for_member_id": member.member_id,
                                                "intent": {"amount": minor, "ref": ref}}, summary)


async def certify(ctx: Context, args: list[str]) -> list[Reply]:
    """/certify MEMBER BATCH KG [GRADE]: GRO for a certified batch of produce (confirmed first)."""
    usage = ctx.t("Send: /certify MEMBER BATCH KG [GRADE], for example: /certify ana lettuce-0412 {kg}",
                  kg=format_number(Decimal("2.5"), ctx.lang, decimals=1))
    if not 3 <= len(args) <= 4:
        return [ctx.reply(usage)]
    try:
        kg = parse_amount(args[2], ctx.lang, decimals=3)
        grade = parse_count(args[3], ctx.lang) if len(args) > 3 else 1
    except AmountError as e:
        return [ctx.reply(ctx.t("That amount is not valid.") + " " + usage + (f" ({e.example})" if e.example else ""))]
    if kg <= 0 or grade > 255:
        return [ctx.reply(usage)]
    member, refusal = await find_member(ctx, args[0])
    if refusal is not None:
        return [refusal]
    batch = args[1]
    if await ctx.services.ledger.certified(_batch_id(batch)):
        return [ctx.reply(ctx.t("Batch {batch} was already certified; a batch earns GRO once.", batch=batch))]
    grams = int(kg * 1000)
    refusal = await _over_cap(ctx, grams)
    if refusal is not None:
        return [refusal]
    summary = ctx.t("Certify batch {batch}: {kg} kg grown by {name}? They earn GRO for it.",
                    batch=batch, kg=format_number(kg, ctx.lang), name=member.name)
    return await confirm.offer(ctx, "certify", {"for_member_id": member.member_id,
                                                "intent": {"batch_id": batch, "grams": grams, "grade": grade}}, summary)


async def _over_cap(ctx: Context, grams: int) -> Reply | None:
    """The certification caps governance set (GroToken), checked before the admin confirms: why not, in words."""
    terms = await ctx.services.ledger.certification()
    rate, per_batch, room, period_ends = terms.rate_per_kg, terms.max_per_batch, terms.room, terms.period_ends
    earned = grams * rate // 1000
    if earned == 0:
        return ctx.reply(ctx.t("This batch would earn no GRO: check its weight and try again."))
    if earned > per_batch:
        return ctx.reply(ctx.t("This batch would earn {gro} GRO, more than the {cap} GRO one batch may earn (a limit "
                               "the members set by vote): at most {kg} kg a batch. A batch is one harvest; if this "
                               "one really weighs more, ask the members to raise the limit with a proposal.",
                               gro=format_gro(earned, ctx.lang), cap=format_gro(per_batch, ctx.lang),
                               kg=format_number(Decimal(per_batch * 1000 // rate) / 1000, ctx.lang)))
    if earned > room:
        when = datetime.fromtimestamp(period_ends, ZoneInfo(ctx.services.settings.timezone))
        return ctx.reply(ctx.t("This batch would earn {gro} GRO, but only {room} GRO more may be certified until "
                               "{day} at {clock} (a limit the members set by vote). Certify it then, or ask the "
                               "members to raise the limit with a proposal.", gro=format_gro(earned, ctx.lang),
                               room=format_gro(room, ctx.lang), day=format_day(when, ctx.lang),
                               clock=format_clock(when, ctx.lang)))
    return None


def _batch_id(batch: str) -> bytes:
    return keccak(text=batch)  # as chain.intents hashes a batch id that is not already 0x-hex


async def broadcast(ctx: Context, args: list[str]) -> list[Reply]:
    """/broadcast TEXT: every member hears it, introduced in their own language."""
    text = " ".join(args).strip()
    if not text:
        return [ctx.reply(ctx.t("Send: /broadcast TEXT"))]
    async with ctx.services.sessions() as session:
        members = list((await session.execute(select(Member).where(Member.blocked.is_(False)))).scalars())
    for member in members:
        intro = Translator(member.lang or "en").t("Message from the co-op: {text}", text=text)
        await ctx.services.push(member.channel, Reply(member.handle, intro))
    return [ctx.reply(ctx.tn("Sent to {count} member.", "Sent to {count} members.", len(members),
                             count=format_number(len(members), ctx.lang)))]


async def stats(ctx: Context, args: list[str]) -> list[Reply]:
    """/stats: the pilot's metrics (participation, speed, satisfaction)."""
    m = await pilot_metrics(ctx.services)

    def n(value: int) -> str:
        return format_number(value, ctx.lang)

    lines = [
        ctx.t("Members: {members} (admins: {admins}; joined with an invite: {joined}).", members=n(m.members),
              admins=n(m.admins), joined=n(m.joined_by_invite)),
        ctx.t("Invites made: {made} (used: {used}; still open: {open}; expired unused: {expired}).",
              made=n(m.invites), used=n(m.invites_used), open=n(m.invites_open), expired=n(m.invites_expired)),
        ctx.t("Members who wrote this week: {active} of {members}.", active=n(m.weekly_active), members=n(m.members)),
        ctx.t("Members who joined an order or voted: {count} of {members}.", count=n(m.participating),
              members=n(m.members)),
        ctx.t("Confirm to done: median {p50} s, 95% within {p95} s.",
              p50=format_number(Decimal(m.median_ms) / 1000, ctx.lang, decimals=1),
              p95=format_number(Decimal(m.p95_ms) / 1000, ctx.lang, decimals=1)) if m.median_ms is not None
        else ctx.t("No confirmed actions yet."),
        ctx.t("Satisfaction: {score} of 5 from {count} answers.",
              score=format_number(Decimal(m.satisfaction).quantize(Decimal("0.1")), ctx.lang, decimals=1),
              count=format_number(m.feedback, ctx.lang)) if m.feedback else ctx.t("No feedback yet."),
    ]
    return [ctx.reply("\n".join(lines))]


COMMANDS = {
    "invite": invite,
    "neworder": new_order,
    "deposit": deposit,
    "certify": certify,
    "broadcast": broadcast,
    "stats": stats,
    "threshold": alerts.threshold,
    "device": devices.device,
    "link": link,
}
