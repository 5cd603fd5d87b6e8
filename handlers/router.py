"""From an inbound message to the handler that answers it: commands, buttons and plain phrases.

Strangers may read /help and /explain and use /start with an invite, nothing else; an admin's first private
message, whatever it is, starts them. Admin commands from anyone else get a polite refusal and change nothing.
Sentences (not commands) are read by handlers/phrases.py; in the group chat only those that mention the bot
are answered. Anything not understood gets a short hint; an internal failure gets an apology in the member's
language and is logged with a reference.
"""
import asyncio
import logging
import secrets
import weakref
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.logsafe import who
from bot.store import Admin, Member
from chain.db import utcnow
from handlers import (admin, alerts, claims, confirm, custody, escrow, explain, feedback, governance, history,
                      onboarding, orders, phrases, readings, wallet)
from handlers.base import Context, Handler, Inbound, Reply, Services
from locales import match_language

log = logging.getLogger(__name__)
SEEN_EVERY = timedelta(hours=1)  # how often a member's last_seen_at is written

RESIDENT: dict[str, Handler] = {
    "start": onboarding.start,
    "help": onboarding.help_,
    "menu": onboarding.menu,
    "lang": onboarding.lang,
    "balance": wallet.balance,
    "send": wallet.send,
    "redeem": wallet.redeem,
    "orders": orders.orders,
    "join": orders.join,
    "claim": claims.claim,
    "tolerance": orders.tolerance,
    "history": history.history,
    "proposals": governance.proposals,
    "propose": governance.propose,
    "vote": governance.vote,
    "lock": escrow.lock,
    "unlock": escrow.unlock,
    "export": custody.export,
    "feedback": feedback.feedback,
    "alerts": alerts.alerts,
    "readings": readings.readings,
    "explain": explain.explain,
}
# Commands of docs/interfaces.md §3 that later work builds; until then they say so (to anyone: a resident who
# tries an admin's command learns no more than that it is not here yet).
COMING = ("digest", "dashboard")
ADMIN: dict[str, Handler] = admin.COMMANDS
OPEN_TO_STRANGERS = ("start", "help", "explain")
# What a command answers in the group chat stays there only when it is the same for everyone; anything else
# (balances, history, a member's share of an order, invite codes, confirmations) goes to the member's private
# chat, and the group hears a pointer.
PUBLIC_IN_GROUP = ("help", "proposals", "readings", "explain")


class _MemberReads:
    """Reads the sender's member for every message, fresh (a language change or a new member shows at once),
    with the member holding the sender's alias (when someone else does, the name has changed hands) and whether
    the sender is an admin added in the database.
    The reads asked for while one query is under way go together in the next: a query's round trip through
    the database driver costs more than the rest of a /help, and messages come in bursts."""

    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions
        self._asked: list[tuple[str, str, str | None, asyncio.Future]] = []
        self._reading: asyncio.Task | None = None

    async def get(self, channel: str, handle: str, alias: str | None) -> tuple[Member | None, Member | None, bool]:
        """(the sender's member, the member who holds `alias` on the channel, whether bot_admins lists the sender)"""
        future = asyncio.get_running_loop().create_future()
        self._asked.append((channel, handle, alias, future))
        if self._reading is None:
            self._reading = asyncio.create_task(self._read())
        return await future

    async def _read(self) -> None:
        asked: list[tuple[str, str, str | None, asyncio.Future]] = []
        try:
            while self._asked:
                asked, self._asked = self._asked, []
                try:
                    by_handle, by_alias, admins = await self._members(
                        {c for c, _, _, _ in asked}, {h for _, h, _, _ in asked}, {a for _, _, a, _ in asked if a})
                except Exception as e:
                    for *_, future in asked:
                        if not future.done():
                            future.set_exception(e)
                    continue
                for channel, handle, alias, future in asked:
                    if not future.done():  # done: its message's task was cancelled meanwhile
                        future.set_result((by_handle.get((channel, handle)), by_alias.get((channel, alias)),
                                           (channel, handle) in admins))
        finally:
            for *_, future in asked + self._asked:  # cancelled itself (shutting down): nobody waits forever
                future.cancel()
            self._asked, self._reading = [], None

    async def _members(self, channels: set[str], handles: set[str], aliases: set[str]
                       ) -> tuple[dict[tuple[str, str], Member], dict[tuple[str, str], Member], set[tuple[str, str]]]:
        async with self.sessions() as session:
            rows = list((await session.execute(select(Member).where(
                Member.channel.in_(channels), or_(Member.handle.in_(handles), Member.alias.in_(aliases))))).scalars())
            admins = set((await session.execute(select(Admin.channel, Admin.handle).where(
                Admin.channel.in_(channels), Admin.handle.in_(handles)))).tuples())
        return ({(m.channel, m.handle): m for m in rows},
                {(m.channel, m.alias): m for m in rows if m.alias is not None}, admins)


