"""The notifier: channel limits, RetryAfter, backoff, blocked members, order per recipient, drain.

Time is virtual: `FakeTime.sleep` parks the caller, and a ticker moves the clock to the earliest
wake-up once every task has run as far as it can, so send times are exact and tests take milliseconds.
"""
import asyncio
import heapq
import itertools
import logging
from collections import Counter
from dataclasses import replace

import pytest

from bot.notify import (
    CONSOLE,
    TELEGRAM,
    WHATSAPP,
    Blocked,
    Notifier,
    RetryAfter,
    TransientError,
)
from handlers.base import Reply


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self._someone_sleeps = asyncio.Event()
        self.frozen = False  # while set, the clock stands still (to look at a moment in between)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        self._someone_sleeps.set()
        await future

    async def tick(self) -> None:
        while True:
            if not self._sleepers:
                self._someone_sleeps.clear()
                await self._someone_sleeps.wait()
            for _ in range(50):  # let every runnable task get to its next sleep
                await asyncio.sleep(0)
            if not self._sleepers or self.frozen:
                continue
            self.now = self._sleepers[0][0]
            while self._sleepers and self._sleepers[0][0] == self.now:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)


class FakeSender:
    """Records every attempt and every delivery as (time, to, text); raises what `fail` says, in order."""

    def __init__(self, time: FakeTime, fail: dict[str, list[Exception]] | None = None,
                 blocked: frozenset[str] = frozenset()):
        self.time, self.fail, self.blocked = time, fail or {}, blocked
        self.attempts: list[tuple[float, str, str]] = []
        self.delivered: list[tuple[float, str, str]] = []

    async def send(self, reply: Reply) -> None:
        await asyncio.sleep(0)  # a real sender awaits the network
        self.attempts.append((self.time.now, reply.to, reply.text))
        if reply.to in self.blocked:
            raise Blocked()
        errors = self.fail.get(reply.text)
        if errors:
            raise errors.pop(0)
        self.delivered.append((self.time.now, reply.to, reply.text))

    def times(self, to: str) -> list[float]:
        return [t for t, who, _ in self.delivered if who == to]

    def texts(self, to: str) -> list[str]:
        return [text for _, who, text in self.delivered if who == to]


@pytest.fixture
async def fake_time():
    time = FakeTime()
    ticker = asyncio.create_task(time.tick())
    yield time
    ticker.cancel()


@pytest.fixture
def make(fake_time):
    notifiers: list[Notifier] = []

    def make(limits=TELEGRAM, channel="telegram", **kwargs) -> tuple[Notifier, FakeSender]:
        sender = FakeSender(fake_time, kwargs.pop("fail", None), kwargs.pop("blocked", frozenset()))
        notifier = Notifier({channel: (sender, limits)}, clock=fake_time.clock, sleep=fake_time.sleep, **kwargs)
        notifiers.append(notifier)
        return notifier, sender

    return make


async def drained(notifier: Notifier) -> None:
    await asyncio.wait_for(notifier.drain(), timeout=10)  # real seconds: a hang fails instead of blocking


async def until(condition) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def push_all(notifier: Notifier, messages: list[tuple[str, str]], channel="telegram") -> list[str]:
    return [await notifier.push(channel, Reply(to, text)) for to, text in messages]


# ---- limits ----

async def test_private_chat_gets_at_most_one_message_per_second(make):
    notifier, sender = make()
    await notifier.start()
    await push_all(notifier, [("alice", f"m{i}") for i in range(5)])
    await drained(notifier)
    assert sender.times("alice") == [0, 1, 2, 3, 4]


async def test_group_gets_at_most_twenty_per_minute_and_one_per_second(make):
    notifier, sender = make()
    await notifier.start()
    await push_all(notifier, [("group", f"m{i}") for i in range(45)])
    await drained(notifier)
    times = sender.times("group")
    assert times == [*range(20), *range(60, 80), *range(120, 125)]
    assert all(sum(1 for u in times if t <= u < t + 60) <= 20 for t in times)


async def test_telegram_sends_at_most_thirty_per_second_across_chats(make):
    notifier, sender = make()
    await notifier.start()
    await push_all(notifier, [(f"member{i}", "hello") for i in range(100)])
    await drained(notifier)
    assert Counter(t for t, _, _ in sender.delivered) == {0: 30, 1: 30, 2: 30, 3: 10}


