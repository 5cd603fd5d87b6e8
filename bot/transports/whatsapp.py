"""The WhatsApp Cloud API transport: the signed webhook in, the Graph API messages endpoint out.

In (aiohttp routes, added to bot/web's app by `add_routes`):
  GET  /webhooks/whatsapp  the subscription handshake: hub.mode=subscribe and hub.verify_token equal to
                           WHATSAPP_VERIFY_TOKEN echo hub.challenge; anything else is 403.
  POST /webhooks/whatsapp  X-Hub-Signature-256 must be "sha256=" + the HMAC-SHA256 of the raw body with
                           WHATSAPP_APP_SECRET (bad or missing: 401, nothing happens). Text messages and
                           interactive replies (button_reply / list_reply: the id is our button data) become
                           an Inbound from the sender's wa_id; each message id is handled once (bot.store.
                           SeenUpdate, written before handling). The answer is 200 as soon as the messages
                           are recorded; handling runs in the background, in order per sender.
Out (`send`, the whole send path in one method, also what the notifier calls for pushed replies):
  plain text; up to 3 buttons as an interactive "button" message (titles shortened to 20 characters with
  an ellipsis); more than 3 as an interactive "list" message (10 rows a message, titles ≤ 24); an image
  is uploaded to /{phone number id}/media and sent by its media id (no public URL needed).
  WhatsApp has no bot group chats: replies to "group" (announcements) are not sent on WhatsApp; the
  transport logs that and skips them.
  Failures follow bot.notify's delivery contract (docs/interfaces.md §4): rate limits pause the channel, 131026
  (unreachable) marks the member blocked, 131047 (window closed) goes again as the template, 5xx and refused
  connections are tried again; a failure Meta reports later by status webhook teaches the same. `send` returns
  the id the Graph API gave the (first) message, kept with the told record: a message accepted and then
  reported failed with 131047 is held, untold, and told again when the member next writes (bot/told.py).
The 24-hour window: WhatsApp accepts free-form messages only within 24 h of the member's last message.
  The last inbound time per member is kept in memory and, after a restart, read from SeenUpdate (whose
  update_id is "<wa_id>:<message id>"). Outside the window a message goes as the approved template named
  by WHATSAPP_TEMPLATE_NOTIFY (one body parameter {{1}} carrying the text on one line, in the member's
  language: approve it in en, es, bn and fr; buttons and images are dropped). Without that template the
  message is not sent, and the log says so.

Settings: those of docs/settings.md from bot.settings.Settings, plus WHATSAPP_TEMPLATE_NOTIFY, read by
Settings.whatsapp_template_notify (WhatsAppOptions overrides it in tests).
"""
import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.logsafe import who
from bot.notify import WHATSAPP, Blocked, RetryAfter, TransientError
from bot.settings import Settings, SettingsError
from bot.store import Member, SeenUpdate
from bot.transports.answer import answer_now
from bot.web.bodies import MAX_WEBHOOK_BYTES, BodyRefused, parse_json, read_body
from chain.db import utcnow
from handlers.base import Inbound, Reply

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WEBHOOK_PATH = "/webhooks/whatsapp"
WINDOW = timedelta(hours=24)
MAX_REPLY_BUTTONS, BUTTON_TITLE, BUTTON_ID = 3, 20, 256
LIST_ROWS, ROW_TITLE, ROW_ID = 10, 24, 200
BODY, CAPTION, TEXT, TEMPLATE_PARAM = 1024, 1024, 4096, 1024
LIST_LABEL = "☰"  # the list's open button: language-neutral, as the language choice comes before a language
BODY_BELOW = "⬇️"  # the body of buttons whose text went ahead as plain messages (too long for a body)
# What the Graph API's error codes mean for bot.notify's delivery contract (developers.facebook.com/docs/
# whatsapp/cloud-api/support/error-codes):
RATE_LIMITED = {4, 80007, 130429, 131048}  # the app's or the number's limits: the whole channel waits
PAIR_RATE_LIMITED = 131056  # too many to this one member: only their messages wait (a TransientError)
UNDELIVERABLE = 131026  # not on WhatsApp (any more), blocked the business, or an old app: Blocked till they write
WINDOW_CLOSED = 131047  # re-engagement: the 24-hour window had closed, only a template gets through
RATE_LIMIT_WAIT = 5.0  # seconds, when a rate-limited answer does not say (the Graph API rarely does)
IGNORED_TYPES = {"reaction", "system", "ephemeral"}
WA_ID = re.compile(r"\d{5,20}")
# The sender's calling code as a language hint (WhatsApp sends none); +1 and the rest: no hint.
CALLING_CODE_LANG = {
    "34": "es", "52": "es", "53": "es", "54": "es", "56": "es", "57": "es", "58": "es", "51": "es", "502": "es",
    "503": "es", "504": "es", "505": "es", "506": "es", "507": "es", "591": "es", "593": "es", "595": "es",
    "598": "es", "1809": "es", "1829": "es", "1849": "es", "880": "bn", "33": "fr", "509": "fr", "221": "fr",
    "223": "fr", "224": "fr", "225": "fr", "226": "fr", "228": "fr", "229": "fr", "237": "fr", "243": "fr",
}