async def _keep_alias(services: Services, inbound: Inbound, member: Member | None) -> None:
    """The sender's alias is theirs now: whoever held it loses it (a freed Telegram username was taken), and
    their member row follows a new or dropped one."""
    try:
        async with services.sessions() as session, session.begin():
            if inbound.alias is not None:
                await session.execute(update(Member).where(
                    Member.channel == inbound.channel, Member.alias == inbound.alias,
                    Member.id != (member.id if member is not None else -1)).values(alias=None))
            if member is not None:
                await session.execute(update(Member).where(Member.id == member.id).values(alias=inbound.alias))
    except IntegrityError:  # two senders claimed one name at once; the next update settles it
        log.warning("alias %r claimed twice at once on %s", inbound.alias, inbound.channel)
        return
    if member is not None:
        member.alias = inbound.alias


# One per running assistant (a Services); held weakly, and the reads hold only its sessions, so an App that
# stopped is not kept alive by them.
_member_reads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def handle(services: Services, inbound: Inbound) -> list[Reply]:
    reads = _member_reads.get(services)
    if reads is None:
        reads = _member_reads[services] = _MemberReads(services.sessions)
    member, holder, listed_admin = await reads.get(inbound.channel, inbound.user, inbound.alias)
    if (member is not None and member.alias != inbound.alias) or (holder is not None and holder is not member):
        await _keep_alias(services, inbound, member)
    if member is not None and (member.blocked or member.last_seen_at is None
                               or utcnow() - member.last_seen_at > SEEN_EVERY):
        # Weekly activity needs no finer grain; a member who writes again has unblocked the bot.
        async with services.sessions() as session, session.begin():
            await session.execute(update(Member).where(Member.id == member.id)
                                  .values(last_seen_at=utcnow(), blocked=False))
        if member.blocked:
            services.unblocked(member.channel, member.handle)
    ctx = Context(services, inbound, member, (member.lang if member and member.lang else
                                               match_language(inbound.lang_hint)), listed_admin=listed_admin)
    try:
        if member is None and inbound.chat == "private" and not _is_start(inbound) and await ctx.is_admin():
            return await _admin_first_contact(ctx)
        if inbound.chat == "group" and inbound.press is None and not (inbound.text or "").strip().startswith("/"):
            return await _group_sentence(ctx)
        if inbound.chat == "group" and not _public(inbound):
            return await _in_private(ctx)
        if inbound.press is not None:
            return await _press(ctx, inbound.press)
        return await _text(ctx, (inbound.text or "").strip())
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("handling a message failed from=%s reference=%s", who(inbound.user), ref)
        return [ctx.reply(ctx.t("Something went wrong on our side. We are sorry. (reference {ref})", ref=ref))]


def _is_start(inbound: Inbound) -> bool:
    text = (inbound.text or "").strip()
    return inbound.press is None and text.startswith("/") and _command(text)[0] == "start"


async def _admin_first_contact(ctx: Context) -> list[Reply]:
    """An admin needs no invite: whatever their first message is, it starts them as /start would (member row,
    wallet, registration), in their client's language, and is then answered."""
    await onboarding.start(ctx, [])
    await onboarding.choose_language(ctx, ctx.lang, first_time=False)
    ctx.member.lang = ctx.lang
    greeting = ctx.reply(ctx.t("Welcome! You are an admin of the co-op. I will speak English with you; /lang "
                               "changes it."))
    if ctx.inbound.press is not None:
        return [greeting, *await _press(ctx, ctx.inbound.press)]
    return [greeting, *await _text(ctx, (ctx.inbound.text or "").strip())]