async def test_whatsapp_overall_rate_is_configurable(make):
    notifier, sender = make(replace(WHATSAPP, overall_per_second=5), channel="whatsapp")
    await notifier.start()
    await push_all(notifier, [(f"+3400{i}", "hola") for i in range(12)], channel="whatsapp")
    await push_all(notifier, [("+34000", "otra")], channel="whatsapp")
    await drained(notifier)
    assert Counter(t for t, _, _ in sender.delivered) == {0: 5, 1: 5, 2: 3}
    assert sender.times("+34000") == [0, 2]  # 1/s for one recipient, and the overall limit too


async def test_console_is_not_limited(make):
    notifier, sender = make(CONSOLE, channel="console")
    await notifier.start()
    await push_all(notifier, [("alice", f"m{i}") for i in range(100)], channel="console")
    await drained(notifier)
    assert sender.texts("alice") == [f"m{i}" for i in range(100)]
    assert set(sender.times("alice")) == {0}


# ---- RetryAfter and transient errors ----

async def test_retry_after_waits_exactly_that_long_and_sends_once(make):
    notifier, sender = make(fail={"outcome": [RetryAfter(3)]})
    await notifier.start()
    await push_all(notifier, [("alice", "outcome")])
    await drained(notifier)
    assert [t for t, _, _ in sender.attempts] == [0, 3]
    assert sender.delivered == [(3, "alice", "outcome")]


async def test_retry_after_pauses_the_whole_channel(make, fake_time):
    notifier, sender = make(fail={"first": [RetryAfter(3)]})
    await notifier.start()
    fake_time.frozen = True
    await push_all(notifier, [("alice", "first")])
    await until(lambda: sender.attempts)  # alice's 429 arrives before bob's message is queued
    await push_all(notifier, [("bob", "second")])
    fake_time.frozen = False
    await drained(notifier)
    assert sender.delivered == [(3, "alice", "first"), (3, "bob", "second")]


async def test_transient_errors_are_retried_with_capped_exponential_backoff(make):
    fail = {"outcome": [TransientError("502")] * 5}
    notifier, sender = make(CONSOLE, channel="console", fail=fail, base_delay=1, max_delay=4)
    await notifier.start()
    await push_all(notifier, [("alice", "outcome")], channel="console")
    await drained(notifier)
    assert [t for t, _, _ in sender.attempts] == [0, 1, 3, 7, 11, 15]  # waits 1, 2, 4, then 4 (the cap)
    assert sender.delivered == [(15, "alice", "outcome")]


async def test_backoff_still_respects_the_chat_limit(make):
    notifier, sender = make(fail={"outcome": [TransientError("502")] * 2})
    await notifier.start()
    await push_all(notifier, [("alice", "outcome")])
    await drained(notifier)
    assert [t for t, _, _ in sender.attempts] == [0, 1, 2]  # backoff 0.5 then 1, but 1/s for the chat


async def test_gives_up_after_max_attempts_with_the_id_in_the_log(make, caplog):
    notifier, sender = make(CONSOLE, channel="console", max_attempts=3,
                            fail={"lost": [TransientError("503")] * 10})
    await notifier.start()
    with caplog.at_level(logging.INFO, logger="bot.notify"):
        lost, _ = await push_all(notifier, [("alice", "lost"), ("alice", "after")], channel="console")
        await drained(notifier)
    assert len([a for a in sender.attempts if a[2] == "lost"]) == 3
    assert sender.texts("alice") == ["after"]  # never sent, and the next message still goes
    undeliverable = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(undeliverable) == 1
    assert f"id={lost}" in undeliverable[0].getMessage() and "undeliverable" in undeliverable[0].getMessage()


async def test_an_unexpected_error_is_logged_and_not_retried(make, caplog):
    notifier, sender = make(CONSOLE, channel="console", fail={"bad": [ValueError("no such chat format")]})
    await notifier.start()
    with caplog.at_level(logging.ERROR, logger="bot.notify"):
        bad, _ = await push_all(notifier, [("alice", "bad"), ("alice", "good")], channel="console")
        await drained(notifier)
    assert [a[2] for a in sender.attempts] == ["bad", "good"]
    assert sender.texts("alice") == ["good"]
    assert f"id={bad}" in caplog.text


async def test_order_per_recipient_is_kept_under_retries(make):
    fail = {"m1": [TransientError("timeout"), RetryAfter(2), TransientError("502")]}
    notifier, sender = make(fail=fail)
    await notifier.start()
    await push_all(notifier, [("alice", "m1"), ("alice", "m2"), ("alice", "m3")])
    await drained(notifier)
    assert sender.texts("alice") == ["m1", "m2", "m3"]
    times = sender.times("alice")
    assert times == sorted(times) and len(set(times)) == 3