@dataclass(frozen=True)
class WhatsAppOptions:
    """WhatsApp settings not (yet) in bot.settings.Settings."""

    template_notify: str | None = None  # WHATSAPP_TEMPLATE_NOTIFY: messages outside the 24-hour window

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "WhatsAppOptions":
        return cls(template_notify=env.get("WHATSAPP_TEMPLATE_NOTIFY") or None)


class SendError(Exception):
    """The Graph API refused a message or could not be reached; `transient` failures are worth a retry."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 transient: bool = False):
        super().__init__(message)
        self.status, self.code, self.transient = status, code, transient


class Unsent(SendError, TransientError):
    """Certainly not delivered, and trying again later may work (bot.notify retries it)."""


class Unreachable(SendError, Blocked):
    """The member cannot be reached (131026): bot.notify marks them blocked until they write again."""


class RateLimited(SendError, RetryAfter):
    """The Graph API's rate limits: not delivered; bot.notify waits `seconds`, then retries."""

    def __init__(self, message: str, seconds: float, **kwargs: Any):
        SendError.__init__(self, message, transient=True, **kwargs)
        self.seconds = seconds


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _one_line(text: str) -> str:
    """Template parameters may hold no newline or tab and no more than 4 spaces in a row."""
    text = re.sub(r"\s*\n\s*", " · ", text.strip()).replace("\t", " ")
    return re.sub(r" {4,}", "   ", text)


def lang_hint(wa_id: str) -> str | None:
    for length in (4, 3, 2):
        if (lang := CALLING_CODE_LANG.get(wa_id[:length])) is not None:
            return lang
    return None


def render(reply: Reply, media_id: str | None = None) -> list[dict[str, Any]]:
    """The Graph API message objects (without recipient) that show `reply`, in sending order."""
    buttons = [b for row in reply.buttons for b in row]
    text = reply.text or ""
    if not buttons:
        if media_id is None:
            return [{"type": "text", "text": {"body": part, "preview_url": False}} for part in _chunks(text, TEXT)]
        if len(text) <= CAPTION:
            return [{"type": "image", "image": {"id": media_id, **({"caption": text} if text else {})}}]
        return [{"type": "image", "image": {"id": media_id}}] + render(Reply(reply.to, text))
    ahead: list[dict[str, Any]] = []
    body = text or BODY_BELOW
    if len(body) > BODY:
        ahead, body = render(Reply(reply.to, text)), BODY_BELOW
    if len(buttons) <= MAX_REPLY_BUTTONS:
        interactive: dict[str, Any] = {"type": "button", "body": {"text": body}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": b.data[:BUTTON_ID], "title": shorten(b.text, BUTTON_TITLE)}}
            for b in buttons]}}
        if media_id is not None:
            interactive["header"] = {"type": "image", "image": {"id": media_id}}
        return ahead + [{"type": "interactive", "interactive": interactive}]
    if media_id is not None:  # a list's header can only be text
        ahead.insert(0, {"type": "image", "image": {"id": media_id}})
    lists = []
    for i in range(0, len(buttons), LIST_ROWS):
        rows = [{"id": b.data[:ROW_ID], "title": shorten(b.text, ROW_TITLE)} for b in buttons[i:i + LIST_ROWS]]
        lists.append({"type": "interactive", "interactive": {
            "type": "list", "body": {"text": body if i == 0 else "…"},
            "action": {"button": LIST_LABEL, "sections": [{"rows": rows}]}}})
    return ahead + lists


