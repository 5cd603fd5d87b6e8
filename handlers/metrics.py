"""The pilot's metrics: participation, transaction speed and satisfaction."""
import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.identity import identity_key
from bot.store import Admin, Feedback, Invite, Member, Timing
from chain.db import HistoryEvent, SmartAccount, utcnow
from handlers.base import Services

PARTICIPATION_EVENTS = ("Joined", "VoteCast", "VoteCastWithParams")


@dataclass(frozen=True)
class PilotMetrics:
    """Members are residents, not channel rows: one resident linked on two channels (/link) counts once."""
    members: int  # every resident, admins included
    admins: int  # residents with an admin identity (COOP_ADMINS or added in the database)
    joined_by_invite: int  # the other residents: each came in with an invite
    invites: int  # invites to join made with /invite (not /link codes)
    invites_used: int
    invites_open: int  # unused and still valid
    invites_expired: int  # unused and past their two weeks
    weekly_active: int  # members who wrote in the last seven days
    participating: int  # members who joined an order or voted
    median_ms: int | None  # confirm press to outcome
    p95_ms: int | None
    satisfaction: float | None  # mean /feedback score, 1-5
    feedback: int


async def pilot_metrics(services: Services) -> PilotMetrics:
    now = utcnow()
    week_ago = now - timedelta(days=7)
    async with services.sessions() as session:
        rows = (await session.execute(select(Member.channel, Member.handle, Member.member_id,
                                             Member.last_seen_at))).all()
        listed = {identity_key(c, h) for c, h in (await session.execute(select(Admin.channel, Admin.handle))).all()}
        invites = (await session.execute(select(Invite.used_by, Invite.expires_at).where(
            Invite.for_member_id.is_(None)))).all()
        participating = (await session.execute(
            select(func.count(func.distinct(Member.member_id))).select_from(Member)
            .join(SmartAccount, SmartAccount.member_id == Member.member_id)
            .join(HistoryEvent, HistoryEvent.account == SmartAccount.address)
            .where(HistoryEvent.event.in_(PARTICIPATION_EVENTS)))).scalar_one()
        times = sorted((await session.execute(select(Timing.milliseconds).where(
            Timing.milliseconds.is_not(None)))).scalars())
        scores = list((await session.execute(select(Feedback.score))).scalars())
    admins = services.admins | listed
    members = {member_id for _, _, member_id, _ in rows}
    admin_members = {member_id for channel, handle, member_id, _ in rows if identity_key(channel, handle) in admins}
    active = {member_id for _, _, member_id, seen in rows if seen is not None and seen >= week_ago}
    used = sum(used_by is not None for used_by, _ in invites)
    expired = sum(used_by is None and expires < now for used_by, expires in invites)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None
    return PilotMetrics(len(members), len(admin_members), len(members - admin_members), len(invites), used,
                        len(invites) - used - expired, expired, len(active), participating,
                        int(statistics.median(times)) if times else None, p95,
                        statistics.fmean(scores) if scores else None, len(scores))
