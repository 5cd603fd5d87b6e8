"""A fake Bot API server (aiohttp, in the test's event loop, on a free port) for the Telegram transport.

It speaks enough of https://core.telegram.org/bots/api for aiogram: getMe, getUpdates (long polling with
offset and timeout, serving the updates a test queues), sendMessage, sendPhoto, editMessageText,
answerCallbackQuery, setMyCommands, setWebhook, deleteWebhook. Every call is recorded in `calls`. It can
answer the next N sendMessage calls with 429 and `parameters.retry_after`, 403 for a chat, or the next N
calls of any method with a 5xx.
"""
import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_FIELDS = ("reply_markup", "commands", "scope", "allowed_updates", "entities")
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Co-op Assistant", "username": "coop_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class TelegramAPI:
    token: str = "123456:TEST-token"
    first_update_id: int = 1000  # update ids are the bot's own sequence: two servers for one bot must not overlap
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict] = field(default_factory=list)
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _throttle: list[int] = field(default_factory=list)  # retry_after for each of the next sendMessage calls
    _blocked: set[str] = field(default_factory=set)
    _failing: dict[str, list[int]] = field(default_factory=dict)  # method -> statuses of its next calls

    def __post_init__(self) -> None:
        self._ids = itertools.count(self.first_update_id)

    async def start(self) -> str:
        """Serves on a free local port; returns the API base for TELEGRAM_API_BASE."""
        self._changed = asyncio.Condition()
        self._closing = False
        web_app = web.Application()
        web_app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(web_app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    async def close(self) -> None:
        self._closing = True  # a long poll still waiting answers now, so shutting down does not wait for it
        async with self._changed:
            self._changed.notify_all()
        await self._runner.cleanup()

    # ---- what a test does ----

    def message(self, user_id: int, text: str, username: str | None = None, lang: str | None = None,
                chat: dict | None = None) -> dict:
        """A message update (private chat unless `chat` says otherwise), with a fresh update_id."""
        sender = {"id": user_id, "is_bot": False, "first_name": username or str(user_id)}
        if username:
            sender["username"] = username
        if lang:
            sender["language_code"] = lang
        return {"update_id": next(self._ids), "message": {
            "message_id": next(self._message_ids), "date": int(time.time()), "text": text, "from": sender,
            "chat": chat or {"id": user_id, "type": "private", "first_name": sender["first_name"]}}}

    def press(self, user_id: int, data: str, username: str | None = None, lang: str | None = None) -> dict:
        """A callback query update: the user pressed an inline button carrying `data`."""
        sender = {"id": user_id, "is_bot": False, "first_name": username or str(user_id)}
        if username:
            sender["username"] = username
        if lang:
            sender["language_code"] = lang
        return {"update_id": next(self._ids), "callback_query": {
            "id": f"cq{next(self._ids)}", "from": sender, "chat_instance": "ci", "data": data,
            "message": {"message_id": next(self._message_ids), "date": int(time.time()), "text": "…",
                        "chat": {"id": user_id, "type": "private", "first_name": sender["first_name"]}}}}

    async def queue(self, update: dict) -> dict:
        """Offers an update to getUpdates."""
        self._updates.append(update)
        async with self._changed:
            self._changed.notify_all()
        return update

    def throttle_next_sends(self, count: int, retry_after: int) -> None:
        """The next `count` sendMessage calls get 429 Too Many Requests with parameters.retry_after."""
        self._throttle.extend([retry_after] * count)

    def fail_next(self, method: str, count: int, status: int = 502, html: bool = False) -> None:
        """The next `count` calls of `method` get `status` (a 5xx: the Bot API is down), as the Bot API's JSON
        error or (`html`) as a proxy's HTML page."""
        self._failing.setdefault(method, []).extend([(status, html)] * count)

    def block(self, chat_id: int | str) -> None:
        """Every send to this chat gets 403: the user blocked the bot."""
        self._blocked.add(str(chat_id))

    def sent(self, chat_id: int | str | None = None, method: str = "sendMessage") -> list[Call]:
        """Successful calls of `method` (to `chat_id`, when given)."""
        return [c for c in self.calls if c.method == method and c.status == 200
                and (chat_id is None or c.params.get("chat_id") == str(chat_id))]

    async def wait_for(self, method: str, chat_id: int | str | None = None, contains: str = "",
                       after: int = 0, timeout: float = 30.0) -> Call:
        """The first successful `method` call (to `chat_id`, its text or caption containing `contains`)
        among the calls from index `after` on."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self.calls[after:]:
                if (call.method == method and call.status == 200
                        and (chat_id is None or call.params.get("chat_id") == str(chat_id))
                        and contains in (call.params.get("text") or call.params.get("caption") or "")):
                    return call
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                recent = [(c.method, c.params.get("chat_id"), (c.params.get("text") or "")[:60], c.status)
                          for c in self.calls[-8:]]
                raise AssertionError(f"no {method} to {chat_id} containing {contains!r}; last calls: {recent}")
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
                except TimeoutError:
                    pass

    # ---- the Bot API ----

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        handler = getattr(self, f"_{method}", None)
        if self._failing.get(method):
            call.status, html = self._failing[method].pop(0)
            response = (web.Response(status=call.status, text="<html><h1>Bad Gateway</h1></html>",
                                     content_type="text/html") if html else self._error(call.status, "Bad Gateway"))
        elif handler is None:
            call.status = 404
            response = self._error(404, "Not Found: method not found")
        else:
            response = await handler(call)
            call.status = response.status
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        for key, value in list(params.items()):  # attach://name → the uploaded part
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.pop(value[len("attach://"):], value)
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    def _sent_message(self, call: Call, **content: Any) -> dict:
        chat_id = call.params["chat_id"]
        kind = "private" if not chat_id.startswith("-") else "supergroup"
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                   "chat": {"id": int(chat_id), "type": kind}, **content}
        if "reply_markup" in call.params:
            message["reply_markup"] = call.params["reply_markup"]
        return message

    def _refusal(self, call: Call) -> web.Response | None:
        if call.params.get("chat_id") in self._blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        return None

    async def _getMe(self, call: Call) -> web.Response:
        return self._ok({**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False})

    async def _getUpdates(self, call: Call) -> web.Response:
        offset = int(call.params.get("offset", 0))
        timeout = float(call.params.get("timeout", 0))
        deadline = asyncio.get_running_loop().time() + timeout
        self._updates = [u for u in self._updates if u["update_id"] >= offset]  # offset confirms the rest
        while not self._updates and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self._updates) or self._closing),
                                           remaining)
                except TimeoutError:
                    break
        return self._ok(self._updates[:int(call.params.get("limit", 100))])

    async def _sendMessage(self, call: Call) -> web.Response:
        if (refused := self._refusal(call)) is not None:
            return refused
        if self._throttle:
            retry_after = self._throttle.pop(0)
            return self._error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        return self._ok(self._sent_message(call, text=call.params["text"]))

    async def _sendPhoto(self, call: Call) -> web.Response:
        if (refused := self._refusal(call)) is not None:
            return refused
        photo = [{"file_id": "photo1", "file_unique_id": "u1", "width": 640, "height": 480}]
        return self._ok(self._sent_message(call, photo=photo, caption=call.params.get("caption")))

    async def _editMessageText(self, call: Call) -> web.Response:
        if "inline_message_id" in call.params:
            return self._ok(True)
        return self._ok({**self._sent_message(call, text=call.params["text"]),
                         "message_id": int(call.params["message_id"])})

    async def _answerCallbackQuery(self, call: Call) -> web.Response:
        return self._ok(True)

    async def _setMyCommands(self, call: Call) -> web.Response:
        return self._ok(True)

    async def _setWebhook(self, call: Call) -> web.Response:
        return self._ok(True)

    async def _deleteWebhook(self, call: Call) -> web.Response:
        return self._ok(True)
