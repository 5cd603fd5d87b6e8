"""Joining with an invite (core/onboarding.py decides it), choosing a language, help and the menus (the admins' too)."""
from core import onboarding as use
from core.members import set_language
from core.onboarding import Newcomer
from core.results import Refused
from handlers.base import Button, Context, Reply
from handlers.doorstep import minutes, read_code
from locales import LANGUAGES, format_number, match_language

LANGUAGE_NAMES = {"en": "English", "es": "Español", "bn": "বাংলা", "fr": "Français"}
LANG = "lang:"


async def start(ctx: Context, args: list[str]) -> list[Reply]:
    """/start [INVITE]: a stranger with a valid invite becomes a member (a new resident) and picks a language."""
    inbound = ctx.inbound
    result = await use.start(ctx.services.core, ctx.services.accounts,
                             ctx.services.invite_attempts,
                             Newcomer(inbound.channel, inbound.user, inbound.chat_id or inbound.user, inbound.alias),
                             read_code(args) if args else None, admin=await ctx.is_admin())
    if not isinstance(result, Refused):
        ctx.member = result.member
        return [language_choice(ctx)]
    match result.reason:
        case "already_member":
            text = ctx.t("Welcome back! Send /menu to see what you can do.")
        case "invite_needed":
            text = ctx.t("Welcome! To join the co-op's assistant you need an invite code from an admin. "
                         "Send it like this: /start CODE")
        case "throttled":
            n = minutes(result.facts["wait"])
            text = ctx.tn("Too many invite codes were tried that did not work. For everyone's safety, please wait "
                          "{minutes} minute and try again.",
                          "Too many invite codes were tried that did not work. For everyone's safety, please wait "
                          "{minutes} minutes and try again.", n, minutes=format_number(n, ctx.lang))
        case "invalid_invite":
            text = ctx.t("Sorry, that invite code is not valid (it may be used or expired). "
                         "Please ask an admin for a new one.")
        case _:
            raise ValueError(f"no wording for the refusal {result.reason!r}")
    return [ctx.reply(text)]


def language_choice(ctx: Context) -> Reply:
    """The four languages as buttons, the client's own first."""
    hinted = match_language(ctx.inbound.lang_hint)
    order = [hinted] + [lang for lang in LANGUAGES if lang != hinted]
    buttons = [[Button(LANGUAGE_NAMES[lang], LANG + lang)] for lang in order]
    return ctx.reply("Choose your language · Elige tu idioma · আপনার ভাষা বেছে নিন · Choisissez votre langue", buttons)


async def choose_language(ctx: Context, lang: str, first_time: bool) -> list[Reply]:
    if lang not in LANGUAGES:
        return [language_choice(ctx)]
    await set_language(ctx.services.core.uow, ctx.member.id, lang)
    ctx.lang = lang
    if first_time:
        return [ctx.reply(ctx.t("Welcome to the co-op! Food-USD is money for group food orders: one Food-USD is one "
                                "dollar you gave an admin in cash. GroToken (GRO) is earned by growing food in the "
                                "co-op's room, and lets you vote on co-op decisions.")), await menu_reply(ctx)]
    return [ctx.reply(ctx.t("Done. I will speak English with you."))]


async def lang(ctx: Context, args: list[str]) -> list[Reply]:
    """/lang en|es|bn|fr"""
    if args and args[0].lower() in LANGUAGES:
        return await choose_language(ctx, args[0].lower(), first_time=False)
    return [language_choice(ctx)]


