"""Offers (core/offers.py): the confirm and its intent are one transaction, so a failure between them leaves the
offer open to a second press, never confirmed without its intent."""
import pytest
from sqlalchemy import select

from bot.store import PendingAction
from chain.db import Intent
from chain.outbox import Outbox
from core import offers
from core.offers import Answer

TTL = 900


async def intents(world) -> list[tuple[str, str]]:
    async with world.ports.uow.read() as session:
        return [(i.kind, i.idempotency_key) for i in (await session.execute(select(Intent))).scalars()]


async def test_a_confirm_whose_intent_cannot_be_written_is_not_confirmed(world, monkeypatch):
    ana = await world.member()
    token = await offers.offer(world.ports.uow, world.clock, ana.id, "join", {"intent": {"order_id": 1, "units": 2}})

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away mid-write")

    with monkeypatch.context() as patched:
        patched.setattr(Outbox, "add", broken)
        with pytest.raises(RuntimeError):
            await offers.answer(world.ports.uow, world.clock, TTL, token, ana.id, True, False)
    assert await intents(world) == []
    # The press did not count: the member's next press confirms it, once.
    assert await offers.answer(world.ports.uow, world.clock, TTL, token, ana.id, True, False) == Answer.CONFIRMED
    assert await intents(world) == [("join", token)]


async def test_an_offer_an_older_version_confirmed_without_its_intent_gets_it_at_start(world):
    ana = await world.member()
    token = await offers.offer(world.ports.uow, world.clock, ana.id, "join", {"intent": {"order_id": 1, "units": 2}})
    async with world.ports.uow() as session:
        (await session.get(PendingAction, token)).state = "confirmed"
    assert await offers.resume_confirmed(world.ports.uow) == 1
    assert await offers.resume_confirmed(world.ports.uow) == 0
    assert await intents(world) == [("join", token)]
