"""The Telegram transport (aiogram 3): updates in by long polling or webhook, replies out through the Bot API.

Settings (docs/settings.md): TELEGRAM_BOT_TOKEN; TELEGRAM_API_BASE (another Bot API server, e.g. a local one in
tests); TELEGRAM_WEBHOOK_SECRET (set: webhook mode at POST /webhooks/telegram, checked against the
X-Telegram-Bot-Api-Secret-Token header; unset: long polling, by the leader of replicas only); COOP_GROUP_CHAT_ID
(announcements).

Every update is recorded in `SeenUpdate` before it is handled, so a retried webhook or a redelivered update
is handled once. Every reply goes out through `send`, aiogram's `Bot` methods, with their failures told as
bot.notify's delivery contract says: a 429 pauses the whole bot for its `retry_after` (pushed replies wait in the
notifier; answers wait here), a member who blocked the bot (403) is marked `Member.blocked` and skipped until
they write again, a 5xx or a refused connection is tried again.
"""
import asyncio
import hmac
import logging
import re
from dataclasses import dataclass

import aiohttp

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.app import App
from bot.logsafe import who
from bot.notify import TELEGRAM, Blocked, RetryAfter, TransientError
from bot.settings import Settings, SettingsError
from bot.store import Member, SeenUpdate
from bot.transports.answer import answer_now
from bot.web.bodies import MAX_WEBHOOK_BYTES, BodyRefused, read_json
from handlers.base import Button, Inbound, Reply
from locales import LANGUAGES, Translator

log = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
CALLBACK_DATA_MAX = 64  # bytes, the Bot API's limit
TEXT_MAX = 4096  # characters in one message
CAPTION_MAX = 1024
POLL_TIMEOUT = 25  # seconds a getUpdates call waits for updates
RETRIES = 5  # attempts per message on 429, network and server errors
START_PAUSE, START_PAUSE_MAX = 1.0, 60.0  # seconds between getMe attempts while the Bot API is unreachable
GROUP_TYPES = ("group", "supergroup")
# aiogram parses every answer as Response[the method's type]; pydantic caches such generic models only
# weakly, so once collected each call rebuilt its schema (~2 ms a sendMessage). Held here, they are built once.
_RESPONSE_TYPES = (Response[Message], Response[list[Update]], Response[bool])
_SEEN = insert(SeenUpdate)  # seen_at is its column default


class PartlySent(Exception):
    """A long reply's first messages went out and a later one failed: final, as a retry would repeat them."""


class CallbackDataTooLong(ValueError):
    """A button's data is longer than the 64 bytes Telegram accepts (a handler's bug)."""

    def __init__(self, size: int):
        super().__init__(f"button data is {size} bytes; Telegram accepts at most {CALLBACK_DATA_MAX}")
        self.size = size


@dataclass(frozen=True)
class _Origin:
    """Where an inbound message came from, so its replies go back there."""

    user: str  # the handle the handlers answer to (Reply.to)
    private_chat_id: str  # the sender's private chat (its id is the user's id)
    chat_id: str  # the chat the message was written in
    group: bool


def keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """Reply buttons as an inline keyboard; raises CallbackDataTooLong on data over 64 bytes."""
    if not rows:
        return None
    for row in rows:
        for button in row:
            size = len(button.data.encode("utf-8"))
            if size > CALLBACK_DATA_MAX:
                raise CallbackDataTooLong(size)
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.text, callback_data=b.data) for b in row] for row in rows])


