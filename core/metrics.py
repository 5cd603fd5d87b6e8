"""The pilot's figures (/stats): participation, transaction speed and satisfaction, each saying what it counts."""
import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.identity import identity_key
from bot.store import Admin, Feedback, Invite, Member, Timing
from chain.db import HistoryEvent, SmartAccount
from core.ports import Ports, utc

PARTICIPATION_EVENTS = ("Joined", "VoteCast", "VoteCastWithParams")
ACTIVE_DAYS = 7


@dataclass(frozen=True)
class PilotMetrics:
    """Members are residents, not channel rows: one resident linked on two channels (/link) counts once."""

    members: int  # every resident, admins included
    admins: int  # residents with an admin identity (COOP_ADMINS, --admin, or added in the database)
    joined_by_invite: int  # residents who came in with an /invite code (not admins started on first contact)
    invites: int  # invites to join made with /invite (not /link codes)
    invites_used: int
    invites_open: int  # unused and still valid
    invites_expired: int  # unused and past their two weeks
    active: int  # residents who wrote in the last ACTIVE_DAYS days
    participating: int  # residents who ever joined an order or voted
    timed: int  # confirmed actions whose outcome is known, from the confirm press to the outcome:
    median_ms: int | None  # their median
    p95_ms: int | None  # and their 95th percentile
    satisfaction: float | None  # the mean /feedback score, 1-5
    feedback: int  # /feedback answers


async def pilot_metrics(ports: Ports, admins: frozenset[str]) -> PilotMetrics:
    """`admins`: the identities the settings name admins ("channel:id"); those added in the database count too."""
    now = utc(ports.clock)
    async with ports.uow.read() as session:
        rows = (await session.execute(select(Member.channel, Member.handle, Member.member_id,
                                             Member.last_seen_at))).all()
        listed = {identity_key(c, h) for c, h in (await session.execute(select(Admin.channel, Admin.handle))).all()}
        invites = (await session.execute(select(Invite.used_by, Invite.expires_at).where(
            Invite.for_member_id.is_(None)))).all()
        invited = (await session.execute(
            select(func.count(func.distinct(Member.member_id))).select_from(Member)
            .join(Invite, Invite.used_by == Member.id).where(Invite.for_member_id.is_(None)))).scalar_one()
        participating = (await session.execute(
            select(func.count(func.distinct(Member.member_id))).select_from(Member)
            .join(SmartAccount, SmartAccount.member_id == Member.member_id)
            .join(HistoryEvent, HistoryEvent.account == SmartAccount.address)
            .where(HistoryEvent.event.in_(PARTICIPATION_EVENTS)))).scalar_one()
        times = sorted((await session.execute(select(Timing.milliseconds).where(
            Timing.milliseconds.is_not(None)))).scalars())
        scores = list((await session.execute(select(Feedback.score))).scalars())
    admins = admins | listed
    members = {member_id for _, _, member_id, _ in rows}
    admin_members = {member_id for channel, handle, member_id, _ in rows if identity_key(channel, handle) in admins}
    since = now - timedelta(days=ACTIVE_DAYS)
    active = {member_id for _, _, member_id, seen in rows if seen is not None and seen >= since}
    used = sum(used_by is not None for used_by, _ in invites)
    expired = sum(used_by is None and expires < now for used_by, expires in invites)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None
    return PilotMetrics(len(members), len(admin_members), invited, len(invites), used,
                        len(invites) - used - expired, expired, len(active), participating, len(times),
                        int(statistics.median(times)) if times else None, p95,
                        statistics.fmean(scores) if scores else None, len(scores))
