"""Stale rows deleted on a schedule: update ids past every redelivery, offers nobody can answer any more,
messages told (or dropped) long ago."""
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.store import OutgoingMessage, PendingAction, SeenUpdate
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
# until told (bot/told.py), and the events' keys (bot_announcements) stay: they are what stops a re-tell.
TOLD_KEPT = timedelta(days=30)


async def prune(sessions: async_sessionmaker, confirm_ttl: float, now: datetime | None = None
                ) -> tuple[int, int, int]:
    """Deletes stale seen-update ids, offers and told messages; how many of each."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        seen = (await session.execute(delete(SeenUpdate).where(SeenUpdate.seen_at < now - SEEN_KEPT))).rowcount
        offers = (await session.execute(delete(PendingAction).where(
            PendingAction.state != "confirmed",
            PendingAction.created_at < now - timedelta(seconds=confirm_ttl) - OFFER_KEPT))).rowcount
        told = (await session.execute(delete(OutgoingMessage).where(
            (OutgoingMessage.told_at.is_not(None) | OutgoingMessage.dropped.is_not(None)),
            OutgoingMessage.created_at < now - TOLD_KEPT))).rowcount
    if seen or offers or told:
        log.info("pruned seen_updates=%d offers=%d told_messages=%d", seen, offers, told)
    return seen, offers, told
