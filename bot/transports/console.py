"""The console transport: the JSON lines of docs/interfaces.md §2 on stdin and stdout (logs go to stderr).

In:  {"from": "alice", "text": "/start"} · {"from": "bob", "text": "hola", "lang": "es"} ·
     {"from": "alice", "press": "<button data>"} · {"from": "alice", "chat": "group", "text": "..."}
Out: {"to": "alice", "text": "...", "buttons": [[{"text": "Confirm", "data": "..."}]]} ·
     {"to": "group", "text": "...", "image": "/abs/path/chart.png"}

Once it listens, one line goes to stderr ("ready: type JSON lines") so a person at a terminal knows it
is waiting. Replies pushed later (outcomes) are written as they happen. When stdin closes, the process waits for
every pending outcome to be told, then exits.
"""
import asyncio
import json
import logging
import sys
from typing import TextIO

from bot.app import App
from bot.notify import CONSOLE
from handlers.base import Inbound, Reply

log = logging.getLogger(__name__)
CHANNEL = "console"


def render(reply: Reply) -> str:
    line = {"to": reply.to, "text": reply.text}
    if reply.buttons:
        line["buttons"] = [[{"text": b.text, "data": b.data} for b in row] for row in reply.buttons]
    if reply.image:
        line["image"] = reply.image
    return json.dumps(line, ensure_ascii=False)


def parse(line: str) -> Inbound | None:
    """A protocol line as an Inbound; None (and a note on stderr) for anything malformed."""
    try:
        message = json.loads(line)
        user = message["from"]
        if not isinstance(user, str) or not user or ("text" not in message and "press" not in message):
            raise ValueError("needs a 'from' name and a 'text' or a 'press'")
    except (ValueError, KeyError, TypeError) as e:
        log.warning("console: ignoring a line that is not a protocol message (%s): %r", e, line[:200])
        return None
    return Inbound(channel=CHANNEL, user=user, text=message.get("text"), press=message.get("press"),
                   chat="group" if message.get("chat") == "group" else "private", lang_hint=message.get("lang"))


READY = "ready: type JSON lines"


async def run(app: App, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> None:
    async def write(reply: Reply) -> None:
        stdout.write(render(reply) + "\n")
        stdout.flush()

    app.connect(CHANNEL, write, CONSOLE)
    await app.begin()
    print(READY, file=stderr, flush=True)  # stderr: stdout carries protocol lines only
    while line := await asyncio.to_thread(stdin.readline):
        if not line.strip():
            continue
        inbound = parse(line)
        if inbound is None:
            continue
        for reply in await app.handle(inbound):
            await write(reply)
    await app.settle()
