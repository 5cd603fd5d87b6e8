"""The one queue for everything pushed to members: paced to each channel's limits, retried, never doubled.

Outcomes, announcements, alerts, digests and broadcasts all go through `Notifier.push`, which only
enqueues. A message pushed with a `record` (its durable row, bot/told.py) is reported to `on_done` once
the channel took it (`on_done(record, None, sent_id)`: the channel's id for it, when its send returns one) or
it was dropped for good (`"blocked"`, `"error"`); one
that every retry failed, or that no transport could take, is not reported and stays to be told again.
The same record is never queued twice at once. Each recipient has its own worker, so a recipient whose
messages are being retried holds up nobody else while their own messages still arrive in order. A
channel's `Sender` says how a send failed by the exception it raises:

- `RetryAfter(seconds)` — the channel asked us to wait (Telegram's 429 `retry_after`);
- `TransientError` — not delivered, worth trying again (5xx, connection refused, timeout before send);
- `Blocked` — the member blocked the bot: `on_blocked(channel, to)` is told, their messages skipped.

Anything else is a bug in the sender or the reply: logged as undeliverable, never retried.
A sender must raise `TransientError` only when the message certainly did not go out; that is what
keeps a retry from duplicating it.
"""
import asyncio
import inspect
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.logsafe import who

if TYPE_CHECKING:  # importing handlers.base pulls in the database and the chain: not needed at run time
    from handlers.base import Reply

log = logging.getLogger(__name__)

GROUP = "group"  # Reply.to for the co-op's group chat


class RetryAfter(Exception):
    """The channel asked us not to send again for `seconds` (Telegram's 429 with retry_after)."""

    def __init__(self, seconds: float):
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Blocked(Exception):
    """The recipient blocked the bot (or deleted their account): sending again is pointless."""


class TransientError(Exception):
    """The message was certainly not delivered, and trying again later may work."""


class Sender(Protocol):
    # Raises RetryAfter, Blocked or TransientError; may return the channel's id for the message it took
    # (WhatsApp's, whose failures are reported later by that id).
    async def send(self, reply: "Reply") -> str | None: ...


@dataclass(frozen=True)
class _FunctionSender:
    send: "SendFunction"


@dataclass(frozen=True)
class Limits:
    """How fast a channel may be sent to; None means no limit."""

    overall_per_second: float | None = None
    per_chat_per_second: float | None = None  # any one chat, private or group
    per_group_per_minute: float | None = None  # any one group chat, on top of the per-chat limit