async def test_one_recipients_retries_do_not_hold_up_others(make):
    notifier, sender = make(fail={"a1": [TransientError("502")] * 2}, base_delay=10)
    await notifier.start()
    await push_all(notifier, [("alice", "a1"), ("alice", "a2"), ("bob", "b1"), ("bob", "b2"), ("bob", "b3")])
    await drained(notifier)
    assert sender.times("bob") == [0, 1, 2]
    assert sender.delivered[-2:] == [(30, "alice", "a1"), (31, "alice", "a2")]  # after waits of 10 and 20


# ---- blocked members ----

async def test_blocked_member_is_reported_once_and_skipped(make, caplog):
    reported = []
    notifier, sender = make(blocked=frozenset({"alice"}), on_blocked=lambda channel, to: reported.append((channel, to)))
    await notifier.start()
    with caplog.at_level(logging.INFO, logger="bot.notify"):
        ids = await push_all(notifier, [("alice", "a1"), ("alice", "a2"), ("bob", "b1"), ("alice", "a3")])
        await drained(notifier)
        ids += await push_all(notifier, [("alice", "later")])
        await drained(notifier)
    assert reported == [("telegram", "alice")]
    assert [a for a in sender.attempts if a[1] == "alice"] == [(0, "alice", "a1")]
    assert sender.texts("bob") == ["b1"]
    skipped = [ids[i] for i in (0, 1, 3, 4)]
    assert all(f"id={i} " in caplog.text and "reason=blocked" in caplog.text for i in skipped)


async def test_async_on_blocked_and_unblock(make):
    reported = []

    async def on_blocked(channel, to):
        reported.append(to)

    notifier, sender = make(blocked=frozenset({"alice"}), on_blocked=on_blocked)
    await notifier.start()
    await push_all(notifier, [("alice", "a1")])
    await drained(notifier)
    sender.blocked = frozenset()
    notifier.unblock("telegram", "alice")  # she wrote to the bot again
    await push_all(notifier, [("alice", "welcome back")])
    await drained(notifier)
    assert reported == ["alice"]
    assert sender.texts("alice") == ["welcome back"]


# ---- lifecycle ----

async def test_stop_delivers_everything_queued_first(make):
    notifier, sender = make(fail={"m2": [TransientError("502")]})
    await push_all(notifier, [("alice", f"m{i}") for i in range(3)] + [("group", "news")])  # before start
    await notifier.start()
    await asyncio.wait_for(notifier.stop(drain=True), timeout=10)
    assert sender.texts("alice") == ["m0", "m1", "m2"]
    assert sender.texts("group") == ["news"]


async def test_stop_without_drain_logs_what_was_not_sent(make, fake_time, caplog):
    notifier, sender = make()
    await notifier.start()
    fake_time.frozen = True
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        ids = await push_all(notifier, [("alice", f"m{i}") for i in range(5)])
        await until(lambda: sender.delivered)
        await notifier.stop(drain=False)
    assert sender.texts("alice") == ["m0"]
    assert all(f"id={i} " in caplog.text for i in ids[1:])
    await notifier.drain()  # nothing left to wait for


async def test_a_push_to_a_channel_without_transport_is_logged(make, caplog):
    notifier, sender = make()
    await notifier.start()
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        message_id = await notifier.push("whatsapp", Reply("+34000", "hola"))
        await drained(notifier)
    assert f"id={message_id}" in caplog.text and "no-transport" in caplog.text
    assert sender.attempts == []


async def test_a_transport_connects_an_async_function_later(make):
    notifier, _ = make()
    written = []

    async def write(reply: Reply) -> None:  # the console transport's sink
        written.append(reply.text)

    notifier.connect("console", write, CONSOLE)
    await notifier.start()
    await push_all(notifier, [("alice", "one"), ("alice", "two")], channel="console")
    await drained(notifier)
    assert written == ["one", "two"]


async def test_push_never_waits_for_the_network(make):
    notifier, sender = make()
    await notifier.start()
    await asyncio.wait_for(push_all(notifier, [("alice", f"m{i}") for i in range(50)]), timeout=1)
    assert len(sender.delivered) <= 1
    await drained(notifier)
    assert len(sender.delivered) == 50


async def test_runs_on_real_time_by_default():
    written = []

    async def write(reply: Reply) -> None:
        written.append(reply.text)

    notifier = Notifier({"console": (write, CONSOLE)}, base_delay=0.001)
    await notifier.start()
    await notifier.push("console", Reply("alice", "hello"))
    await asyncio.wait_for(notifier.stop(drain=True), timeout=5)
    assert written == ["hello"]
