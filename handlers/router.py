"""From an inbound message to the handler that answers it: commands, buttons and plain phrases.

Strangers may read /help and use /start with an invite, nothing else. Admin commands from anyone else
get a polite refusal and change nothing. Anything not understood gets a short hint, never silence; an
internal failure gets an apology in the member's language and is logged with a reference.
"""
import logging
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from bot.store import Member
from chain.db import utcnow
from handlers import admin, confirm, custody, escrow, feedback, governance, history, onboarding, orders, wallet
from handlers.base import Context, Handler, Inbound, Reply, Services
from locales import match_language

log = logging.getLogger(__name__)
SEEN_EVERY = timedelta(hours=1)  # how often a member's last_seen_at is written
# Built once: composing the where clause cost more CPU per message than SQLite's answer. Still read fresh
# on every message (a language change or a new member shows at once).
_MEMBER = select(Member).where(Member.channel == bindparam("channel"), Member.handle == bindparam("handle"))

RESIDENT: dict[str, Handler] = {
    "start": onboarding.start,
    "help": onboarding.help_,
    "menu": onboarding.menu,
    "lang": onboarding.lang,
    "balance": wallet.balance,
    "orders": orders.orders,
    "join": orders.join,
    "history": history.history,
    "proposals": governance.proposals,
    "propose": governance.propose,
    "vote": governance.vote,
    "lock": escrow.lock,
    "export": custody.export,
    "feedback": feedback.feedback,
}
# Resident commands of DESIGN §4.3 that later work builds; until then they say so.
COMING = ("alerts", "readings", "dashboard")
ADMIN: dict[str, Handler] = admin.COMMANDS
OPEN_TO_STRANGERS = ("start", "help")
# Plain phrases for common requests, in each language (lower case, as typed).
PHRASES = {
    "balance": "balance", "orders": "orders", "help": "help", "menu": "menu", "vote": "proposals", "join": "orders",
    "history": "history", "proposals": "proposals",
    "saldo": "balance", "pedidos": "orders", "ayuda": "help", "menú": "menu", "votar": "proposals",
    "unirme": "orders", "historial": "history", "propuestas": "proposals",
    "solde": "balance", "commandes": "orders", "aide": "help", "voter": "proposals", "rejoindre": "orders",
    "historique": "history", "propositions": "proposals",
    "ব্যালেন্স": "balance", "অর্ডার": "orders", "সাহায্য": "help", "মেনু": "menu", "ভোট": "proposals",
    "যোগ দিন": "orders", "ইতিহাস": "history", "প্রস্তাব": "proposals",
}


async def handle(services: Services, inbound: Inbound) -> list[Reply]:
    async with services.sessions() as session:
        member = (await session.execute(_MEMBER, {"channel": inbound.channel, "handle": inbound.user.lstrip("@")})
                  ).scalar_one_or_none()
    if member is not None and (member.blocked or member.last_seen_at is None
                               or utcnow() - member.last_seen_at > SEEN_EVERY):
        # Weekly activity needs no finer grain; a member who writes again has unblocked the bot.
        async with services.sessions() as session, session.begin():
            await session.execute(update(Member).where(Member.id == member.id)
                                  .values(last_seen_at=utcnow(), blocked=False))
        if member.blocked:
            services.unblocked(member.channel, member.handle)
    ctx = Context(services, inbound, member, (member.lang if member and member.lang else
                                               match_language(inbound.lang_hint)))
    try:
        if inbound.press is not None:
            return await _press(ctx, inbound.press)
        return await _text(ctx, (inbound.text or "").strip())
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("handling a message from %s failed (reference %s)", inbound.user, ref)
        return [ctx.reply(ctx.t("Something went wrong on our side. We are sorry. (reference {ref})", ref=ref))]


async def _text(ctx: Context, text: str) -> list[Reply]:
    if text.startswith("/"):
        word, *args = text[1:].split()
        command = word.split("@")[0].lower()  # Telegram appends @botname in groups
    else:
        command, args = PHRASES.get(text.lower()), []
        if command is None:
            if ctx.inbound.chat == "group":
                return []  # the group's own conversation is not for the bot
            return [ctx.reply(ctx.t("Sorry, I did not understand. Send /help to see what I can do."))]
    return await _run(ctx, command, args)


async def _run(ctx: Context, command: str, args: list[str]) -> list[Reply]:
    if ctx.member is None and command not in OPEN_TO_STRANGERS:
        return [ctx.reply(ctx.t("You are not a member yet. Ask an admin for an invite code and send /start CODE."))]
    if ctx.member is not None and ctx.member.lang is None and command != "help":
        return [onboarding.language_choice(ctx)]
    if command in ADMIN:
        if not await ctx.is_admin():
            return [ctx.reply(ctx.t("Sorry, only the co-op's admins can do that."))]
        return await ADMIN[command](ctx, args)
    if command in RESIDENT:
        return await RESIDENT[command](ctx, args)
    if command in COMING:
        return [ctx.reply(ctx.t("This is coming soon. For now, /menu shows what I can do."))]
    return [ctx.reply(ctx.t("Sorry, I did not understand. Send /help to see what I can do."))]


async def _press(ctx: Context, data: str) -> list[Reply]:
    if data.startswith(onboarding.LANG) and ctx.member is not None:
        return await onboarding.choose_language(ctx, data[len(onboarding.LANG):], first_time=ctx.member.lang is None)
    if data.startswith(confirm.CONFIRM) or data.startswith(confirm.CANCEL):
        return await confirm.answer(ctx, data[3:], confirmed=data.startswith(confirm.CONFIRM))
    if data.startswith("cmd:"):
        return await _run(ctx, data[4:], [])
    return [ctx.reply(ctx.t("That button is no longer valid. Send /menu to start again."))]