# Telegram's published limits (core.telegram.org/bots/faq): ~30 messages/s in all, 1/s in one chat,
# 20/min in one group.
TELEGRAM = Limits(overall_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
# WhatsApp's throughput depends on the business account's tier: override with dataclasses.replace.
WHATSAPP = Limits(overall_per_second=20, per_chat_per_second=1)
CONSOLE = Limits()

SendFunction = Callable[["Reply"], Awaitable[None]]  # an App sink, `async def write(reply)`, also serves
OnBlocked = Callable[[str, str], Awaitable[None] | None]
OnDone = Callable[[int, str | None, str | None], Awaitable[None]]  # (record, dropped, sent id)
RECENT = 10_000  # finished records remembered, so a resend racing a told mark does not send twice


class _Window:
    """A sliding window: at most `count` events in any `period` seconds."""

    def __init__(self, count: int, period: float):
        self.count, self.period = count, period
        self.times: deque[float] = deque()

    @classmethod
    def per(cls, rate: float | None, seconds: float) -> "_Window | None":
        if rate is None:
            return None
        count = max(1, int(rate))  # a fractional rate like 0.5/s becomes 1 per 2 s
        return cls(count, seconds * count / rate)

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()
        return 0.0 if len(self.times) < self.count else self.times[0] + self.period - now

    def record(self, now: float) -> None:
        self.times.append(now)


@dataclass
class _Message:
    id: str
    channel: str
    reply: "Reply"
    record: int | None = None  # its durable row (bot/told.py), if any
    sent: str | None = None  # the channel's id for it, once taken (when the channel gives one)


@dataclass
class _Channel:
    sender: Sender
    limits: Limits
    overall: _Window | None
    # A RetryAfter pauses the whole channel, as python-telegram-bot's rate limiter does: our own pacing
    # keeps each chat under its limit, so a 429 most likely means the bot as a whole is flooding.
    paused_until: float = 0.0
    chats: dict[str, list[_Window]] = field(default_factory=dict)  # to -> its windows (kept between bursts)

    def windows(self, to: str) -> list[_Window]:
        if to not in self.chats:
            group = to == GROUP or to.startswith("-")  # Telegram's group chat ids are negative
            found = [_Window.per(self.limits.per_chat_per_second, 1.0),
                     _Window.per(self.limits.per_group_per_minute, 60.0) if group else None]
            self.chats[to] = [w for w in found if w is not None]
        return self.chats[to]


class Notifier:
    """Delivers pushed replies: per channel limits, retries with backoff, order kept per recipient."""

    def __init__(self, senders: dict[str, tuple[Sender | SendFunction, Limits]], *, on_blocked: OnBlocked | None = None,
                 on_done: OnDone | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 max_attempts: int = 6, base_delay: float = 0.5, max_delay: float = 60.0):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._channels: dict[str, _Channel] = {}
        for name, (sender, limits) in senders.items():
            self.connect(name, sender, limits)
        self._on_blocked = on_blocked
        self._on_done = on_done
        self._records: set[int] = set()  # records queued or being sent
        self._finished: dict[int, None] = {}  # records reported done lately, oldest first
        self._clock, self._sleep = clock, sleep
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self._queues: dict[tuple[str, str], deque[_Message]] = {}
        self._workers: dict[tuple[str, str], asyncio.Task] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = False
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:6]  # ids stay unique across restarts

    # ---- lifecycle ----

    async def start(self) -> None:
        self._running = True
        for key, queue in self._queues.items():
            if queue:
                self._spawn(key)

    async def stop(self, drain: bool = True) -> None:
        """Stops the workers; with drain, after everything queued is delivered or given up."""
        if drain and self._running:
            await self.drain()
        self._running = False
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for queue in self._queues.values():
            for message in queue:
                log.warning("notify dropped id=%s channel=%s to=%s reason=stopped",
                            message.id, message.channel, who(message.reply.to))
        self._queues.clear()
        self._records.clear()  # untold: told again at the next start
        self._pending = 0
        self._idle.set()

    async def drain(self) -> None:
        """Waits until everything queued so far is delivered, skipped or given up."""
        if not self._running and self._pending:
            raise RuntimeError("the notifier is not started: nothing would be delivered")
        await self._idle.wait()

    # ---- what the app uses ----

    def forget(self, record: int) -> None:
        """`record`, reported done, is to be told again (its channel reported it undelivered after all)."""
        self._finished.pop(record, None)

    async def push(self, channel: str, reply: "Reply", record: int | None = None) -> str:
        """Queues a reply for delivery and returns its id (for the logs); never waits on the network.
        `record`: the reply's durable row, reported to `on_done` (a record already queued is not queued again)."""
        message = _Message(f"{self._run}-{next(self._ids)}", channel, reply, record)
        key = (channel, reply.to)
        if record is not None and (record in self._records or record in self._finished):
            pass
        elif channel not in self._channels:
            log.warning("notify dropped id=%s channel=%s to=%s reason=no-transport", message.id, channel,
                        who(reply.to))
        elif key in self._blocked:
            log.info("notify skipped id=%s channel=%s to=%s reason=blocked", message.id, channel, who(reply.to))
            await self._report(message, "blocked")
        else:
            if record is not None:
                self._records.add(record)
            self._queues.setdefault(key, deque()).append(message)
            self._pending += 1
            self._idle.clear()
            if self._running and key not in self._workers:
                self._spawn(key)
        return message.id

    def connect(self, channel: str, sender: Sender | SendFunction, limits: Limits) -> None:
        """Adds or replaces a channel's sender (an object with `send`, or an async function of a reply).

        Transports call this when they start; a push to a channel not connected yet is logged and dropped.
        """
        if not hasattr(sender, "send"):
            sender = _FunctionSender(sender)
        self._channels[channel] = _Channel(sender, limits, _Window.per(limits.overall_per_second, 1.0))

    def unblock(self, channel: str, to: str) -> None:
        """The member came back (wrote to the bot again): deliver to them again."""
        self._blocked.discard((channel, to))

    # ---- the workers ----

    def _spawn(self, key: tuple[str, str]) -> None:
        self._workers[key] = asyncio.create_task(self._work(key), name=f"notify {key[0]}:{key[1]}")

    async def _work(self, key: tuple[str, str]) -> None:
        """Sends one recipient's messages in order; ends when their queue is empty."""
        queue = self._queues[key]
        try:
            while queue:
                await self._report(queue[0], await self._deliver(queue[0]))
                queue.popleft()
                self._done(1)
                if key in self._blocked:
                    skipped = list(queue)
                    queue.clear()
                    for message in skipped:
                        log.info("notify skipped id=%s channel=%s to=%s reason=blocked",
                                 message.id, message.channel, who(message.reply.to))
                        await self._report(message, "blocked")
                    self._done(len(skipped))
        finally:
            # no await between the empty check and this: a push cannot slip in unseen
            del self._workers[key]
            if not queue:
                del self._queues[key]

    def _done(self, n: int) -> None:
        self._pending -= n
        if self._pending == 0:
            self._idle.set()

    async def _report(self, message: _Message, outcome: str | None) -> None:
        """Tells `on_done` how a recorded message ended: "told", or dropped for good ("blocked", "error");
        None (every retry failed) is not reported: the row stays untold, to be told again."""
        if message.record is None:
            return
        try:
            if outcome is not None and self._on_done is not None:
                await self._on_done(message.record, None if outcome == "told" else outcome, message.sent)
                self._finished[message.record] = None
                if len(self._finished) > RECENT:
                    del self._finished[next(iter(self._finished))]
        except Exception:  # the mark is not written: it is told again later, never lost
            log.exception("notify mark failed id=%s record=%s", message.id, message.record)
        finally:
            self._records.discard(message.record)

    async def _deliver(self, message: _Message) -> str | None:
        """Sends with retries; returns "told", "blocked", "error", or None when every attempt failed."""
        channel = self._channels[message.channel]
        to = message.reply.to
        for attempt in range(1, self.max_attempts + 1):
            await self._wait_turn(channel, to)
            try:
                message.sent = await channel.sender.send(message.reply)
                return "told"
            except RetryAfter as e:
                channel.paused_until = max(channel.paused_until, self._clock() + e.seconds)
                error, delay = f"retry-after {e.seconds}", 0.0  # _wait_turn waits out the pause
            except TransientError as e:
                error, delay = f"transient {e!r}", min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            except Blocked:
                await self._blocked_by(message.channel, to)
                log.info("notify skipped id=%s channel=%s to=%s reason=blocked", message.id, message.channel, who(to))
                return "blocked"
            except Exception:  # a bug, not the network: retrying would not help
                log.exception("notify undeliverable id=%s channel=%s to=%s attempts=%d reason=error",
                              message.id, message.channel, who(to), attempt)
                return "error"
            log.info("notify retry id=%s channel=%s to=%s attempt=%d error=%s",
                     message.id, message.channel, who(to), attempt, error)
            if attempt < self.max_attempts and delay:
                await self._sleep(delay)
        log.error("notify undeliverable id=%s channel=%s to=%s attempts=%d reason=%s",
                  message.id, message.channel, who(to), self.max_attempts, error)
        return None

    async def _wait_turn(self, channel: _Channel, to: str) -> None:
        """Sleeps until this chat and the channel may be sent to, then counts the send against both."""
        windows = channel.windows(to)
        if channel.overall is not None:
            windows = [*windows, channel.overall]
        while True:
            now = self._clock()
            wait = max([channel.paused_until - now, *(w.wait(now) for w in windows)])
            if wait <= 0:
                for w in windows:  # checked and counted with no await between: workers cannot overtake
                    w.record(now)
                return
            await self._sleep(wait)

    async def _blocked_by(self, channel: str, to: str) -> None:
        if (channel, to) in self._blocked:
            return
        self._blocked.add((channel, to))
        if self._on_blocked is None:
            return
        try:
            result = self._on_blocked(channel, to)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("notify on_blocked failed channel=%s to=%s", channel, who(to))


__all__ = ["CONSOLE", "GROUP", "TELEGRAM", "WHATSAPP", "Blocked", "Limits", "Notifier", "RetryAfter", "Sender",
           "TransientError"]