@dataclass(frozen=True)
class _Message:
    """One message of a webhook, validated."""

    wa_id: str
    message_id: str
    text: str | None
    press: str | None
    profile_name: str | None  # contacts[].profile.name: Inbound has no place for it yet


@dataclass(frozen=True)
class _Failed:
    """A message we sent that WhatsApp accepted, then reported failed (a status webhook), with its error codes."""

    wa_id: str
    codes: tuple[int, ...]
    message_id: str | None  # the id the Graph API gave it when it accepted it


def parse_webhook(payload: Any, phone_number_id: str | None) -> tuple[list[_Message], list[_Failed]]:
    """The messages of a Cloud API webhook payload addressed to our number, and the failures it reports of
    messages we sent; malformed parts are skipped."""
    out: list[_Message] = []
    failed: list[_Failed] = []
    if not isinstance(payload, dict):
        raise TypeError("not a JSON object")
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            number = _dict(value.get("metadata")).get("phone_number_id")
            if phone_number_id and number and str(number) != phone_number_id:
                log.info("whatsapp ignored=messages_for_another_number")
                continue
            contacts = map(_dict, _list(value.get("contacts")))
            names = {c.get("wa_id"): _dict(c.get("profile")).get("name") for c in contacts}
            for status in map(_dict, _list(value.get("statuses"))):  # e.g. 131047: the window had closed
                recipient = status.get("recipient_id")
                if status.get("status") == "failed" and isinstance(recipient, str) and WA_ID.fullmatch(recipient):
                    codes = tuple(c for e in map(_dict, _list(status.get("errors")))
                                  if isinstance(c := e.get("code"), int))
                    log.warning("whatsapp delivery_failed to=%s codes=%s", who(recipient), list(codes))
                    message_id = status.get("id")
                    failed.append(_Failed(recipient, codes, message_id if isinstance(message_id, str) else None))
            for message in map(_dict, _list(value.get("messages"))):
                parsed = _parse_message(message, names)
                if parsed is not None:
                    out.append(parsed)
    return out, failed


def _parse_message(message: dict, names: dict) -> _Message | None:
    wa_id, message_id, kind = message.get("from"), message.get("id"), message.get("type")
    if not isinstance(wa_id, str) or not WA_ID.fullmatch(wa_id) or not isinstance(message_id, str) \
            or not 0 < len(message_id) <= 100:
        log.warning("whatsapp ignored=malformed_message type=%r", kind)
        return None
    if kind in IGNORED_TYPES:
        return None
    text = press = None
    if kind == "text":
        text = _dict(message.get("text")).get("body")
    elif kind == "interactive":
        interactive = _dict(message.get("interactive"))
        press = _dict(interactive.get(interactive.get("type"))).get("id")  # button_reply or list_reply
    elif kind == "button":  # a template's quick-reply button
        press = _dict(message.get("button")).get("payload")
    if not isinstance(text, str) and not isinstance(press, str):
        text, press = "", None  # media, location…: the router answers with a hint, never silence
    return _Message(wa_id, message_id, text if isinstance(text, str) else None,
                    press if isinstance(press, str) else None, names.get(wa_id))


