"""What a member's confirmed actions are still taking (core/offers.py `on_its_way`) counts in every summary's
"after" and every "not enough" check until the chain has done them: two joins confirmed before the first is mined
are not both promised the same money. The chat's path is in tests/bot/test_orders.py."""
from sqlalchemy import select

from chain.db import Intent
from chain.ledger import Balances
from core import escrow, offers, orders, treasury, wallet
from core.offers import Answer, OnItsWay
from core.results import Refused
from tests.core.conftest import account

USD, GRO = 10**6, 10**18
TTL = 900
TREASURER = "0x" + "7a" * 20


def hold(world, member, food_usd=0, gro=0) -> None:
    world.ledger.balances_of[account(member.member_id)] = Balances(food_usd, gro, 0, 0, 0)


async def confirm(world, member, result) -> None:
    assert await offers.answer(world.ports.uow, world.clock, TTL, result.token, member.id, True, False) \
        == Answer.CONFIRMED


async def finish(world, state: str) -> None:
    """The worker's end for every intent written so far."""
    async with world.ports.uow() as session:
        for intent in (await session.execute(select(Intent))).scalars():
            intent.state = state


async def test_a_second_join_counts_the_first_still_on_its_way(world):
    ana = await world.member()
    hold(world, ana, food_usd=15 * USD)
    order = world.ledger.open_order(unit_price=7_500_000)
    first = await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)
    assert (first.terms.balance_after, first.terms.on_its_way) == (7_500_000, 0)
    await confirm(world, ana, first)
    assert await offers.on_its_way(world.ports.uow, ana.member_id) == OnItsWay(food_usd=7_500_000)
    second = await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)
    assert (second.terms.balance_after, second.terms.on_its_way) == (0, 7_500_000)
    await confirm(world, ana, second)
    assert await orders.join(world.ports, ana.id, ana.member_id, order.id, 1) == Refused(
        "top_up", {"cost": 7_500_000, "balance": 0, "on_its_way": 15 * USD})


async def test_an_offer_not_confirmed_or_an_intent_finished_takes_nothing_more(world):
    ana = await world.member()
    hold(world, ana, food_usd=15 * USD)
    order = world.ledger.open_order(unit_price=5 * USD)
    await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)  # offered, never confirmed
    assert await offers.on_its_way(world.ports.uow, ana.member_id) == OnItsWay()
    await confirm(world, ana, await orders.join(world.ports, ana.id, ana.member_id, order.id, 1))
    await finish(world, "submitted")
    assert await offers.on_its_way(world.ports.uow, ana.member_id) == OnItsWay(food_usd=5 * USD)
    await finish(world, "failed")  # nothing was taken
    assert (await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)).terms.balance_after == 10 * USD
    await finish(world, "confirmed")  # the chain's balance says it now
    hold(world, ana, food_usd=10 * USD)
    assert (await orders.join(world.ports, ana.id, ana.member_id, order.id, 1)).terms.balance_after == 5 * USD


async def test_a_send_a_withdrawal_and_extra_units_count_a_join_on_its_way(world):
    admin, ana, bob = await world.member("admin"), await world.member("ana"), await world.member("bob")
    hold(world, ana, food_usd=10 * USD)
    order = world.ledger.open_order(unit_price=4 * USD, case_size=6, target_units=12)
    world.ledger.join(order.id, account(ana.member_id), 1)  # an earlier join, done
    await confirm(world, ana, await orders.join(world.ports, ana.id, ana.member_id, order.id, 1))
    sent = await wallet.send(world.ports, ana.id, ana.member_id, bob.id, 2 * USD)
    assert (sent.terms.balance_after, sent.terms.on_its_way) == (4 * USD, 4 * USD)
    assert await wallet.send(world.ports, ana.id, ana.member_id, bob.id, 7 * USD) == Refused(
        "over_balance", {"amount": 7 * USD, "balance": 6 * USD, "on_its_way": 4 * USD})
    assert await treasury.withdraw(world.ports, admin.id, ana.member_id, 7 * USD, TREASURER) == Refused(
        "over_balance", {"amount": 7 * USD, "balance": 6 * USD, "on_its_way": 4 * USD})
    extra = await orders.tolerance(world.ports, ana.id, ana.member_id, order.id, 1)
    assert (extra.terms.balance_after, extra.terms.on_its_way) == (2 * USD, 4 * USD)


async def test_gro_on_its_way_counts_for_a_redemption_and_a_lock(world):
    ana = await world.member()
    hold(world, ana, gro=10 * GRO)
    await confirm(world, ana, await wallet.redeem(world.ports, ana.id, ana.member_id, 4 * GRO, "kale"))
    redeemed = await wallet.redeem(world.ports, ana.id, ana.member_id, 1 * GRO, "")
    assert (redeemed.terms.gro_after, redeemed.terms.on_its_way) == (5 * GRO, 4 * GRO)
    await confirm(world, ana, redeemed)
    assert await escrow.lock(world.ports, ana.id, ana.member_id, 6 * GRO, 4) == Refused(
        "over_held", {"amount": 6 * GRO, "held": 5 * GRO, "on_its_way": 5 * GRO})
