"""Members as others name them (MEMBER in /send and admins' commands), and what a member sets for themselves and
says to the co-op: their language, sensor alerts, feedback (which admins read)."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update

from bot.identity import IdentityError, parse_identity, show_identity
from bot.store import Feedback, Member
from core.ports import UnitOfWork
from core.results import Refused

MAX_FEEDBACK = 1000  # characters of a feedback text kept
FEEDBACK_PAGE = 10  # answers an admin reads at a time


async def find(uow: UnitOfWork, typed: str) -> Member | Refused:
    """The member named by `typed` — `channel:id`, or an id, alias (@ana) or +number — never a display name
    (anyone can take one). Refused: unknown; ambiguous (`identities`, as people write them, for an admin to pick
    from): several residents go by it, and a money summary must not go to a look-alike."""
    bare = typed.strip().lstrip("@")
    try:
        channel, handle = parse_identity(typed.strip())
    except IdentityError:
        channel = handle = None
    if channel is None and bare.startswith("+"):  # a phone number as people write it: WhatsApp's
        try:
            channel, handle = parse_identity(f"whatsapp:{bare}")
        except IdentityError:
            pass
    async with uow.read() as session:
        if channel is not None:
            query = select(Member).where(Member.channel == channel, Member.handle == handle)
        else:
            query = select(Member).where(or_(Member.handle == bare, Member.alias == bare.lower()))
        rows = list((await session.execute(query)).scalars())
    if not rows:
        return Refused("unknown")
    if len({m.member_id for m in rows}) > 1:
        return Refused("ambiguous", {"identities": sorted(show_identity(m.channel, m.handle) for m in rows)})
    return rows[0]


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


@dataclass(frozen=True)
class Answer:
    """One member's feedback."""

    name: str  # who, as admins see them and type them (the alias, else the channel's id)
    score: int  # 1-5
    text: str | None
    at: datetime  # naive UTC


@dataclass(frozen=True)
class FeedbackPage:
    answers: list[Answer]  # newest first
    page: int  # from 1
    pages: int
    total: int  # answers in all


async def read_feedback(uow: UnitOfWork, page: int = 1) -> FeedbackPage | Refused:
    """What members said with /feedback, newest first, page `page` of them (for admins). Refused: no_page
    (`pages`)."""
    async with uow.read() as session:
        total = await session.scalar(select(func.count()).select_from(Feedback))
        pages = max(1, -(-total // FEEDBACK_PAGE))
        if not 1 <= page <= pages:
            return Refused("no_page", {"pages": pages})
        rows = (await session.execute(
            select(Feedback, Member).join(Member, Member.id == Feedback.member)
            .order_by(Feedback.created_at.desc(), Feedback.id.desc())
            .offset((page - 1) * FEEDBACK_PAGE).limit(FEEDBACK_PAGE))).all()
    return FeedbackPage([Answer(member.name, said.score, said.text, said.created_at) for said, member in rows],
                        page, pages, total)
