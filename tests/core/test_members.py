"""A member's own settings and words (core/members.py)."""
from sqlalchemy import select

from bot.store import Feedback
from core.members import MAX_FEEDBACK, leave_feedback
from core.results import Refused


async def test_feedback_outside_one_to_five_is_refused_and_nothing_is_kept(world):
    ana = await world.member()
    assert await leave_feedback(world.ports.uow, ana.id, 6, "great") == Refused("score", {"low": 1, "high": 5})
    assert await leave_feedback(world.ports.uow, ana.id, 5, "  " + "x" * 2000) is None
    assert await leave_feedback(world.ports.uow, ana.id, 4, "   ") is None
    async with world.ports.uow.read() as session:
        kept = [(f.score, f.text) for f in (await session.execute(select(Feedback).order_by(Feedback.id))).scalars()]
    assert kept == [(5, "x" * MAX_FEEDBACK), (4, None)]
