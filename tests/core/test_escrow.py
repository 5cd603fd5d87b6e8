"""Locks as use cases (core/escrow.py) over the in-memory ledger: a new lock, more GRO in it, a later end and the
GRO taken back, each previewed with the chain's clock and VotingEscrow's arithmetic; every refusal decided
before anything is offered. The chat's paths over a real chain are in tests/bot/test_money.py."""
from sqlalchemy import select

from bot.store import PendingAction
from chain.db import SmartAccount
from chain.ledger import Balances
from core import escrow
from core.escrow import MAX_WEEKS, MAXTIME, WEEK, LockTerms, UnlockTerms
from core.results import Refused
from tests.core.conftest import account

GRO = 10**18


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


def hold(world, member, gro=0, locked=0, unlock_time=0) -> None:
    world.ledger.balances_of[account(member.member_id)] = Balances(0, gro, 0, locked, unlock_time)


async def test_a_new_lock_is_previewed_with_the_chains_clock(world):
    ana = await world.member()
    hold(world, ana, gro=20 * GRO)
    world.ledger.now += 3 * 86400  # the chain runs ahead of the wall clock: the escrow goes by the chain's
    now = world.ledger.now
    result = await escrow.lock(world.ports, ana.id, ana.member_id, 10 * GRO, 52)
    end = (now + 52 * WEEK) // WEEK * WEEK
    assert result.terms == LockTerms("lock", 10 * GRO, 10 * GRO, end, (10 * GRO // MAXTIME) * (end - now))
    [action] = await offered(world)
    assert (action.kind, action.params["intent"]) == ("lock", {"amount": str(10 * GRO), "unlock_time": end})


async def test_a_lock_with_one_running_adds_to_it_as_before(world):
    ana = await world.member()
    end = world.ledger.now + 10 * WEEK
    hold(world, ana, gro=5 * GRO, locked=10 * GRO, unlock_time=end)
    result = await escrow.lock(world.ports, ana.id, ana.member_id, 2 * GRO, 52)
    assert (result.terms.kind, result.terms.locked, result.terms.unlock_time) == ("increase_lock", 12 * GRO, end)


async def test_more_gro_goes_into_the_running_lock_and_its_end_stays(world):
    ana = await world.member()
    now, end = world.ledger.now, world.ledger.now + 10 * WEEK
    hold(world, ana, gro=5 * GRO, locked=10 * GRO, unlock_time=end)
    result = await escrow.add(world.ports, ana.id, ana.member_id, 5 * GRO)
    assert result.terms == LockTerms("increase_lock", 5 * GRO, 15 * GRO, end, (15 * GRO // MAXTIME) * (end - now))
    [action] = await offered(world)
    assert action.params["intent"] == {"amount": str(5 * GRO)}


async def test_extending_moves_the_end_to_weeks_from_today(world):
    ana = await world.member()
    now = world.ledger.now
    hold(world, ana, locked=10 * GRO, unlock_time=now + 10 * WEEK)
    result = await escrow.extend(world.ports, ana.id, ana.member_id, 20)
    end = (now + 20 * WEEK) // WEEK * WEEK
    assert result.terms == LockTerms("extend_lock", 0, 10 * GRO, end, (10 * GRO // MAXTIME) * (end - now))
    [action] = await offered(world)
    assert (action.kind, action.params["intent"]) == ("extend_lock", {"unlock_time": end})


async def test_extending_to_no_later_an_end_says_the_end(world):
    ana = await world.member()
    end = world.ledger.now + 10 * WEEK
    hold(world, ana, locked=10 * GRO, unlock_time=end)
    assert await escrow.extend(world.ports, ana.id, ana.member_id, 5) == Refused(
        "not_later", {"end": end, "asked": (world.ledger.now + 5 * WEEK) // WEEK * WEEK})
    assert await offered(world) == []


async def test_weeks_beyond_four_years_or_none_are_refused(world):
    ana = await world.member()
    hold(world, ana, gro=5 * GRO, locked=GRO, unlock_time=world.ledger.now + WEEK)
    for weeks in (0, MAX_WEEKS + 1):
        assert await escrow.lock(world.ports, ana.id, ana.member_id, GRO, weeks) == Refused(
            "weeks_out_of_range", {"max": 208})
        assert await escrow.extend(world.ports, ana.id, ana.member_id, weeks) == Refused(
            "weeks_out_of_range", {"max": 208})
    assert await offered(world) == []


async def test_locking_more_than_is_held_or_nothing_is_refused(world):
    ana = await world.member()
    hold(world, ana, gro=3 * GRO, locked=GRO, unlock_time=world.ledger.now + WEEK)
    over = Refused("over_held", {"amount": 4 * GRO, "held": 3 * GRO, "on_its_way": 0})
    assert await escrow.lock(world.ports, ana.id, ana.member_id, 4 * GRO, 10) == over
    assert await escrow.add(world.ports, ana.id, ana.member_id, 4 * GRO) == over
    assert await escrow.add(world.ports, ana.id, ana.member_id, 0) == Refused("not_positive")
    assert await offered(world) == []


async def test_adding_to_or_extending_no_lock_is_refused(world):
    ana = await world.member()
    hold(world, ana, gro=3 * GRO)
    assert await escrow.add(world.ports, ana.id, ana.member_id, GRO) == Refused("no_lock")
    assert await escrow.extend(world.ports, ana.id, ana.member_id, 10) == Refused("no_lock")


async def test_an_ended_lock_must_be_taken_back_before_anything_else(world):
    ana = await world.member()
    end = world.ledger.now - 60
    hold(world, ana, gro=3 * GRO, locked=GRO, unlock_time=end)
    ended = Refused("lock_ended", {"end": end})
    assert await escrow.lock(world.ports, ana.id, ana.member_id, GRO, 10) == ended
    assert await escrow.add(world.ports, ana.id, ana.member_id, GRO) == ended
    assert await escrow.extend(world.ports, ana.id, ana.member_id, 10) == ended


async def test_unlocking_takes_back_an_ended_lock(world):
    ana = await world.member()
    hold(world, ana, gro=3 * GRO, locked=10 * GRO, unlock_time=world.ledger.now)  # ends this very second
    result = await escrow.unlock(world.ports, ana.id, ana.member_id)
    assert result.terms == UnlockTerms(10 * GRO, 13 * GRO)
    [action] = await offered(world)
    assert action.kind == "withdraw_lock"


async def test_unlocking_before_the_end_says_the_end(world):
    ana = await world.member()
    end = world.ledger.now + 1
    hold(world, ana, locked=10 * GRO, unlock_time=end)
    assert await escrow.unlock(world.ports, ana.id, ana.member_id) == Refused("not_ended", {"end": end})
    hold(world, ana)
    assert await escrow.unlock(world.ports, ana.id, ana.member_id) == Refused("no_lock")
    assert await offered(world) == []


async def test_an_exported_account_cannot_lock(world):
    ana = await world.member()
    hold(world, ana, gro=3 * GRO, locked=GRO, unlock_time=world.ledger.now - 1)
    async with world.ports.uow() as session:
        session.add(SmartAccount(member_id=ana.member_id, address=account(ana.member_id), signer="0x" + "00" * 20,
                                 exported_to="0x" + "ee" * 20))
    for attempt in (escrow.lock(world.ports, ana.id, ana.member_id, GRO, 10),
                    escrow.add(world.ports, ana.id, ana.member_id, GRO),
                    escrow.extend(world.ports, ana.id, ana.member_id, 10),
                    escrow.unlock(world.ports, ana.id, ana.member_id)):
        assert await attempt == Refused("exported")
