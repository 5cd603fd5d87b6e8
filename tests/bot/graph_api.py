"""A local stand-in for the Graph API's WhatsApp endpoints (messages, media), recording every call."""
import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    path: str
    authorized: bool
    body: dict[str, Any] = field(default_factory=dict)  # the JSON of a message, the form fields of an upload
    upload: bytes | None = None
    answer: dict[str, Any] = field(default_factory=dict)  # what the fake answered
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when it arrived


class GraphAPI:
    """Answers POST /{phone_number_id}/messages and /{phone_number_id}/media like the Cloud API does.

    Every call is recorded in `calls`, with whether it carried `Authorization: Bearer <token>`; a call
    without it is refused with the Graph API's OAuth error (code 190).
    """

    def __init__(self, token: str, phone_number_id: str):
        self.token, self.phone_number_id = token, phone_number_id
        self.calls: list[Call] = []
        # error answers for the next messages, (status, error) or (status, error, headers) (None: answer that one
        # normally), then success
        self.failures: list[tuple | None] = []
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "GraphAPI":
        app = web.Application()
        app.router.add_post("/v21.0/{number}/messages", self._messages)
        app.router.add_post("/v21.0/{number}/media", self._media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v21.0"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """The messages sent so far (to one number), in order."""
        return [c.body for c in self.tries(to) if c.status == 200]

    def tries(self, to: str | None = None) -> list[Call]:
        """The authorized calls to send a message (to one number), refused or not, in order."""
        return [c for c in self.calls if c.path.endswith("/messages") and c.authorized
                and (to is None or c.body.get("to") == to)]

    async def wait_for(self, to: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Waits until `count` messages went to `to`; returns them all."""
        async def enough() -> list[dict[str, Any]]:
            while len(sent := self.messages(to)) < count:
                self._changed.clear()
                await self._changed.wait()
            return sent
        try:
            return await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.messages(to))} of {count} messages to {to}: {self.messages(to)}") from None

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _refuse(self, request: web.Request) -> web.Response | None:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                                "code": 190}}, status=401)
        if request.match_info["number"] != self.phone_number_id:
            return web.json_response({"error": {"message": "Unsupported post request.", "code": 100}}, status=400)
        return None

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = Call(request.path, self._authorized(request), body)
        self._record(call)
        if (refused := self._refuse(request)) is not None:
            return refused
        if self.failures and (failure := self.failures.pop(0)) is not None:
            status, error, *headers = failure
            call.status = status
            return web.json_response({"error": error}, status=status, headers=headers[0] if headers else None)
        if body.get("messaging_product") != "whatsapp" or not body.get("to") or body.get("type") not in body:
            return web.json_response({"error": {"message": "Invalid parameter", "code": 100}}, status=400)
        call.answer = {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                       "messages": [{"id": f"wamid.out{next(self._ids)}"}]}
        return web.json_response(call.answer)

    async def _media(self, request: web.Request) -> web.Response:
        fields, upload = {}, None
        async for part in await request.multipart():
            if part.name == "file":
                upload = await part.read()
            else:
                fields[part.name] = await part.text()
        call = Call(request.path, self._authorized(request), fields, upload)
        self._record(call)
        if (refused := self._refuse(request)) is not None:
            return refused
        call.answer = {"id": f"media-{next(self._ids)}"}
        return web.json_response(call.answer)
