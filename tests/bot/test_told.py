"""Everything told exactly once: an event's messages are durable rows, each marked told per recipient only after
its channel took it; a crash or a failed send tells it again, once."""
import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import store
from bot.notify import CONSOLE, Blocked, Notifier, TransientError
from bot.prune import TOLD_KEPT, prune
from bot.store import Announcement, OutgoingMessage
from bot.told import HELD, Telling
from chain.db import create_engine, sessionmaker, utcnow
from handlers.base import Reply
from tests.bot.console import Console, button, open_order
from tests.bot.test_console import invite_code, onboard
from tests.chain.conftest import migrated_database


@pytest.fixture(params=["sqlite", "postgresql"])
def bot_database(request, tmp_path):
    yield from migrated_database(request.param, tmp_path, store.migrate)


@pytest.fixture
async def sessions(bot_database):
    engine = create_engine(bot_database)
    yield sessionmaker(engine)
    await engine.dispose()


class Channel:
    """A channel that takes what it is sent, except from recipients it is told to refuse."""

    def __init__(self):
        self.taken: list[tuple[str, str]] = []
        self.failing: set[str] = set()  # transient failures
        self.blocking: set[str] = set()

    async def send(self, reply: Reply) -> None:
        if reply.to in self.blocking:
            raise Blocked()
        if reply.to in self.failing:
            raise TransientError("connection refused")
        self.taken.append((reply.to, reply.text))


def started(sessions, channel: Channel) -> tuple[Telling, Notifier]:
    """A notifier and its durable side, as the app builds them (a fresh pair is a restarted process)."""
    telling: Telling | None = None
    notifier = Notifier({"telegram": (channel, CONSOLE)}, on_done=lambda r, d, s: telling.finished(r, d, s),
                        max_attempts=2, base_delay=0)
    telling = Telling(sessions, notifier)
    return telling, notifier


async def marks(sessions) -> dict[str, tuple[bool, str | None]]:
    async with sessions() as session:
        rows = (await session.execute(select(OutgoingMessage))).scalars()
        return {row.recipient: (row.told_at is not None, row.dropped) for row in rows}


CLOSED = [("telegram", Reply("group", "Order #1 was bought.")), ("telegram", Reply("ann", "1 unit is yours.")),
          ("telegram", Reply("bob", "2 units are yours."))]


async def test_told_marks_are_per_recipient_and_a_failed_send_is_told_again_once(sessions):
    channel = Channel()
    channel.failing.add("bob")  # every attempt to bob fails
    telling, notifier = started(sessions, channel)
    await notifier.start()
    assert await telling.tell("order:1:closed", CLOSED)
    await asyncio.wait_for(notifier.drain(), 10)
    assert await marks(sessions) == {"group": (True, None), "ann": (True, None), "bob": (False, None)}
    assert not await telling.tell("order:1:closed", CLOSED)  # seen again (the indexer, a retry): nothing new
    await notifier.stop()

    channel.failing.clear()  # bob's chat is reachable again; the process restarted
    telling, notifier = started(sessions, channel)
    await notifier.start()
    assert not await telling.tell("order:1:closed", CLOSED)  # another process knows it from the database
    assert await telling.resend(all_untold=True) == 1
    await asyncio.wait_for(notifier.drain(), 10)
    assert await telling.resend(all_untold=True) == 0
    await notifier.stop()
    assert Counter(to for to, _ in channel.taken) == {"group": 1, "ann": 1, "bob": 1}
    assert await marks(sessions) == {"group": (True, None), "ann": (True, None), "bob": (True, None)}


async def test_a_message_queued_twice_is_sent_once(sessions):
    channel = Channel()
    telling, notifier = started(sessions, channel)
    assert await telling.tell("order:2:closed", CLOSED)  # queued, the notifier not started yet
    assert await telling.resend(all_untold=True) == 3  # a look for untold rows meanwhile queues nothing twice
    await notifier.start()
    await asyncio.wait_for(notifier.drain(), 10)
    await notifier.stop()
    assert Counter(to for to, _ in channel.taken) == {"group": 1, "ann": 1, "bob": 1}


async def test_a_member_who_blocked_the_bot_is_not_told_again_at_each_start(sessions):
    channel = Channel()
    channel.blocking.add("ann")
    telling, notifier = started(sessions, channel)
    await notifier.start()
    await telling.tell("order:3:closed", CLOSED)
    await asyncio.wait_for(notifier.drain(), 10)
    await notifier.stop()
    assert (await marks(sessions))["ann"] == (False, "blocked")
    assert await started(sessions, channel)[0].resend(all_untold=True) == 0


OUTCOME, DONE = "A cash deposit of $7.00 was recorded for you", "Recorded: $7.00 cash from ken (deposit #1)."


