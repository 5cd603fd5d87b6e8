"""Joining with an invite, choosing a language, help and the menu."""
import secrets
from datetime import timedelta

from sqlalchemy import update

from bot.identity import identity_key
from bot.store import Invite, Member
from chain.accounts import new_account
from chain.db import utcnow
from handlers.base import Button, Context, Reply
from handlers.doorstep import minutes, read_code
from locales import LANGUAGES, format_number, match_language

LANGUAGE_NAMES = {"en": "English", "es": "Español", "bn": "বাংলা", "fr": "Français"}
LANG = "lang:"
INVITE_DAYS = 14


async def start(ctx: Context, args: list[str]) -> list[Reply]:
    """/start [INVITE]: a stranger with a valid invite becomes a member (a new resident) and picks a language."""
    if ctx.member is not None:
        return [ctx.reply(ctx.t("Welcome back! Send /menu to see what you can do."))]
    if not args and not await ctx.is_admin():  # admins (COOP_ADMINS) need no invite
        return [ctx.reply(ctx.t("Welcome! To join the co-op's assistant you need an invite code from an admin. "
                                "Send it like this: /start CODE"))]
    code = read_code(args) if args else None
    sender = identity_key(ctx.inbound.channel, ctx.inbound.user)
    if code is not None and (wait := ctx.services.invite_attempts.take(sender)):
        n = minutes(wait)
        return [ctx.reply(ctx.tn("Too many invite codes were tried that did not work. For everyone's safety, please "
                                 "wait {minutes} minute and try again.",
                                 "Too many invite codes were tried that did not work. For everyone's safety, please "
                                 "wait {minutes} minutes and try again.", n, minutes=format_number(n, ctx.lang)))]
    # The resident's own id, made once: their wallet and their one vote hang on it, whatever the channel
    # calls them (a new username, a second channel linked with /link, are still this resident).
    member_id = f"r_{secrets.token_hex(8)}"
    if code is not None:
        async with ctx.services.sessions() as session:
            invite = await session.get(Invite, code)
        if not _usable(invite):
            return [_invalid_invite(ctx)]
        member_id = invite.for_member_id or member_id  # a /link code: this chat is that resident too
    # A new resident's key and account address are made first (a node call); then the member, the key, the
    # account and their registration on chain commit in one transaction: a crash or a failed write leaves
    # all or nothing, never a member who cannot vote (nothing kept: the same invite works again).
    linked = code is not None and invite.for_member_id is not None  # that resident has their account
    account = None if linked else await new_account(ctx.services.keystore, ctx.services.contracts, member_id)
    try:
        async with ctx.services.sessions() as session, session.begin():
            member = Member(channel=ctx.inbound.channel, handle=ctx.inbound.user, alias=ctx.inbound.alias,
                            chat_id=ctx.inbound.chat_id or ctx.inbound.user, member_id=member_id,
                            invite_code=code or "admin")
            session.add(member)
            await session.flush()
            if code is not None:
                claimed = await session.execute(update(Invite).where(Invite.code == code, Invite.used_by.is_(None))
                                                .values(used_by=member.id, used_at=utcnow()))
                if claimed.rowcount != 1:  # used a moment ago by someone else: nothing of this is kept
                    raise _InvalidInvite
            if account is not None:
                await account.add_to(session, ctx.services.keystore)
                ctx.services.outbox.add(session, f"register:{member_id}", member_id, "register",
                                        {"resident_id": member_id})
    except _InvalidInvite:
        return [_invalid_invite(ctx)]
    if code is not None:
        ctx.services.invite_attempts.give_back(sender)  # only failures count
    ctx.member = member
    return [language_choice(ctx)]


def language_choice(ctx: Context) -> Reply:
    """The four languages as buttons, the client's own first."""
    hinted = match_language(ctx.inbound.lang_hint)
    order = [hinted] + [lang for lang in LANGUAGES if lang != hinted]
    buttons = [[Button(LANGUAGE_NAMES[lang], LANG + lang)] for lang in order]
    return ctx.reply("Choose your language · Elige tu idioma · আপনার ভাষা বেছে নিন · Choisissez votre langue", buttons)


async def choose_language(ctx: Context, lang: str, first_time: bool) -> list[Reply]:
    if lang not in LANGUAGES:
        return [language_choice(ctx)]
    async with ctx.services.sessions() as session, session.begin():
        await session.execute(update(Member).where(Member.id == ctx.member.id).values(lang=lang))
    ctx.lang = lang
    if first_time:
        return [ctx.reply(ctx.t("Welcome to the co-op! Food-USD is money for group food orders: one Food-USD is one "
                                "dollar you gave an admin in cash. GroToken (GRO) is earned by growing food in the "
                                "co-op's room, and lets you vote on co-op decisions.")), menu_reply(ctx)]
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
    return [ctx.reply("\n".join(lines))]


def menu_reply(ctx: Context) -> Reply:
    rows = [[Button(ctx.t("Balance"), "cmd:balance"), Button(ctx.t("Orders"), "cmd:orders")],
            [Button(ctx.t("History"), "cmd:history"), Button(ctx.t("Proposals"), "cmd:proposals")],
            [Button(ctx.t("Sensors"), "cmd:readings"), Button(ctx.t("Alerts"), "cmd:alerts")],
            [Button(ctx.t("What is…?"), "cmd:explain"), Button(ctx.t("Language"), "cmd:lang")],
            [Button(ctx.t("Help"), "cmd:help")]]
    return ctx.reply(ctx.t("What would you like to do?"), rows)


async def menu(ctx: Context, args: list[str]) -> list[Reply]:
    return [menu_reply(ctx)]


class _InvalidInvite(Exception):
    pass


def _usable(invite: Invite | None) -> bool:
    return invite is not None and invite.used_by is None and invite.expires_at >= utcnow()


def _invalid_invite(ctx: Context) -> Reply:
    return ctx.reply(ctx.t("Sorry, that invite code is not valid (it may be used or expired). "
                           "Please ask an admin for a new one."))


def invite_expiry():
    return utcnow() + timedelta(days=INVITE_DAYS)
