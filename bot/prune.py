"""Stale rows deleted on a schedule: update ids past every redelivery, offers nobody can answer any more,
messages told (or dropped) long ago, and the once-marks of events nothing can show again."""
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.store import Announcement, OutgoingMessage, PendingAction, SeenUpdate
from bot.told import HELD
from chain.db import utcnow

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds between prunes: rows only need to go eventually
# Meta retries a WhatsApp webhook for up to 7 days, Telegram keeps an undelivered update for 24 hours: an id
# kept 8 days is still recognised when either redelivers it. WhatsApp's 24-hour window reads the latest
# seen_at per member (bot/transports/whatsapp.py); a row this old says "outside the window" as its absence does.
SEEN_KEPT = timedelta(days=8)
# An offer not confirmed (still offered, expired or cancelled) is kept a day past its confirm button's life, so
# a late press still hears why nothing happened; confirmed offers stay (they link to their intent).
OFFER_KEPT = timedelta(days=1)
# A message told or dropped is kept a month, for an admin looking into what someone was told; untold ones stay
# until told (bot/told.py).
TOLD_KEPT = timedelta(days=30)
# An event's once-mark (bot_announcements) is what stops a re-tell, so it goes (a month on, its messages all
# told) only for events nothing will show again:
# - intent:ID, an outcome: the outbox calls its subscriber again only while the intent's notified_at is unset,
#   and sets it as soon as the subscriber returns, which it does at once when the mark is there.
# - alert:HASH: the hash names the notice's moment; iot/alerts.py never makes that notice again.
# The rest stay. The indexer's cursor never re-reads old blocks, but catch_up (bot/announce.py) looks through
# the whole recorded history (chain_history, kept), so order:ID:closed and proposal:ID:created would be told
# again; the keeper looks at every proposal and every refused step again after a restart
# (proposal:ID:result|executed, gave-up:KEY); a transaction may wait at the fee ceiling for longer
# (fee-ceiling:SENDER:NONCE). Those grow with orders, proposals and stuck steps, as the history does.
PRUNED_MARKS = ("intent:%", "alert:%")


async def prune(sessions: async_sessionmaker, confirm_ttl: float, now: datetime | None = None
                ) -> tuple[int, int, int, int]:
    """Deletes stale seen-update ids, offers, told messages and events' once-marks; how many of each."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        seen = (await session.execute(delete(SeenUpdate).where(SeenUpdate.seen_at < now - SEEN_KEPT))).rowcount
        offers = (await session.execute(delete(PendingAction).where(
            PendingAction.state != "confirmed",
            PendingAction.created_at < now - timedelta(seconds=confirm_ttl) - OFFER_KEPT))).rowcount
        told = (await session.execute(delete(OutgoingMessage).where(
            # (a NULL `dropped` is not `!= HELD` in SQL: untold rows stay)
            OutgoingMessage.told_at.is_not(None) | (OutgoingMessage.dropped != HELD),
            OutgoingMessage.created_at < now - TOLD_KEPT))).rowcount
        untold = exists().where(OutgoingMessage.event == Announcement.key, OutgoingMessage.told_at.is_(None),
                                OutgoingMessage.dropped.is_(None) | (OutgoingMessage.dropped == HELD))
        marks = (await session.execute(delete(Announcement).where(
            or_(*(Announcement.key.like(kind) for kind in PRUNED_MARKS)),
            Announcement.at < now - TOLD_KEPT, ~untold))).rowcount
    if seen or offers or told or marks:
        log.info("pruned seen_updates=%d offers=%d told_messages=%d told_marks=%d", seen, offers, told, marks)
    return seen, offers, told, marks