def command_list(lang: str) -> list[BotCommand]:
    """The menu Telegram shows next to the text field, described in `lang` (from the help's own lines, so
    every description is already translated)."""
    t = Translator(lang).t
    described: dict[str, str] = {}
    for line in (t("/balance – your Food-USD, GRO and voting power"),
                 t("/orders – open group orders · /join ORDER UNITS – join one"),
                 t("/proposals – co-op proposals · /vote PROPOSAL yes|no|abstain VOTES"),
                 t("/lang – change language · /menu – buttons for everything")):
        for part in line.split(" · "):
            match = re.match(r"\s*/([a-z_]+)\s*(.*)", part)
            if match:
                described[match.group(1)] = match.group(2).lstrip("–- ").strip() or match.group(1)
    described["help"] = t("Help")
    described["start"] = t("To join, ask an admin for an invite code and send /start CODE.")
    order = ("start", "menu", "balance", "orders", "join", "proposals", "vote", "lang", "help")
    return [BotCommand(command=c, description=described[c][:256]) for c in order if c in described]


class TelegramTransport:
    """One bot: `await start()`, `add_routes(web_app)` in webhook mode, `await stop()`."""

    def __init__(self, app: App, settings: Settings):
        if not settings.telegram_token:
            raise SettingsError("TELEGRAM_BOT_TOKEN must be set for the Telegram transport")
        secret = settings.telegram_webhook_secret
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (1 to 256 of them)")
        self.app = app
        self.settings = settings
        self.group_chat_id = settings.group_chat_id
        self.webhook = settings.telegram_webhook_secret is not None
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
        self.bot = Bot(settings.telegram_token, session=session)
        self._poller: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._waiting = False  # the poller is only waiting (a long poll, a pause): stopping may cancel it
        self._locks: dict[str, asyncio.Lock] = {}  # one update at a time per sender, in order
        self._inflight: set[asyncio.Task] = set()
        self._paused_until = 0.0  # loop time until which Telegram's last 429 asked the bot to send nothing

    # ---- start and stop ----

    async def start(self, webhook_url: str | None = None) -> "TelegramTransport":
        """Checks the token (getMe), registers the commands per language, and starts receiving: polling, or
        (webhook mode) tells Telegram the webhook's public URL when one is given."""
        me = await self._reach()
        if me is None:  # stopped while the Bot API was unreachable
            return self
        self.app.telegram_username = me.username  # invites are handed out as t.me/<username>?start=CODE links
        log.info("telegram: bot=@%s mode=%s", me.username, "webhook" if self.webhook else "polling")
        await self.register_commands()
        self.app.connect(CHANNEL, self.send, TELEGRAM)
        if self.webhook:
            if webhook_url:
                await self._call(lambda: self.bot.set_webhook(
                    webhook_url, secret_token=self.settings.telegram_webhook_secret, allowed_updates=ALLOWED_UPDATES))
        else:
            # getUpdates is refused while a webhook is set
            await self._call(lambda: self.bot.delete_webhook(drop_pending_updates=False))
            # Replicas on one database would take turns at getUpdates: the leader polls (docs/replicas.md).
            self.app.when_leading(self._start_polling)
        return self

    def _start_polling(self) -> None:
        if self._poller is None and not self._stop.is_set():
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")

    async def _reach(self) -> User | None:
        """getMe until the Bot API answers: an outage at start-up (network, 5xx, 429) is waited out with
        backoff, one log line per attempt, until `stop()` (then None); a token the Bot API refuses is a
        settings error."""
        pause, attempt = START_PAUSE, 0
        while True:
            attempt += 1
            try:
                return await self.bot.get_me()
            except TelegramUnauthorizedError:
                raise SettingsError("TELEGRAM_BOT_TOKEN was refused by the Bot API (401 Unauthorized): check the "
                                    "token BotFather gave") from None
            except TelegramRetryAfter as e:
                wait = float(e.retry_after)
                reason = "429 Too Many Requests"
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as e:
                # ClientDecodeError: not the Bot API's JSON, e.g. a proxy's HTML "502 Bad Gateway" page
                wait, pause = pause, min(pause * 2, START_PAUSE_MAX)
                reason = f"{type(e).__name__}: {getattr(e, 'message', '')}".replace(self.bot.token, "***")
            except TelegramAPIError as e:  # 400, 404…: not an outage, a wrong address
                raise SettingsError(f"the Bot API at {self.settings.telegram_api_base} refused getMe "
                                    f"({e.message}): check TELEGRAM_API_BASE") from None
            log.warning("telegram: the Bot API at %s is unreachable attempt=%d error=%r; again in %.0f s",
                        self.settings.telegram_api_base, attempt, reason, wait)
            try:
                await asyncio.wait_for(self._stop.wait(), wait)
                return None
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            # A batch being recorded and started is let finish (cancelled there, updates recorded as seen
            # would never be answered); a poller that is only waiting is cancelled.
            if self._waiting:
                self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self.bot.session.close()

    async def register_commands(self) -> None:
        """setMyCommands once per language: English as the default, es/bn/fr by the client's language."""
        for lang in LANGUAGES:
            await self._call(lambda lang=lang: self.bot.set_my_commands(
                command_list(lang), scope=BotCommandScopeDefault(), language_code=None if lang == "en" else lang))

    # ---- receiving ----

    async def _poll(self) -> None:
        offset: int | None = None
        pause = 1.0
        while not self._stop.is_set():
            self._waiting = True
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=POLL_TIMEOUT,
                                                     allowed_updates=ALLOWED_UPDATES,
                                                     request_timeout=POLL_TIMEOUT + 10)
                pause = 1.0
            except TelegramRetryAfter as e:
                await asyncio.sleep(e.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError, TelegramAPIError) as e:
                log.warning("telegram: getUpdates failed (%s); again in %.0f s", type(e).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            finally:
                self._waiting = False
            # The batch is recorded as seen in one transaction before any of it is handled (a commit per
            # update cost more than handling it); its offset is confirmed only once that is done.
            batch = [(item, parsed) for item in updates if (parsed := self.inbound(item)) is not None]
            try:
                fresh = await self._first_times([item.update_id for item, _ in batch])
            except Exception:
                log.exception("telegram: recording %d updates as seen failed; asking for them again", len(batch))
                await asyncio.sleep(pause)
                continue
            if updates:
                offset = updates[-1].update_id + 1
            for item, (inbound, origin) in batch:
                if item.update_id not in fresh:
                    log.info("telegram: update_id=%s already handled", item.update_id)
                    continue
                task = asyncio.create_task(self._answer_logged(item, inbound, origin))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    def add_routes(self, web_app: web.Application) -> None:
        """POST /webhooks/telegram on the shared HTTP app (bot/web)."""
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        secret = self.settings.telegram_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("telegram: webhook with a wrong or missing secret token from %s", request.remote)
            return web.Response(status=401, text="unauthorized")
        try:
            body = await read_json(request, MAX_WEBHOOK_BYTES)
        except BodyRefused as e:
            log.warning("telegram: webhook body refused: %r", e.why)
            return e.response()
        try:
            item = Update.model_validate(body, context={"bot": self.bot})
        except (ValueError, ValidationError):
            log.warning("telegram: webhook body is not an update")
            return web.Response(status=400, text="not an update")
        await self._process_logged(item)  # 200 even on a failure: Telegram's retry would be dropped as seen
        return web.Response(text="ok")

    async def _process_logged(self, item: Update) -> None:
        try:
            await self.process(item)
        except Exception:
            log.exception("telegram: update_id=%s failed", item.update_id)

    async def process(self, item: Update) -> None:
        """One update, once: recorded as seen first (a retry stops there), then handled and answered."""
        parsed = self.inbound(item)
        if parsed is None:
            return
        if not await self._first_times([item.update_id]):
            log.info("telegram: update_id=%s already handled", item.update_id)
            return
        await self._answer(item, *parsed)

    async def _answer_logged(self, item: Update, inbound: Inbound, origin: _Origin) -> None:
        try:
            await self._answer(item, inbound, origin)
        except Exception:
            log.exception("telegram: update_id=%s failed", item.update_id)

    async def _answer(self, item: Update, inbound: Inbound, origin: _Origin) -> None:
        """Handles an update recorded as seen, and sends its replies."""
        async with self._locks.setdefault(origin.private_chat_id, asyncio.Lock()):
            if item.callback_query is not None:
                try:
                    await self._call(lambda: self.bot.answer_callback_query(item.callback_query.id))
                except TelegramAPIError as e:  # too old, or already answered: the press is still handled
                    log.info("telegram: answerCallbackQuery failed (%s)", type(e).__name__)
            for reply in await self.app.handle(inbound):
                await answer_now(lambda reply: self.send(reply, origin), reply, CHANNEL, self.app.mark_blocked)

    def inbound(self, item: Update) -> tuple[Inbound, _Origin] | None:
        """The Inbound for a message or a button press; None for anything else (edits, joins, stickers)."""
        if item.message is not None:
            message, press, text = item.message, None, item.message.text or item.message.caption
            if text is None:
                return None
            chat = message.chat
        elif item.callback_query is not None and item.callback_query.message is not None:
            message, press, text = item.callback_query, item.callback_query.data, None
            if press is None:
                return None
            chat = item.callback_query.message.chat
        else:
            return None
        sender = message.from_user
        if sender is None or sender.is_bot:
            return None
        # A member is their numeric id (it never changes hands); the @username is only an alias admins may type.
        user = str(sender.id)
        group = chat.type in GROUP_TYPES or str(chat.id) == self.group_chat_id
        origin = _Origin(user=user, private_chat_id=str(sender.id), chat_id=str(chat.id), group=group)
        # chat_id is where this member's private replies go: in Telegram a user's private chat has their id.
        return Inbound(channel=CHANNEL, user=user, text=text, press=press, chat="group" if group else "private",
                       lang_hint=sender.language_code, chat_id=str(sender.id),
                       alias=sender.username.lower() if sender.username else None), origin

    async def _first_times(self, update_ids: list[int]) -> set[int]:
        """The ids among `update_ids` not seen before, now recorded as seen: all in one transaction, or (when
        one of them was seen already: a redelivery) one by one."""
        if not update_ids:
            return set()
        # Core inserts on a pooled connection: the same committed rows as through a Session, without its
        # unit of work.
        try:
            async with self.app.engine.begin() as connection:
                await connection.execute(_SEEN, [{"channel": CHANNEL, "update_id": str(i)} for i in update_ids])
            return set(update_ids)
        except IntegrityError:
            if len(update_ids) == 1:
                return set()
        return {i for i in update_ids if await self._first_times([i])}

    # ---- sending ----

    async def send(self, reply: Reply, origin: _Origin | None = None) -> None:
        """Sends one reply, as bot.notify's `Sender`: to the group chat, to the chat a message came from, or
        (pushed) to the member's private chat.

        Raises bot.notify's RetryAfter (Telegram's 429, or the channel still paused by one), Blocked (the member
        blocked the bot: now or marked so before) or TransientError (5xx, connection refused: certainly not
        sent); any other failure is raised as aiogram's exception (undeliverable: a retry would not help)."""
        chat_id = await self._chat_for(reply.to, origin)
        if chat_id is None:
            return
        try:
            markup = keyboard(reply.buttons)
        except CallbackDataTooLong as e:
            log.error("telegram: a reply's %s; sent without its buttons", e)
            markup = None
        wait = self._paused_until - asyncio.get_running_loop().time()
        if wait > 0:  # a 429 pauses the whole bot, not only the send that met it
            raise RetryAfter(wait)
        parts = self._parts(chat_id, reply, markup)
        for i, part in enumerate(parts):
            try:
                await part()
            except TelegramAPIError as e:
                failure = self._contract(e, private=not chat_id.startswith("-"))
                if isinstance(failure, RetryAfter):
                    self._paused_until = asyncio.get_running_loop().time() + failure.seconds
                if failure is e:
                    raise
                if i == 0 or isinstance(failure, Blocked):
                    raise failure from e
                # part of the reply went out: a retry would repeat it, so this is final
                raise PartlySent(f"part {i + 1} of {len(parts)} of a reply was not sent: {e}") from e

    @staticmethod
    def _contract(error: TelegramAPIError, private: bool) -> Exception:
        """aiogram's failure of a send, as bot.notify's contract names it (the error itself: undeliverable)."""
        if isinstance(error, TelegramRetryAfter):
            return RetryAfter(float(error.retry_after))
        if isinstance(error, TelegramForbiddenError) and private:
            # "bot was blocked by the user", "user is deactivated", "bot can't initiate conversation with a
            # user": nothing reaches them until they write again. A 403 in a group (the bot was removed) is
            # the settings' matter: undeliverable, logged.
            return Blocked(error.message)
        if isinstance(error, TelegramServerError):  # the Bot API answered that the method failed
            return TransientError(error.message)
        # aiogram raises TelegramNetworkError from aiohttp's error: a connection that was never made sent nothing,
        # while a timeout or a dropped connection may have sent the message already.
        if isinstance(error, TelegramNetworkError) and isinstance(error.__cause__, aiohttp.ClientConnectorError):
            return TransientError(error.message)
        return error

    def _parts(self, chat_id: str, reply: Reply, markup: InlineKeyboardMarkup | None) -> list:
        """The Bot API calls that show `reply`, in order: a photo (with the text as its caption when it fits),
        then the text in 4096-character messages, the buttons under the last."""
        text = reply.text
        parts = []
        if reply.image:
            caption = text if len(text) <= CAPTION_MAX else None
            parts.append(lambda: self.bot.send_photo(chat_id, FSInputFile(reply.image), caption=caption,
                                                     reply_markup=markup if caption is not None else None))
            if caption is not None:
                return parts
        chunks = [text[i:i + TEXT_MAX] for i in range(0, len(text), TEXT_MAX)] or [""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            parts.append(lambda chunk=chunk, last=last: self.bot.send_message(
                chat_id, chunk, reply_markup=markup if last else None))
        return parts

    async def _chat_for(self, to: str, origin: _Origin | None) -> str | None:
        """The chat a reply to `to` goes to; None when there is none; raises Blocked for a member marked so."""
        if to == "group":
            if origin is not None and origin.group:
                return origin.chat_id
            if not self.group_chat_id:
                log.warning("telegram: a reply for the group, but COOP_GROUP_CHAT_ID is not set")
            return self.group_chat_id
        if origin is not None and to == origin.user:
            return origin.private_chat_id  # from a group too: what is for the member alone goes to them alone
        async with self.app.sessions() as session:
            member = (await session.execute(select(Member).where(
                Member.channel == CHANNEL, Member.handle == to.lstrip("@")))).scalar_one_or_none()
        if member is None:
            if to.lstrip("-").isdigit():
                return to
            log.warning("telegram: no member %s to send to", who(to))
            return None
        if member.blocked:  # the store remembers it across restarts; writing again clears it (handlers/router)
            raise Blocked(f"member id={member.id} blocked the bot")
        return member.chat_id

    async def _call(self, request):
        """A set-up call (idempotent: commands, webhook) with Telegram's flood control honoured (429: wait
        retry_after) and short retries on network and server errors; anything else is raised."""
        pause = 0.5
        for attempt in range(1, RETRIES + 1):
            try:
                return await request()
            except TelegramRetryAfter as e:
                if attempt == RETRIES:
                    raise
                log.info("telegram: 429, waiting %s s as asked", e.retry_after)
                await asyncio.sleep(e.retry_after)
            except (TelegramNetworkError, TelegramServerError) as e:
                if attempt == RETRIES:
                    raise
                log.info("telegram: %s, again in %.1f s", type(e).__name__, pause)
                await asyncio.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")
