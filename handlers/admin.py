"""What admins do, in the chat: invites, cash deposits, certified produce, broadcasts and the pilot's figures
(new orders: handlers/neworder.py), and the admins' own help and menu. The numbers and names are read from the
admin's words, the use cases (core/admin.py, core/metrics.py) called with them, and their results worded in the
admin's language."""
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.identity import identity_key
from core import admin as use
from core.metrics import ACTIVE_DAYS, pilot_metrics
from core.results import Refused
from handlers import alerts, confirm, devices, neworder, onboarding
from handlers.base import Context, Reply
from handlers.doorstep import invite_links, show_code
from handlers.numbers import bad_number
from handlers.residents import find_member, link, member_and_cash
from handlers.treasury import COMMANDS as TREASURY
from locales import (AmountError, Translator, format_clock, format_day, format_gro, format_money, format_number,
                     parse_amount, parse_count)


async def invite(ctx: Context, args: list[str]) -> list[Reply]:
    """/invite [COUNT]: single-use codes, valid for two weeks."""
    usage = ctx.t("Send how many invites you want, from 1 to {max}, for example: /invite 3",
                  max=format_number(use.MAX_INVITES, ctx.lang))
    try:
        count = parse_count(args[0], ctx.lang) if args else 1
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    made = await use.invite(ctx.services.core, identity_key(ctx.inbound.channel, ctx.inbound.user), count)
    if isinstance(made, Refused):  # count: the only refusal
        return [ctx.reply(usage)]
    codes = made.codes
    # A link to tap for each (the chat opens with /start CODE in it), and the plain code beside it.
    links = [invite_links(code, ctx.services.telegram_username, ctx.services.settings.whatsapp_number)
             for code in codes]
    blocks = ["\n".join([show_code(code), *code_links]) for code, code_links in zip(codes, links)]
    count = len(codes)
    if links[0]:
        heading = ctx.tn("Invite (it works once, for two weeks). The new member taps a link, or sends /start CODE:",
                         "Invites (each works once, for two weeks). Each new member taps their link, or sends "
                         "/start CODE:", count)
    else:  # no channel to link to (the console; WhatsApp without COOP_WHATSAPP_NUMBER)
        heading = ctx.tn("Invite (it works once, for two weeks). The new member sends /start CODE:",
                         "Invites (each works once, for two weeks). Each new member sends /start CODE:", count)
    return [ctx.reply("\n\n".join([heading, *blocks]))]


async def deposit(ctx: Context, args: list[str]) -> list[Reply]:
    """/deposit MEMBER AMOUNT: records cash an admin received; mints Food-USD to the member (confirmed first)."""
    usage = ctx.t("Send: /deposit MEMBER AMOUNT, for example: /deposit ana {amount}",
                  amount=format_number(Decimal("20.00"), ctx.lang, decimals=2))
    found = await member_and_cash(ctx, args, usage)
    if isinstance(found, list):
        return found
    member, amount = found
    result = await use.deposit(ctx.services.core, ctx.member.id, ctx.inbound.user, member.member_id, amount)
    if isinstance(result, Refused):  # amount: zero, nothing to deposit (member_and_cash says so first)
        return [ctx.reply(usage)]
    summary = ctx.t("Record a cash deposit of {amount} for {name}? It gives them {amount} in Food-USD.",
                    amount=format_money(result.terms.amount, ctx.lang), name=member.name)
    return confirm.buttons(ctx, result.token, summary)


async def certify(ctx: Context, args: list[str]) -> list[Reply]:
    """/certify MEMBER BATCH KG [GRADE]: GRO for a certified batch of produce (confirmed first)."""
    usage = ctx.t("Send: /certify MEMBER BATCH KG [GRADE], for example: /certify ana lettuce-0412 {kg}",
                  kg=format_number(Decimal("2.5"), ctx.lang, decimals=1))
    if not 3 <= len(args) <= 4:
        return [ctx.reply(usage)]
    try:
        kg = parse_amount(args[2], ctx.lang, decimals=3)
    except AmountError as e:
        return bad_number(ctx, e, args[2], usage)
    try:
        grade = parse_count(args[3], ctx.lang) if len(args) > 3 else 1
    except AmountError as e:
        return bad_number(ctx, e, args[3], usage)
    member, refusal = await find_member(ctx, args[0])
    if refusal is not None:
        return [refusal]
    result = await use.certify(ctx.services.core, ctx.member.id, member.member_id, args[1], int(kg * 1000), grade)
    if isinstance(result, Refused):
        return [ctx.reply(_certify_refusal(ctx, result) or usage)]
    summary = ctx.t("Certify batch {batch}: {kg} kg grown by {name}? They earn GRO for it.", batch=result.terms.batch,
                    kg=format_number(kg, ctx.lang), name=member.name)
    return confirm.buttons(ctx, result.token, summary)


