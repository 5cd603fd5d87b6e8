"""The pilot's metrics: participation, transaction speed and satisfaction."""
import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.store import Feedback, Invite, Member, Timing
from chain.db import HistoryEvent, SmartAccount, utcnow
from handlers.base import Services

PARTICIPATION_EVENTS = ("Joined", "VoteCast", "VoteCastWithParams")


@dataclass(frozen=True)
class PilotMetrics:
    members: int
    invited: int
    weekly_active: int
    participating: int  # members who joined an order or voted
    median_ms: int | None  # confirm press to outcome
    p95_ms: int | None
    satisfaction: float | None  # mean /feedback score, 1-5
    feedback: int


async def pilot_metrics(services: Services) -> PilotMetrics:
    week_ago = utcnow() - timedelta(days=7)
    async with services.sessions() as session:
        # Residents, not channel rows: one resident linked on two channels (/link) counts once.
        members = (await session.execute(select(func.count(func.distinct(Member.member_id))))).scalar_one()
        invited = (await session.execute(select(func.count()).select_from(Invite))).scalar_one()
        active = (await session.execute(select(func.count(func.distinct(Member.member_id))).where(
            Member.last_seen_at >= week_ago))).scalar_one()
        participating = (await session.execute(
            select(func.count(func.distinct(Member.member_id))).select_from(Member)
            .join(SmartAccount, SmartAccount.member_id == Member.member_id)
            .join(HistoryEvent, HistoryEvent.account == SmartAccount.address)
            .where(HistoryEvent.event.in_(PARTICIPATION_EVENTS)))).scalar_one()
        times = sorted((await session.execute(select(Timing.milliseconds).where(
            Timing.milliseconds.is_not(None)))).scalars())
        scores = list((await session.execute(select(Feedback.score))).scalars())
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None
    return PilotMetrics(members, invited, active, participating,
                        int(statistics.median(times)) if times else None, p95,
                        statistics.fmean(scores) if scores else None, len(scores))
