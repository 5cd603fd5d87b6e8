"""What a member sets for themselves and says to the co-op: their language, sensor alerts, feedback."""
from sqlalchemy import update

from bot.store import Feedback, Member
from core.ports import UnitOfWork
from core.results import Refused

MAX_FEEDBACK = 1000  # characters of a feedback text kept


async def set_language(uow: UnitOfWork, member: int, lang: str) -> None:
    """`member` (their row: one channel) is spoken to in `lang` from now on."""
    async with uow() as session:
        await session.execute(update(Member).where(Member.id == member).values(lang=lang))


async def set_alerts(uow: UnitOfWork, member: int, on: bool) -> None:
    """Sensor alerts in `member`'s private chat, on or off."""
    async with uow() as session:
        await session.execute(update(Member).where(Member.id == member).values(alerts=on))


async def leave_feedback(uow: UnitOfWork, member: int, score: int, text: str | None) -> Refused | None:
    """A satisfaction score from 1 (bad) to 5 (very good), with words if the member gave some (kept up to
    MAX_FEEDBACK characters). Refused `score` outside 1-5."""
    if not 1 <= score <= 5:
        return Refused("score", {"low": 1, "high": 5})
    async with uow() as session:
        session.add(Feedback(member=member, score=score, text=(text or "").strip()[:MAX_FEEDBACK] or None))
    return None
