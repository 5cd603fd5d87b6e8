"""bot.throughput: updates per second through Telegram long polling, ours against a bare aiogram 3 echo bot.

Ours is `coop telegram` (App + TelegramTransport, polling, embedded defaults, a temp data dir); the anchor is
a Dispatcher with one message handler that answers the text back (`python -m bench.telegram echo`). Each
runs in its own process against its own fake Bot API server (tests/bot/telegram_api.py), which runs here, so
the server's own cost is in neither figure. A round: queue N text updates from 20 users at once (one
getUpdates batch per 100), start the clock, stop it at the arrival of the N-th sendMessage; the median of
several rounds, ours and the anchor's taking turns.

- bot.throughput: the plain phrase "balance" from onboarded members (wallets already created) — what a
  resident does most; it reads the chain (three calls in one batch to the embedded node).
- bot.throughput.help: "/help" from the same members — no chain read: the transport, the router, the
  store and the catalogs alone.
"""
import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.bot.telegram_api import TelegramAPI

N = 600  # updates per round
USERS = 20
ROUNDS = 5  # each side's figure is the median of its rounds; the two sides' rounds alternate
WARM_UP = 2  # rounds of the anchor's not counted
ADMIN_ID = 1
MEMBER_IDS = range(100, 100 + USERS)
TIMEOUT = 60.0  # seconds for any one wait
ROOT = Path(__file__).resolve().parent.parent


def run() -> Iterator[str]:
    yield from asyncio.run(_measure())


async def _measure() -> list[str]:
    """Both bots run side by side, each with its own Bot API server; their rounds alternate, so a load that
    comes and goes on the machine falls on both, and the side not measured is paused meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        ours_api, anchor_api = TelegramAPI(), TelegramAPI()
        await ours_api.start()
        await anchor_api.start()
        ours = _spawn(ours_api, ["-m", "bot.cli", "telegram", "--data-dir", str(Path(tmp) / "data"),
                                 "--admin", str(ADMIN_ID)], Path(tmp) / "ours.log")
        anchor = _spawn(anchor_api, ["-m", "bench.telegram", "echo"], Path(tmp) / "anchor.log")
        try:
            await _onboard(ours_api, ours)
            await _wait(anchor, lambda: any(c.method == "getUpdates" for c in anchor_api.calls),
                        "the anchor's first poll")
            for _ in range(WARM_UP):  # the anchor's first rounds open its connections; ours did in onboarding
                await _round(anchor_api, anchor, "/help")
            rates = {(side, text): [] for side in ("ours", "anchor") for text in ("balance", "/help")}
            for text in ("balance", "/help"):
                for _ in range(ROUNDS):
                    with _paused(anchor):
                        rates["ours", text].append(await _round(ours_api, ours, text))
                    with _paused(ours):  # its idle worker and indexer would slow the anchor's round
                        rates["anchor", text].append(await _round(anchor_api, anchor, text))
        finally:
            await _end(ours, ours_api)
            await _end(anchor, anchor_api)
    lines = []
    for name, text in (("bot.throughput", "balance"), ("bot.throughput.help", "/help")):
        mine, theirs = statistics.median(rates["ours", text]), statistics.median(rates["anchor", text])
        lines.append(f"{name}: ratio {mine / theirs:.2f} (ours {mine:.0f} updates/s vs anchor {theirs:.0f} "
                     f"updates/s, medians of {ROUNDS} rounds of {N}) goal >= 0.5")
    return lines


@contextlib.contextmanager
def _paused(process: subprocess.Popen) -> Iterator[None]:
    """The other side stopped (SIGSTOP) while one side's round runs: neither takes the CPU from the other."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def _spawn(api: TelegramAPI, args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "COOP_DEV": "1"}
    for key in ("TELEGRAM_WEBHOOK_SECRET", "COOP_DATABASE_URL", "COOP_CHAIN_RPC_URL", "COOP_DATA_DIR"):
        env.pop(key, None)  # polling, embedded defaults
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr, env=env, cwd=ROOT)
    process.log = log
    return process


async def _end(process: subprocess.Popen, api: TelegramAPI) -> None:
    if process.poll() is None:
        process.terminate()
    await api.close()  # ends its long poll, so it stops at once
    try:
        await asyncio.to_thread(process.wait, 30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _wait(process: subprocess.Popen, done, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = process.log.read_text()[-2000:]
            raise RuntimeError(f"bench.telegram: no {what} (exit code {process.poll()}); its log ends:\n{tail}")
        await asyncio.sleep(0.01)


class _Replies:
    """The sendMessage calls answered 200 since it was made; each look reads only the calls new since the last."""

    def __init__(self, api: TelegramAPI) -> None:
        self.api, self.seen, self.found = api, len(api.calls), []

    def count(self) -> int:
        calls = self.api.calls
        self.found += [c for c in calls[self.seen:] if c.method == "sendMessage" and c.status == 200]
        self.seen = len(calls)
        return len(self.found)


async def _exchange(api: TelegramAPI, process: subprocess.Popen, updates: list[dict], replies: int,
                    what: str) -> list:
    """Queues the updates, waits for `replies` messages sent; returns them."""
    sent = _Replies(api)
    for update in updates:
        await api.queue(update)
    await _wait(process, lambda: sent.count() >= replies, what)
    return sent.found


async def _onboard(api: TelegramAPI, process: subprocess.Popen) -> None:
    """The admin and USERS members onboarded in English, each member's wallet created by a first balance."""
    await _exchange(api, process, [api.message(ADMIN_ID, "/start", username="admin", lang="en")], 1,
                    "language choice for the admin")
    await _exchange(api, process, [api.press(ADMIN_ID, "lang:en", username="admin", lang="en")], 2,
                    "welcome for the admin")
    invites = await _exchange(api, process, [api.message(ADMIN_ID, "/invite", username="admin")
                                             for _ in MEMBER_IDS], USERS, "invite codes")
    codes = [re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", c.params["text"]).group(1) for c in invites]
    await _exchange(api, process, [api.message(uid, f"/start {code}", username=f"m{uid}", lang="en")
                                   for uid, code in zip(MEMBER_IDS, codes)], USERS, "language choices")
    await _exchange(api, process, [api.press(uid, "lang:en", username=f"m{uid}", lang="en") for uid in MEMBER_IDS],
                    2 * USERS, "welcomes and menus")
    await _exchange(api, process, [api.message(uid, "balance", username=f"m{uid}") for uid in MEMBER_IDS], USERS,
                    "first balances")


async def _round(api: TelegramAPI, process: subprocess.Popen, text: str) -> float:
    """Updates per second for N `text` messages spread over the members."""
    await asyncio.sleep(0.2)  # whatever the last round left settles
    updates = [api.message(uid, text, username=f"m{uid}")
               for uid in (MEMBER_IDS[i % USERS] for i in range(N))]
    sent = _Replies(api)
    for update in updates:
        api._updates.append(update)  # all at once, then one wake-up (queue() wakes the poll on each one)
    started = time.monotonic()
    async with api._changed:
        api._changed.notify_all()
    await _wait(process, lambda: sent.count() >= N, f"{N} replies to {text!r}")
    replies = sent.found
    assert len({c.params["chat_id"] for c in replies}) == USERS
    return N / (replies[N - 1].at - started)


# ---- the anchor, in its own process ----


async def _echo() -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"]))
    await dispatcher.start_polling(Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session))


if __name__ == "__main__" and sys.argv[1:] == ["echo"]:
    asyncio.run(_echo())