def _public(inbound: Inbound) -> bool:
    """Whether the answer to a message in the group chat may be read by the whole group."""
    if inbound.press is not None:
        return inbound.press.startswith("cmd:") and _command("/" + inbound.press[4:])[0] in PUBLIC_IN_GROUP
    return _command((inbound.text or "").strip())[0] in PUBLIC_IN_GROUP


async def _group_sentence(ctx: Context) -> list[Reply]:
    """A sentence in the group chat is answered only when it mentions the bot, and like its command: in the
    group when the answer is the same for everyone, else in the sender's private chat."""
    said = phrases.addressed((ctx.inbound.text or "").strip(), ctx.services.telegram_username
                             if ctx.inbound.channel == "telegram" else None)
    if said is None:
        return []  # the group's own conversation is not for the bot
    understanding = await phrases.reading(ctx, said)
    if phrases.command_of(understanding) in PUBLIC_IN_GROUP or understanding.intent is None \
            and not understanding.choices:
        return await phrases.answer(ctx, understanding, _run)
    return await _in_private(Context(ctx.services, replace(ctx.inbound, text=said), ctx.member, ctx.lang,
                                     listed_admin=ctx.listed_admin))


async def _in_private(ctx: Context) -> list[Reply]:
    """Answers a group message in the sender's private chat; the group hears only where the answer went."""
    private = Context(ctx.services, replace(ctx.inbound, chat="private"), ctx.member, ctx.lang,
                      listed_admin=ctx.listed_admin)
    replies = await (_press(private, ctx.inbound.press) if ctx.inbound.press is not None
                     else _text(private, (ctx.inbound.text or "").strip()))
    if any(reply.to == ctx.inbound.user for reply in replies):
        pointer = ctx.t("I sent you the answer in a private chat.")
        bot = ctx.services.telegram_username if ctx.inbound.channel == "telegram" else None
        if bot:  # Telegram lets a bot write privately only to someone who has opened a chat with it first
            pointer += " " + ctx.t("If it is not there, open https://t.me/{bot}, press Start, and ask again.", bot=bot)
        replies.append(Reply("group", pointer))
    return replies


def _command(text: str) -> tuple[str, list[str]]:
    """A command's word (lower case, without Telegram's @botname) and its arguments; the word is "" when
    there is none ("/", "/@bot")."""
    word, *args = text[1:].split() or [""]
    return word.split("@")[0].lower(), args


async def _text(ctx: Context, text: str) -> list[Reply]:
    if not text.startswith("/"):
        # An offer confirmed by typing (/export) takes the member's next word before it is read as a request.
        return await confirm.typed(ctx, text) or await phrases.answer(ctx, await phrases.reading(ctx, text), _run)
    return await _run(ctx, *_command(text))


async def _run(ctx: Context, command: str, args: list[str]) -> list[Reply]:
    if ctx.member is None and command not in OPEN_TO_STRANGERS:
        return [ctx.reply(ctx.t("You are not a member yet. Ask an admin for an invite code and send /start CODE."))]
    if ctx.member is not None and ctx.member.lang is None and command != "help":
        return [onboarding.language_choice(ctx)]
    if command in ADMIN:
        if not await ctx.is_admin():
            return [ctx.reply(ctx.t("Sorry, only the co-op's admins can do that."))]
        ctx.as_admin = True
        return await ADMIN[command](ctx, args)
    if command in RESIDENT:
        return await RESIDENT[command](ctx, args)
    if command in COMING:
        return [ctx.reply(ctx.t("This is coming soon. For now, /menu shows what I can do."))]
    return phrases.not_understood(ctx)


async def _press(ctx: Context, data: str) -> list[Reply]:
    if data.startswith(onboarding.LANG) and ctx.member is not None:
        return await onboarding.choose_language(ctx, data[len(onboarding.LANG):], first_time=ctx.member.lang is None)
    if data.startswith(confirm.CONFIRM) or data.startswith(confirm.CANCEL):
        return await confirm.answer(ctx, data[3:], confirmed=data.startswith(confirm.CONFIRM))
    if data.startswith("cmd:"):  # a command with its arguments, as typed after the "/"
        return await _run(ctx, *_command("/" + data[4:]))
    if data.startswith(phrases.UNITS) and ctx.member is not None:
        try:
            return await phrases.how_many(ctx, int(data[len(phrases.UNITS):]))
        except ValueError:
            pass
    return [ctx.reply(ctx.t("That button is no longer valid. Send /menu to start again."))]