async def help_(ctx: Context, args: list[str]) -> list[Reply]:
    lines = [ctx.t("I help the co-op buy food together and make decisions."),
             ctx.t("/balance – your Food-USD, GRO and voting power"),
             ctx.t("/orders – open group orders · /join ORDER UNITS – join one"),
             ctx.t("/tolerance ORDER UNITS – extra units you would take so the last case is bought whole"),
             ctx.t("/claim – get back now what a closed order owes you"),
             ctx.t("/send MEMBER AMOUNT – Food-USD to a neighbour · /redeem AMOUNT [ITEM] – spend GRO on produce"),
             ctx.t("/lock AMOUNT WEEKS – lock GRO for voting power (/lock add, /lock extend) · /unlock – take it "
                   "back once the lock has ended"),
             ctx.t("/proposals – co-op proposals · /vote PROPOSAL yes|no|abstain VOTES"),
             ctx.t("/readings – the grow room's sensors · /alerts on|off – their alerts"),
             ctx.t("/explain – Food-USD, GRO, veGRO and quadratic voting in plain words"),
             ctx.t("/lang – change language · /menu – buttons for everything"),
             ctx.t("You can also just write, for example: how much do I have?")]
    if ctx.member is None:
        lines.append(ctx.t("To join, ask an admin for an invite code and send /start CODE."))
    elif ctx.inbound.chat == "private" and await ctx.is_admin():  # the group hears the residents' help only
        lines += ["", ctx.t("For admins (/admin – their menu):"), *admin_lines(ctx)]
    return [ctx.reply("\n".join(lines))]


def admin_lines(ctx: Context) -> list[str]:
    """The admins' commands (handlers/admin.py's table), a short line each."""
    return [ctx.t("/invite [COUNT] – invite codes for new members · /link MEMBER – the same member on another phone "
                  "or app"),
            ctx.t("/members [PAGE] – who is in · /broadcast TEXT – a message to every member"),
            ctx.t("/neworder PRODUCT PRICE TARGET [MINIMUM] [DAYS] [CASE_SIZE] – open a group order · /closeorder "
                  "ORDER – close one now"),
            ctx.t("/deposit MEMBER AMOUNT – cash you received · /withdraw MEMBER AMOUNT – cash you paid out"),
            ctx.t("/certify MEMBER BATCH KG [GRADE] – GRO for produce grown in the co-op's room"),
            ctx.t("/stats – the pilot's figures · /feedback list – what members said, newest first"),
            ctx.t("/threshold [SITE] READING LOW HIGH – a sensor's safe band · /device – the boards that are heard")]


async def menu_reply(ctx: Context) -> Reply:
    rows = [[Button(ctx.t("Balance"), "cmd:balance"), Button(ctx.t("Orders"), "cmd:orders")],
            [Button(ctx.t("History"), "cmd:history"), Button(ctx.t("Proposals"), "cmd:proposals")],
            [Button(ctx.t("Sensors"), "cmd:readings"), Button(ctx.t("Alerts"), "cmd:alerts")],
            [Button(ctx.t("What is…?"), "cmd:explain"), Button(ctx.t("Language"), "cmd:lang")],
            [Button(ctx.t("Help"), "cmd:help")]]
    if await ctx.is_admin():
        rows[-1].append(Button(ctx.t("Admin menu"), "cmd:admin"))
    return ctx.reply(ctx.t("What would you like to do?"), rows)


async def menu(ctx: Context, args: list[str]) -> list[Reply]:
    return [await menu_reply(ctx)]


async def admin_menu(ctx: Context, args: list[str]) -> list[Reply]:
    """/admin: the admins' commands, and buttons for those used most (one without its words says what to add)."""
    rows = [[Button(ctx.t("Invite"), "cmd:invite"), Button(ctx.t("Members"), "cmd:members")],
            [Button(ctx.t("New order"), "cmd:neworder"), Button(ctx.t("Orders"), "cmd:orders")],
            [Button(ctx.t("Deposit"), "cmd:deposit"), Button(ctx.t("Withdraw"), "cmd:withdraw")],
            [Button(ctx.t("Feedback"), "cmd:feedback list"), Button(ctx.t("Figures"), "cmd:stats")],
            [Button(ctx.t("Boards"), "cmd:device"), Button(ctx.t("Help"), "cmd:help")]]
    return [ctx.reply("\n".join([ctx.t("What would you like to do as an admin?"), *admin_lines(ctx)]), rows)]
