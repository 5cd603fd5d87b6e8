"""What the co-op tells, kept until told: an event's messages are written with its once-key in one
transaction, handed to the notifier, and each is marked told only after its channel took it.

An event is anything told once (an intent's outcome, an order's close, a proposal's result, an alert):
its key is an `Announcement` row, so a second writer (another process, or this one again after a crash)
writes nothing. Its messages are `OutgoingMessage` rows, one per recipient. A message the channel did not
take (the process died, the channel was away, every retry failed) stays untold and is queued again at
start-up and every `RESEND_EVERY` seconds. The one double left is a crash between the channel taking a
message and its told mark: at most once more, never lost.

A channel may report later that a message it took was not delivered: WhatsApp's status webhook, with error
131047 when the member's 24-hour window had closed. Its told mark is cleared and it is held (`dropped` HELD,
found by the channel's id for it, `sent_id`) until the member writes again, then told again.
"""
import logging
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.notify import Notifier
from bot.store import Announcement, OutgoingMessage
from chain.db import utcnow
from chain.transactions import crash_point
from handlers.base import Button, Reply

log = logging.getLogger(__name__)

RESEND_EVERY = 300.0  # seconds between looks for messages left untold
RESEND_AFTER = timedelta(minutes=2)  # a message younger than this is still in the notifier's hands
HELD = "held"  # `dropped` of a message waiting for its member to write (untold: never pruned)


class Telling:
    """The durable side of the notifier: records events' messages, marks them told, queues the untold again."""

    def __init__(self, sessions: async_sessionmaker, notifier: Notifier, crash_at: str | None = None):
        self.sessions = sessions
        self.notifier = notifier
        self.crash_at = crash_at  # tests only (chain.transactions.crash_point)
        self._seen: set[str] = set()  # event keys this process wrote or found written

    async def told_already(self, event: str) -> bool:
        """True when `event` was recorded (so its messages are told or on their way)."""
        if event in self._seen:
            return True
        async with self.sessions() as session:
            found = (await session.execute(select(exists().where(Announcement.key == event)))).scalar()
        if found:
            self._seen.add(event)
        return found

    async def tell(self, event: str, messages: list[tuple[str, Reply]]) -> bool:
        """Records `event` with its messages (channel, reply) in one transaction and queues them; False (and
        nothing written or queued) when the event was recorded before."""
        if event in self._seen:
            return False
        self._seen.add(event)
        try:
            async with self.sessions() as session, session.begin():
                session.add(Announcement(key=event))
                rows = [OutgoingMessage(event=event, seq=n, channel=channel, recipient=reply.to, text=reply.text,
                                        buttons=buttons_of(reply), image=reply.image)
                        for n, (channel, reply) in enumerate(messages)]
                session.add_all(rows)
                await session.flush()
                queued = [(row.id, channel, reply) for row, (channel, reply) in zip(rows, messages)]
        except IntegrityError:
            return False
        except Exception:  # not written: the caller's retry must be able to write it
            self._seen.discard(event)
            raise
        crash_point(self.crash_at, "after_record")  # recorded, not yet sent
        for record, channel, reply in queued:
            await self.notifier.push(channel, reply, record=record)
        return True

    async def resend(self, all_untold: bool = False) -> int:
        """Queues again the messages not told yet (at start-up `all_untold`; later only those old enough
        not to be in the notifier's hands). Returns how many."""
        query = select(OutgoingMessage).where(OutgoingMessage.told_at.is_(None), OutgoingMessage.dropped.is_(None))
        if not all_untold:
            query = query.where(OutgoingMessage.created_at < utcnow() - RESEND_AFTER)
        async with self.sessions() as session:
            rows = list((await session.execute(query.order_by(OutgoingMessage.id))).scalars())
        for row in rows:
            await self.notifier.push(row.channel, reply_of(row), record=row.id)
        return len(rows)

    async def finished(self, record: int, dropped: str | None, sent_id: str | None = None) -> None:
        """The notifier is done with a message: told (the channel took it, calling it `sent_id`), or dropped
        for good."""
        values = {"told_at": utcnow(), "sent_id": sent_id} if dropped is None else {"dropped": dropped}
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutgoingMessage).where(OutgoingMessage.id == record).values(**values))

    async def hold(self, channel: str, sent_id: str) -> None:
        """The message the channel calls `sent_id` was not delivered after all: untold, held for `release`."""
        async with self.sessions() as session, session.begin():
            held = (await session.execute(update(OutgoingMessage).where(
                OutgoingMessage.channel == channel, OutgoingMessage.sent_id == sent_id,
                OutgoingMessage.told_at.is_not(None)).values(told_at=None, dropped=HELD))).rowcount
        if held:
            log.info("told held channel=%s sent_id=%s reason=not_delivered", channel, sent_id[-12:])

    async def release(self, channel: str, to: str) -> int:
        """The member `to` wrote: the messages held for them are queued again. Returns how many."""
        async with self.sessions() as session, session.begin():
            rows = list((await session.execute(select(OutgoingMessage).where(
                OutgoingMessage.told_at.is_(None), OutgoingMessage.dropped == HELD,
                OutgoingMessage.channel == channel, OutgoingMessage.recipient.in_((to, "+" + to)))
                .order_by(OutgoingMessage.id))).scalars())
            for row in rows:
                row.dropped = None
        for row in rows:
            self.notifier.forget(row.id)
            await self.notifier.push(row.channel, reply_of(row), record=row.id)
        return len(rows)


def buttons_of(reply: Reply) -> list[list[dict[str, str]]] | None:
    return [[{"text": b.text, "data": b.data} for b in line] for line in reply.buttons] or None


def reply_of(row: OutgoingMessage) -> Reply:
    buttons = [[Button(b["text"], b["data"]) for b in line] for line in row.buttons or []]
    return Reply(row.recipient, row.text, buttons, row.image)


__all__ = ["HELD", "RESEND_EVERY", "Telling"]