@pytest.mark.parametrize("stage", ["before_tell", "after_record"])
def test_killed_between_the_outcome_and_its_message_the_member_hears_it_once_after_restart(tmp_path, stage):
    """kill -9 once the deposit's outcome is recorded (before_tell), or once its messages are (after_record)."""
    data = tmp_path / "data"
    first = Console(data)
    try:
        onboard(first, "admin", "en")
        onboard(first, "ken", "en", invite_code(first))
        assert first.close() == 0
    finally:
        first.process.kill()
    crashing = Console(data, env={"COOP_TEST_CRASH_AT": stage})
    try:
        crashing.send(**{"from": "admin", "text": "/deposit ken 7"})
        crashing.send(**{"from": "admin", "press": button(crashing.expect("admin", "ken"), 0)})
        assert crashing.process.wait(timeout=60) == -9  # killed itself at the stage
    finally:
        crashing.process.kill()
    assert not [r for r in crashing.seen + crashing.rest() if OUTCOME in r["text"] or DONE in r["text"]]
    again = Console(data)
    try:
        again.heard("ken", OUTCOME)
        again.heard("admin", DONE)
        assert again.close() == 0
        everything = again.seen + again.rest()
    finally:
        again.process.kill()
    assert sum(OUTCOME in r["text"] for r in everything if r["to"] == "ken") == 1
    assert sum(DONE in r["text"] for r in everything if r["to"] == "admin") == 1


def test_killed_between_an_order_closing_and_its_messages_members_and_group_hear_it_once(tmp_path):
    """kill -9 once the indexer recorded the order's OrderExecuted, before anyone was told."""
    data = tmp_path / "data"
    crashing = Console(data, env={"COOP_TEST_CRASH_AT": "before_order_told"})
    try:
        onboard(crashing, "admin", "en")
        onboard(crashing, "raj", "en", invite_code(crashing))
        crashing.send(**{"from": "admin", "text": "/deposit raj 10"})
        crashing.send(**{"from": "admin", "press": button(crashing.expect("admin", "raj"), 0)})
        crashing.heard("raj", "$10.00")
        open_order(crashing, "/neworder beans 2.50 2 2 3")
        crashing.heard("group", "Order #1 is open")
        crashing.send(**{"from": "raj", "text": "/join 1 2"})
        crashing.send(**{"from": "raj", "press": button(crashing.expect("raj", "$5.00"), 0)})
        assert crashing.process.wait(timeout=60) == -9
    finally:
        crashing.process.kill()
    assert not [r for r in crashing.seen + crashing.rest() if "was bought" in r["text"]]
    again = Console(data)
    try:
        again.heard("raj", "Order #1 was bought: 2 units are yours.")
        again.heard("group", "Order #1 reached its goal")
        assert again.close() == 0
        everything = again.seen + again.rest()
    finally:
        again.process.kill()
    assert sum("was bought" in r["text"] for r in everything if r["to"] == "raj") == 1
    assert sum("reached its goal" in r["text"] for r in everything if r["to"] == "group") == 1


async def test_messages_told_or_dropped_long_ago_are_pruned_and_untold_ones_never(sessions):
    now = utcnow()
    old, recent = now - TOLD_KEPT - timedelta(hours=1), now - timedelta(days=1)
    async with sessions() as session, session.begin():
        for n, (created, told, dropped) in enumerate([(old, old, None), (old, None, "blocked"), (old, None, None),
                                                      (recent, recent, None), (old, None, HELD)]):
            session.add(OutgoingMessage(event=f"intent:{n}", seq=0, channel="telegram", recipient="jo", text="t",
                                        created_at=created, told_at=told, dropped=dropped))
    assert (await prune(sessions, 900))[2] == 2
    async with sessions() as session:
        kept = set((await session.execute(select(OutgoingMessage.event))).scalars())
    # never told (a month offline is no reason to lose it), recent, and held for the member's next message
    assert kept == {"intent:2", "intent:3", "intent:4"}


async def test_the_marks_of_events_told_long_ago_are_pruned_unless_they_could_be_told_again(sessions):
    now = utcnow()
    old, recent = now - TOLD_KEPT - timedelta(hours=1), now - timedelta(days=1)
    # Seen again after a restart (catch_up reads the whole recorded history; the keeper every proposal and
    # every refused step): their marks stay, however old.
    again = ["order:1:closed", "proposal:7:created", "proposal:7:result", "proposal:7:executed",
             "gave-up:finalize:1", "fee-ceiling:0xabc:3"]
    async with sessions() as session, session.begin():
        for key in again + ["intent:1", "alert:ab12"]:
            session.add(Announcement(key=key, at=old))
        session.add_all([Announcement(key="intent:2", at=recent), Announcement(key="intent:3", at=old)])
        session.add(OutgoingMessage(event="intent:3", seq=0, channel="telegram", recipient="jo", text="t",
                                    created_at=old))  # not told yet
    assert (await prune(sessions, 900))[3] == 2
    async with sessions() as session:
        kept = set((await session.execute(select(Announcement.key))).scalars())
    assert kept == {*again, "intent:2", "intent:3"}
