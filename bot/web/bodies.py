"""Untrusted JSON request bodies, read safely: a size cap while reading and a nesting-depth cap before parsing.

Why a depth cap: the process imports py_ecc, which raises Python's recursion limit to 100,000, so
`json.loads` of ~100 KB of `[` recurses until the C stack overflows and the whole process dies
(SIGSEGV) instead of raising. A cheap scan of the bytes finds the depth without recursing; every
endpoint that parses a request body goes through `read_body` and `parse_json` here.

Oversized → 413, not JSON or nested too deep → 400; the caller's process lives either way.
"""
import json
import re
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 64 * 1024  # a JSON-RPC call is a few KB
# A chat webhook's cap: Meta batches several messages in one POST, and the Bot API writes non-ASCII text as
# \uXXXX (a 4,096-character Bengali message quoting another is ~50 KB); refused, an update would be retried
# and hold up the ones behind it. The depth scan, not the size, is what keeps parsing safe.
MAX_WEBHOOK_BYTES = 1024**2
MAX_DEPTH = 32  # the deepest legitimate body (a WhatsApp webhook) nests about 8 levels

# The only bytes that matter to nesting: brackets, and quotes and backslashes (brackets inside strings).
_SIGNIFICANT = re.compile(rb'[\[\]{}"\\]')
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


class BodyRefused(Exception):
    """A request body we will not parse, with the HTTP status that says why (413 or 400)."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status, self.why = status, why

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.why)


def nesting_depth(body: bytes, stop_above: int | None = None) -> int:
    """How deep arrays and objects nest in `body` (brackets inside strings do not count), without parsing
    it; stops counting once the depth passes `stop_above`."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the byte after a backslash inside a string is taken literally
    for match in _SIGNIFICANT.finditer(body):
        at = match.start()
        if at == escaped_at:
            continue
        byte = body[at]
        if in_string:
            if byte == _BACKSLASH:
                escaped_at = at + 1
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif byte in _CLOSE:
            depth -= 1
    return deepest


async def read_body(request: web.Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The request's body, read no further than `max_bytes` (BodyRefused 413 beyond that)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyRefused(413, f"body over {max_bytes} bytes")
    chunks, size = [], 0
    while chunk := await request.content.read(max_bytes + 1 - size):  # a lying or absent Content-Length too
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise BodyRefused(413, f"body over {max_bytes} bytes")
    return b"".join(chunks)


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`body` parsed, once its nesting is known to be shallow (BodyRefused 400 when deeper, or not JSON)."""
    if nesting_depth(body, stop_above=max_depth) > max_depth:
        raise BodyRefused(400, f"JSON nested deeper than {max_depth}")
    try:
        # JSON over HTTP is UTF-8 (RFC 8259). Decoded strictly first: json.loads(bytes) would also take UTF-16
        # or UTF-32, whose multi-byte characters can hold a '"' byte that fools the depth scan above.
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BodyRefused(400, "not JSON") from None


async def read_json(request: web.Request, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """read_body, then parse_json."""
    return parse_json(await read_body(request, max_bytes), max_depth)


__all__ = ["BodyRefused", "MAX_BODY_BYTES", "MAX_DEPTH", "MAX_WEBHOOK_BYTES", "nesting_depth", "parse_json", "read_body", "read_json"]