def _message_id(answer: dict) -> str | None:
    """The id in the Graph API's answer to a message it accepted ({"messages": [{"id": "wamid…"}]})."""
    found = _dict((_list(answer.get("messages")) or [None])[0]).get("id")
    return found if isinstance(found, str) else None


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:  # the payload's shapes are checked by walking it: anything else counts as empty
    return value if isinstance(value, dict) else {}


class WhatsAppTransport:
    """Receives the Cloud API webhook, hands messages to the app, and sends replies through the Graph API."""

    def __init__(self, app, settings: Settings, options: WhatsAppOptions | None = None,
                 clock: Callable[[], datetime] = utcnow, http: httpx.AsyncClient | None = None):
        missing = [name for name, value in (("WHATSAPP_TOKEN", settings.whatsapp_token),
                                            ("WHATSAPP_PHONE_NUMBER_ID", settings.whatsapp_phone_number_id),
                                            ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret)) if not value]
        if missing:
            raise SettingsError(f"the WhatsApp transport needs {', '.join(missing)}")
        self.app, self.settings = app, settings
        self.options = options or WhatsAppOptions(template_notify=settings.whatsapp_template_notify)
        self._clock = clock  # naive UTC, like the store's timestamps
        self._secret = settings.whatsapp_app_secret.encode()
        self._http = http or httpx.AsyncClient(
            base_url=settings.whatsapp_api_base.rstrip("/") + "/", timeout=httpx.Timeout(15.0),
            headers={"Authorization": f"Bearer {settings.whatsapp_token}"})
        self._last_inbound: dict[str, datetime] = {}
        self._paused_until = 0.0  # loop time until which the Graph API's last rate limit asked us to wait
        self._tails: dict[str, asyncio.Task] = {}  # each sender's last handling task: messages in order
        self._tasks: set[asyncio.Task] = set()
        app.connect(CHANNEL, self.send, WHATSAPP)

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_get(WEBHOOK_PATH, self._handshake)
        web_app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def drain(self) -> None:
        """Waits until every message received so far is handled and answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._http.aclose()

    # ---- in ----

    async def _handshake(self, request: web.Request) -> web.Response:
        expected = self.settings.whatsapp_verify_token
        token = request.query.get("hub.verify_token", "")
        if request.query.get("hub.mode") == "subscribe" and expected and hmac.compare_digest(
                token.encode(), expected.encode()):
            return web.Response(text=request.query.get("hub.challenge", ""))
        log.warning("whatsapp handshake=refused verify_token_set=%s", bool(expected))
        return web.Response(status=403)

    async def _webhook(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request, MAX_WEBHOOK_BYTES)
        except BodyRefused as e:
            log.warning("whatsapp webhook=refused reason=%r", e.why)
            return e.response()
        if not self._signed(body, request.headers.get("X-Hub-Signature-256", "")):
            log.warning("whatsapp webhook=refused reason=bad_or_missing_signature bytes=%d", len(body))
            return web.Response(status=401)
        try:
            payload = parse_json(body)
        except BodyRefused as e:
            log.warning("whatsapp webhook=refused reason=%r", e.why)
            return e.response()
        try:
            messages, failures = parse_webhook(payload, self.settings.whatsapp_phone_number_id)
        except (ValueError, TypeError) as e:  # signed, so from Meta: a retry would not be better
            log.warning("whatsapp webhook=unreadable error=%s", type(e).__name__)
            return web.Response(status=200)
        for failure in failures:
            await self._failed_later(failure)
        for message in messages:
            if await self._first_time(message):
                self._schedule(message)
                await self.app.wrote(CHANNEL, message.wa_id)  # their window is open: what was held goes now
        return web.Response(status=200)

    def _signed(self, body: bytes, header: str) -> bool:
        if not header.startswith("sha256="):
            return False
        expected = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header[len("sha256="):].strip().lower().encode(), expected.encode())

    async def _first_time(self, message: _Message) -> bool:
        """Records the message id (and when the member last wrote); False when it was handled before."""
        now = self._clock()
        try:
            async with self.app.sessions() as session, session.begin():
                session.add(SeenUpdate(channel=CHANNEL, update_id=f"{message.wa_id}:{message.message_id}",
                                       seen_at=now))
        except IntegrityError:
            log.info("whatsapp duplicate=%s from=%s", message.message_id[-12:], who(message.wa_id))
            return False
        self._last_inbound[message.wa_id] = max(now, self._last_inbound.get(message.wa_id, now))
        return True

    async def _failed_later(self, failure: _Failed) -> None:
        """What a failure reported by webhook teaches: the member is unreachable (marked blocked until they
        write), or their window had closed (what follows goes as the template, and the failed message is told
        again when they write)."""
        if UNDELIVERABLE in failure.codes:
            await self.app.mark_blocked(CHANNEL, failure.wa_id)
        if WINDOW_CLOSED in failure.codes:
            self._close_window(failure.wa_id)
            if failure.message_id is not None:
                await self.app.not_delivered(CHANNEL, failure.message_id)

    def _close_window(self, wa_id: str) -> None:
        """WhatsApp says the window is closed (our record of it was wrong, e.g. a clock off): until the member
        writes again, messages to them go as the template."""
        self._last_inbound[wa_id] = datetime.min

    def _schedule(self, message: _Message) -> None:
        inbound = Inbound(channel=CHANNEL, user=message.wa_id, chat_id=message.wa_id, text=message.text,
                          press=message.press, lang_hint=lang_hint(message.wa_id))
        previous = self._tails.get(message.wa_id)
        task = asyncio.create_task(self._handle(previous, inbound))
        self._tails[message.wa_id] = task
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if self._tails.get(message.wa_id) is t:
                del self._tails[message.wa_id]

        task.add_done_callback(done)

    async def _handle(self, previous: asyncio.Task | None, inbound: Inbound) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            replies = await self.app.handle(inbound)
        except Exception:  # the router answers its own failures; this is a last resort
            log.exception("whatsapp handling_failed from=%s", who(inbound.user))
            return
        for reply in replies:
            await answer_now(self.send, reply, CHANNEL, self.app.mark_blocked)

    # ---- out ----

    async def send(self, reply: Reply) -> str | None:
        """Sends one reply to a member: free-form inside the 24-hour window, else the template (or not at all).
        Returns the id the Graph API gave its first message (None when nothing was sent).

        Raises SendError when the Graph API refuses or cannot be reached: as bot.notify's TransientError
        (`Unsent`) or RetryAfter (`RateLimited`) only when nothing of the reply went out, so a retry never
        doubles a message; as its Blocked (`Unreachable`) for a member who cannot be reached, now or marked so
        before. A reply to "group" is skipped: WhatsApp has no bot group chats.
        """
        if reply.to == "group":
            log.info("whatsapp skipped=group_announcement reason=no_bot_group_chats_on_whatsapp")
            return None
        to = reply.to.lstrip("+")
        lang, blocked = await self._member(to)
        if blocked:  # the store remembers it across restarts; writing again clears it (handlers/router)
            raise Unreachable("the member is marked blocked")
        wait = self._paused_until - asyncio.get_running_loop().time()
        if wait > 0:  # a rate limit holds the whole number, not only the send that met it
            raise RateLimited("the channel is paused by a rate limit", wait)
        if not await self._within_window(to):
            name = self.options.template_notify
            if not name:
                log.warning("whatsapp not_sent to=%s reason=outside_24h_window_and_no_template "
                            "(set WHATSAPP_TEMPLATE_NOTIFY to an approved template)", who(to))
                return None
            if reply.buttons or reply.image:
                log.info("whatsapp template to=%s dropped=buttons_or_image", who(to))
            parameter = shorten(_one_line(reply.text), TEMPLATE_PARAM)
            return _message_id(await self._post_message(to, {"type": "template", "template": {
                "name": name, "language": {"code": lang},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": parameter}]}]}}))
        media_id = await self._upload(reply.image) if reply.image else None
        first = None
        for i, message in enumerate(render(reply, media_id)):
            try:
                answer = await self._post_message(to, message)
                first = first or _message_id(answer)
            except (Unsent, RateLimited, Unreachable) as e:
                if i == 0 or isinstance(e, Unreachable):
                    raise
                # part of the reply went out: a retry would repeat it, so this is final
                raise SendError(f"part {i + 1} of a reply was not sent: {e}", status=e.status, code=e.code) from e
        return first

    async def _within_window(self, wa_id: str) -> bool:
        last = self._last_inbound.get(wa_id)
        if last is None:  # not since this process started: the store remembers
            async with self.app.sessions() as session:
                last = (await session.execute(select(func.max(SeenUpdate.seen_at)).where(
                    SeenUpdate.channel == CHANNEL, SeenUpdate.update_id.like(f"{wa_id}:%")))).scalar()
            if last is not None:
                self._last_inbound[wa_id] = last
        return last is not None and self._clock() - last < WINDOW

    async def _member(self, wa_id: str) -> tuple[str, bool]:
        """The member's language ("en" for a stranger) and whether they are marked blocked."""
        async with self.app.sessions() as session:
            found = (await session.execute(select(Member.lang, Member.blocked).where(
                Member.channel == CHANNEL, Member.handle == wa_id))).one_or_none()
        return (found.lang or "en", found.blocked) if found is not None else ("en", False)

    async def _upload(self, path: str) -> str:
        data = await asyncio.to_thread(Path(path).read_bytes)
        answer = await self._post(f"{self.settings.whatsapp_phone_number_id}/media",
                                  data={"messaging_product": "whatsapp", "type": "image/png"},
                                  files={"file": (Path(path).name, data, "image/png")})
        return str(answer["id"])

    async def _post_message(self, to: str, message: dict[str, Any]) -> dict:
        try:
            return await self._post(f"{self.settings.whatsapp_phone_number_id}/messages", json={
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message})
        except Unsent as e:
            if e.code == WINDOW_CLOSED:  # the retry goes as the template
                self._close_window(to)
            raise

    async def _post(self, path: str, **kwargs: Any) -> dict:
        try:
            response = await self._http.post(path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:  # the request never left
            raise Unsent(f"the Graph API could not be reached ({type(e).__name__})", transient=True) from None
        except httpx.TransportError as e:  # it may have arrived: retrying could send it twice
            raise SendError(f"no answer from the Graph API ({type(e).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.is_success and isinstance(answer, dict):
            return answer
        error = _dict(_dict(answer).get("error"))
        code = error.get("code") if isinstance(error.get("code"), int) else None
        message = f"the Graph API answered {response.status_code} (code {code}): {str(error.get('message', ''))[:200]}"
        if code == UNDELIVERABLE:
            raise Unreachable(message, status=response.status_code, code=code)
        if code in (PAIR_RATE_LIMITED, WINDOW_CLOSED) or response.status_code >= 500:
            raise Unsent(message, status=response.status_code, code=code, transient=True)
        if response.status_code == 429 or code in RATE_LIMITED:
            seconds = float(response.headers.get("Retry-After", RATE_LIMIT_WAIT))
            self._paused_until = asyncio.get_running_loop().time() + seconds
            raise RateLimited(message, seconds, status=response.status_code, code=code)
        raise SendError(message, status=response.status_code, code=code)


__all__ = ["CHANNEL", "RateLimited", "SendError", "Unreachable", "Unsent", "WhatsAppOptions", "WhatsAppTransport",
           "parse_webhook", "render"]