def _certify_refusal(ctx: Context, refused: Refused) -> str | None:
    """Why not, in words (None: the usage says it); the caps are those governance set (GroToken)."""
    f = refused.facts
    match refused.reason:
        case "weight" | "grade":
            return None
        case "already_certified":
            return ctx.t("Batch {batch} was already certified; a batch earns GRO once.", batch=f["batch"])
        case "worth_nothing":
            return ctx.t("This batch would earn no GRO: check its weight and try again.")
        case "over_batch_cap":
            return ctx.t("This batch would earn {gro} GRO, more than the {cap} GRO one batch may earn (a limit the "
                         "members set by vote): at most {kg} kg a batch. A batch is one harvest; if this one really "
                         "weighs more, ask the members to raise the limit with a proposal.",
                         gro=format_gro(f["gro"], ctx.lang), cap=format_gro(f["cap"], ctx.lang),
                         kg=format_number(Decimal(f["most_grams"]) / 1000, ctx.lang))
        case "over_period_cap":
            when = datetime.fromtimestamp(f["until"], ZoneInfo(ctx.services.settings.timezone))
            return ctx.t("This batch would earn {gro} GRO, but only {room} GRO more may be certified until {day} at "
                         "{clock} (a limit the members set by vote). Certify it then, or ask the members to raise the "
                         "limit with a proposal.", gro=format_gro(f["gro"], ctx.lang),
                         room=format_gro(f["room"], ctx.lang), day=format_day(when, ctx.lang),
                         clock=format_clock(when, ctx.lang))
    raise ValueError(f"no wording for the refusal {refused.reason!r}")


async def broadcast(ctx: Context, args: list[str]) -> list[Reply]:
    """/broadcast TEXT: every member hears it, introduced in their own language."""
    text = " ".join(args).strip()
    if not text:
        return [ctx.reply(ctx.t("Send: /broadcast TEXT"))]
    audience = await use.broadcast_audience(ctx.services.core)
    for member in audience.channels:
        intro = Translator(member.lang or "en").t("Message from the co-op: {text}", text=text)
        await ctx.services.push(member.channel, Reply(member.handle, intro))
    return [ctx.reply(ctx.tn("Sent to {count} member.", "Sent to {count} members.", audience.members,
                             count=format_number(audience.members, ctx.lang)))]


async def stats(ctx: Context, args: list[str]) -> list[Reply]:
    """/stats: the pilot's figures (participation, speed, satisfaction), each saying what it counts."""
    m = await pilot_metrics(ctx.services.core, ctx.services.admins)

    def n(value: int) -> str:
        return format_number(value, ctx.lang)

    lines = [
        ctx.t("Members: {members} (admins: {admins}; joined with an invite code: {joined}).", members=n(m.members),
              admins=n(m.admins), joined=n(m.joined_by_invite)),
        ctx.t("Invites made with /invite: {made} (used: {used}; still open: {open}; expired unused: {expired}).",
              made=n(m.invites), used=n(m.invites_used), open=n(m.invites_open), expired=n(m.invites_expired)),
        ctx.tn("Members who wrote in the last {count} day: {active} of {members}.",
               "Members who wrote in the last {count} days: {active} of {members}.", ACTIVE_DAYS,
               count=n(ACTIVE_DAYS), active=n(m.active), members=n(m.members)),
        ctx.t("Members who ever joined an order or voted: {count} of {members}.", count=n(m.participating),
              members=n(m.members)),
        ctx.tn("Confirm to done, over {count} confirmed action: median {p50} s, 95% within {p95} s.",
               "Confirm to done, over {count} confirmed actions: median {p50} s, 95% within {p95} s.", m.timed,
               count=n(m.timed), p50=format_number(Decimal(m.median_ms) / 1000, ctx.lang, decimals=1),
               p95=format_number(Decimal(m.p95_ms) / 1000, ctx.lang, decimals=1)) if m.timed
        else ctx.t("No confirmed actions yet."),
        ctx.tn("Satisfaction: {score} of 5 from {count} answer.", "Satisfaction: {score} of 5 from {count} answers.",
               m.feedback, score=format_number(Decimal(m.satisfaction).quantize(Decimal("0.1")), ctx.lang, decimals=1),
               count=format_number(m.feedback, ctx.lang)) if m.feedback else ctx.t("No feedback yet."),
    ]
    return [ctx.reply("\n".join(lines))]


COMMANDS = {
    "admin": onboarding.admin_menu,
    "invite": invite,
    "neworder": neworder.new_order,
    "deposit": deposit,
    "certify": certify,
    "broadcast": broadcast,
    "stats": stats,
    "threshold": alerts.threshold,
    "device": devices.device,
    "link": link,
    **TREASURY,  # /closeorder, /withdraw, /members
}
