"""A member's own settings and words (core/members.py)."""
from datetime import datetime

from sqlalchemy import select

from bot.store import Feedback
from core.members import MAX_FEEDBACK, Answer, FeedbackPage, leave_feedback, read_feedback
from core.results import Refused


async def test_feedback_outside_one_to_five_is_refused_and_nothing_is_kept(world):
    ana = await world.member()
    assert await leave_feedback(world.ports.uow, ana.id, 6, "great") == Refused("score", {"low": 1, "high": 5})
    assert await leave_feedback(world.ports.uow, ana.id, 5, "  " + "x" * 2000) is None
    assert await leave_feedback(world.ports.uow, ana.id, 4, "   ") is None
    async with world.ports.uow.read() as session:
        kept = [(f.score, f.text) for f in (await session.execute(select(Feedback).order_by(Feedback.id))).scalars()]
    assert kept == [(5, "x" * MAX_FEEDBACK), (4, None)]


async def test_admins_read_the_feedback_newest_first_a_page_at_a_time(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    async with world.ports.uow() as session:  # twelve answers, a minute apart, the last one bob's
        session.add_all(Feedback(member=(bob if n == 11 else ana).id, score=1 + n % 5,
                                 text=f"answer {n}" if n else None, created_at=datetime(2026, 5, 1, 12, n))
                        for n in range(12))
    first = await read_feedback(world.ports.uow)
    assert (first.page, first.pages, first.total) == (1, 2, 12)
    assert first.answers[0] == Answer("bob", 2, "answer 11", datetime(2026, 5, 1, 12, 11))
    assert [a.text for a in first.answers] == [f"answer {n}" for n in range(11, 1, -1)]
    second = await read_feedback(world.ports.uow, 2)
    assert [(a.name, a.score, a.text) for a in second.answers] == [("ana", 2, "answer 1"), ("ana", 1, None)]
    assert await read_feedback(world.ports.uow, 3) == Refused("no_page", {"pages": 2})


async def test_no_feedback_yet_is_one_empty_page(world):
    assert await read_feedback(world.ports.uow) == FeedbackPage([], 1, 1, 0)
