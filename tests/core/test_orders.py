"""Joining an order and offering extra units, as use cases (core/orders.py) over the in-memory ledger: every
refusal decided before anything is offered, and an offer that confirms into exactly one intent. The chat's
paths over a real chain are in tests/bot/test_orders.py."""
from sqlalchemy import select

from bot.store import PendingAction, Product
from chain.db import Intent
from chain.ledger import Balances
from core import offers, orders
from core.offers import Answer
from core.orders import JoinTerms, product_id
from core.results import Offered, Refused
from tests.core.conftest import account

USD = 10**6


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


async def test_joining_an_order_never_made_is_refused(world):
    ana = await world.member()
    world.ledger.open_order()
    assert await orders.join(world.ports, ana.id, ana.member_id, 2, 1) == Refused("no_order", {"id": 2})
    assert await offered(world) == []


async def test_joining_a_closed_order_is_refused(world):
    ana = await world.member()
    order = world.ledger.open_order(deadline=int(world.clock.now()) + 60)
    world.clock.at += 61  # the use case reads the injected clock, not the machine's
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 1) == Refused("order_closed", {"id": 1})


async def test_joining_with_more_units_than_are_left_is_refused(world):
    ana = await world.member()
    order = world.ledger.open_order(target_units=10)
    world.ledger.join(order.id, "0x" + "22" * 20, 7)
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 4) == Refused(
        "units_left", {"id": 1, "left": 3})


async def test_joining_past_the_members_cap_is_refused(world):
    ana = await world.member()
    order = world.ledger.open_order(max_units_per_member=6)
    world.ledger.join(order.id, account(ana.member_id), 5)
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 2) == Refused(
        "over_cap", {"id": 1, "cap": 6})


async def test_joining_without_the_money_says_how_much_is_missing(world):
    ana = await world.member()
    order = world.ledger.open_order(unit_price=2 * USD)
    world.ledger.balances_of[account(ana.member_id)] = Balances(3 * USD, 0, 0, 0, 0)
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 2) == Refused(
        "top_up", {"cost": 4 * USD, "balance": 3 * USD, "on_its_way": 0})


async def test_a_join_is_offered_with_its_cost_and_confirmed_into_one_intent(world):
    ana = await world.member()
    async with world.ports.uow() as session:
        session.add(Product(product_id=product_id("Rice"), name="rice"))
    order = world.ledger.open_order(unit_price=2 * USD, product_id=bytes.fromhex(product_id("rice")[2:]))
    world.ledger.join(order.id, account(ana.member_id), 1)
    world.ledger.balances_of[account(ana.member_id)] = Balances(10 * USD, 0, 0, 0, 0)
    result = await orders.join(world.ports, ana.id, ana.member_id, order.id, 2)
    assert result == Offered(result.token, JoinTerms(order_id=1, product="rice", units=2, cost=4 * USD,
                                                     balance_after=6 * USD, total_units=3))
    ttl = 900
    # A double tap: the first press writes the intent, the second changes nothing.
    assert await offers.answer(world.ports.uow, world.clock, ttl, result.token, ana.id, True, False) == Answer.CONFIRMED
    assert await offers.answer(world.ports.uow, world.clock, ttl, result.token, ana.id, True, False) \
        == Answer.ALREADY_CONFIRMED
    async with world.ports.uow.read() as session:
        intents = list((await session.execute(select(Intent))).scalars())
    assert [(i.kind, i.member_id, i.params, i.idempotency_key) for i in intents] == [
        ("join", "r_ana", {"order_id": 1, "units": 2}, result.token)]


async def test_an_offer_answered_after_its_time_expires(world):
    ana = await world.member()
    order = world.ledger.open_order()
    world.ledger.balances_of[account(ana.member_id)] = Balances(100 * USD, 0, 0, 0, 0)
    result = await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)
    world.clock.at += 901
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, ana.id, True, False) == Answer.EXPIRED


async def test_someone_elses_offer_is_unknown_to_them(world):
    ana, bob = await world.member("ana"), await world.member("bob")
    order = world.ledger.open_order()
    world.ledger.balances_of[account(ana.member_id)] = Balances(100 * USD, 0, 0, 0, 0)
    result = await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, bob.id, True, False) == Answer.UNKNOWN


async def test_tolerance_on_an_order_bought_by_the_unit_is_refused(world):
    ana = await world.member()
    world.ledger.open_order(case_size=1)
    assert await orders.tolerance(world.ports, ana.id, ana.member_id, 1, 2) == Refused("by_the_unit", {"id": 1})


async def test_tolerance_of_a_whole_case_or_more_is_refused(world):
    ana = await world.member()
    order = world.ledger.open_order(case_size=4)
    world.ledger.join(order.id, account(ana.member_id), 1)
    assert await orders.tolerance(world.ports, ana.id, ana.member_id, 1, 4) == Refused(
        "case_too_small", {"most": 3, "case": 4})


async def test_no_units_or_negative_extras_are_refused_whatever_door_sends_them(world):
    ana = await world.member()
    order = world.ledger.open_order(case_size=4)
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 0) == Refused("not_positive", {"value": 0})
    assert await orders.tolerance(world.ports, ana.id, ana.member_id, order.id, -1) == Refused(
        "not_positive", {"value": -1})
    assert await offered(world) == []
