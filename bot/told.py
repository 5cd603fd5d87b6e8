"""What the co-op tells, kept until told: an event's messages are written with its once-key in one
transaction, handed to the notifier, and each is marked told only after its channel took it.

An event is anything told once (an intent's outcome, an order's close, a proposal's result, an alert):
its key is an `Announcement` row, so a second writer (another process, or this one again after a crash)
writes nothing. Its messages are `OutgoingMessage` rows, one per recipient. A message the channel did not
take (the process died, the channel was away, every retry failed) stays untold and is queued again at
start-up and every `RESEND_EVERY` seconds. The one double left is a crash between the channel taking a
message and its told mark: at most once more, never lost.
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

    async def finished(self, record: int, dropped: str | None) -> None:
        """The notifier is done with a message: told (the channel took it), or dropped for good."""
        values = {"told_at": utcnow()} if dropped is None else {"dropped": dropped}
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutgoingMessage).where(OutgoingMessage.id == record).values(**values))


def buttons_of(reply: Reply) -> list[list[dict[str, str]]] | None:
    return [[{"text": b.text, "data": b.data} for b in line] for line in reply.buttons] or None


def reply_of(row: OutgoingMessage) -> Reply:
    buttons = [[Button(b["text"], b["data"]) for b in line] for line in row.buttons or []]
    return Reply(row.recipient, row.text, buttons, row.image)


__all__ = ["RESEND_EVERY", "Telling"]
