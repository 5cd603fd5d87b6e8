"""What admins do, as use cases (core/admin.py) over the in-memory ledger: every refusal decided before anything
is written or offered, and what is written in one transaction. The chat's paths are in tests/bot/test_console.py,
tests/bot/test_certify.py and tests/bot/test_admins_and_stats.py."""
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.store import Invite, Member, PendingAction, Product
from chain.db import Intent
from core import admin, offers
from core.admin import CertifyTerms, DepositTerms, OrderTerms, batch_id
from core.offers import Answer
from core.orders import product_id
from core.ports import utc
from core.results import Offered, Refused

USD, GRO = 10**6, 10**18
TREASURER = "0x" + "77" * 20


async def rows(world, table) -> list:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(table))).scalars())


async def test_invites_are_made_together_for_two_weeks(world):
    made = await admin.invite(world.ports, "console:admin", 3)
    assert len(set(made.codes)) == 3 and all(len(code) == 16 for code in made.codes)
    assert made.expires_at == utc(world.clock) + timedelta(days=14)
    assert sorted((i.code, i.created_by, i.for_member_id, i.expires_at) for i in await rows(world, Invite)) == sorted(
        (code, "console:admin", None, made.expires_at) for code in made.codes)


async def test_too_few_or_too_many_invites_are_refused(world):
    for count in (0, 21):
        assert await admin.invite(world.ports, "console:admin", count) == Refused("count", {"most": 20})
    assert await rows(world, Invite) == []


async def test_a_link_code_is_for_the_resident(world):
    made = await admin.link_code(world.ports, "console:admin", "r_ana")
    assert [(i.code, i.for_member_id) for i in await rows(world, Invite)] == [(made.codes[0], "r_ana")]


async def new_order(world, *args, product="Rice", **terms):
    """An order offered by admin boss (made the first time)."""
    async with world.ports.uow.read() as session:
        boss = await session.scalar(select(Member).where(Member.handle == "boss"))
    boss = boss or await world.member("boss")
    return await admin.new_order(world.ports, boss.id, TREASURER, ("console", "boss"), product, *args, **terms)


async def test_an_order_is_offered_and_asked_of_the_chain_once_confirmed(world):
    offered = await new_order(world, 2 * USD, 20, 10, days=3, case_size=5)
    deadline = int(world.clock.now()) + 3 * 86400  # fixed when offered: the one the admin saw
    assert offered == Offered(offered.token, OrderTerms("Rice", 2 * USD, 20, 10, 3, 5, deadline))
    assert [(p.product_id, p.name) for p in await rows(world, Product)] == [(product_id("rice"), "Rice")]
    assert await rows(world, Intent) == []  # nothing asked of the chain before the confirm
    [action] = await rows(world, PendingAction)
    world.clock.at += 600
    assert await offers.answer(world.ports.uow, world.clock, 900, offered.token, action.member, True,
                               is_admin=False) == Answer.ADMINS_ONLY  # no longer an admin when confirming
    assert await offers.answer(world.ports.uow, world.clock, 900, offered.token, action.member, True,
                               is_admin=True) == Answer.CONFIRMED
    [intent] = await rows(world, Intent)
    assert (intent.kind, intent.member_id, intent.params) == ("create_order", None, {
        "supplier": TREASURER, "product": product_id("rice"), "unit_price": 2 * USD, "target_units": 20,
        "min_units": 10, "max_units_per_member": 20, "case_size": 5, "deadline": deadline,
        "announce": {"channel": "console", "to": "boss", "product": "Rice"}})


async def test_an_order_cancelled_asks_nothing_of_the_chain(world):
    offered = await new_order(world, USD, 8)
    [action] = await rows(world, PendingAction)
    assert await offers.answer(world.ports.uow, world.clock, 900, offered.token, action.member, False,
                               is_admin=True) == Answer.CANCELLED
    assert await rows(world, Intent) == []


async def test_an_order_s_defaults_and_a_product_named_once(world):
    # The minimum is the target, a week, by the unit; a product already named is not named twice.
    offered = await new_order(world, USD, 8)
    assert offered.terms == OrderTerms("Rice", USD, 8, 8, 7, 1, int(world.clock.now()) + 7 * 86400)
    await new_order(world, USD, 8, product=" rice ")
    assert [p.name for p in await rows(world, Product)] == ["Rice"] and len(await rows(world, PendingAction)) == 2


async def test_an_order_the_chain_would_refuse_is_refused_first(world):
    assert await new_order(world, USD, 10, product="") == Refused("product", {"most": 120})
    assert await new_order(world, 0, 10) == Refused("price")
    assert await new_order(world, USD, 0) == Refused("units", {"which": "target"})
    assert await new_order(world, USD, 10, 0) == Refused("units", {"which": "minimum"})
    assert await new_order(world, USD, 10, case_size=0) == Refused("units", {"which": "case_size"})
    assert await new_order(world, USD, 7, 9) == Refused("minimum_over_target", {"minimum": 9, "target": 7})
    assert await new_order(world, USD, 10, days=0) == Refused("days", {"most": 90})
    assert await new_order(world, USD, 10, days=91) == Refused("days", {"most": 90})
    assert await new_order(world, USD, 22, case_size=5) == Refused("whole_cases", {"case": 5, "lower": 20,
                                                                                   "higher": 25})
    assert await new_order(world, USD, 3, case_size=5) == Refused("whole_cases", {"case": 5, "lower": 5,
                                                                                  "higher": 10})
    assert await rows(world, Product) == [] and await rows(world, PendingAction) == []


async def test_a_deposit_is_offered_as_the_admins_and_confirmed_for_the_member(world):
    boss = await world.member("boss")
    result = await admin.deposit(world.ports, boss.id, "boss", "r_ana", 20 * USD)
    assert result == Offered(result.token, DepositTerms("r_ana", 20 * USD))
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, boss.id, True, is_admin=False) \
        == Answer.ADMINS_ONLY  # no longer an admin when confirming
    assert await offers.answer(world.ports.uow, world.clock, 900, result.token, boss.id, True, is_admin=True) \
        == Answer.CONFIRMED
    [intent] = await rows(world, Intent)
    assert (intent.kind, intent.member_id, intent.params["amount"]) == ("deposit", "r_ana", 20 * USD)
    assert intent.params["ref"].startswith("cash:boss:")


async def test_a_deposit_of_nothing_is_refused(world):
    boss = await world.member("boss")
    assert await admin.deposit(world.ports, boss.id, "boss", "r_ana", 0) == Refused("amount")
    assert await rows(world, PendingAction) == []


async def test_a_certification_within_the_caps_is_offered_with_what_it_earns(world):
    boss = await world.member("boss")
    result = await admin.certify(world.ports, boss.id, "r_ana", "lettuce-0412", 2500, 2)
    assert result == Offered(result.token, CertifyTerms("r_ana", "lettuce-0412", 2500, 2, 25 * GRO))
    [action] = await rows(world, PendingAction)
    assert (action.kind, action.params) == ("certify", {"for_member_id": "r_ana", "gro": 25 * GRO, "by_admin": True, "intent": {
        "batch_id": "lettuce-0412", "grams": 2500, "grade": 2}})


async def test_a_certification_the_chain_would_refuse_is_refused_first(world):
    boss = await world.member("boss")

    async def certify(batch="lot-1", grams=1000, grade=1):
        return await admin.certify(world.ports, boss.id, "r_ana", batch, grams, grade)

    assert await certify(grams=0) == Refused("weight")
    assert await certify(grade=256) == Refused("grade", {"most": 255})
    world.ledger.certified_batches.add(batch_id("lot-0"))
    assert await certify("lot-0") == Refused("already_certified", {"batch": "lot-0"})
    world.ledger.certification_terms = replace(world.ledger.certification_terms, rate_per_kg=999)
    assert await certify(grams=1) == Refused("worth_nothing")  # 999 wei a kg: a gram earns less than one
    world.ledger.certification_terms = replace(world.ledger.certification_terms, rate_per_kg=10 * GRO)
    assert await certify(grams=50_001) == Refused("over_batch_cap", {"gro": 500_010 * GRO // 1000,
                                                                     "cap": 500 * GRO, "most_grams": 50_000})
    world.ledger.certification_terms = replace(world.ledger.certification_terms, room=5 * GRO)
    assert await certify(grams=1000) == Refused("over_period_cap", {"gro": 10 * GRO, "room": 5 * GRO,
                                                                    "until": 1_800_604_800})
    assert await rows(world, PendingAction) == []


async def test_a_broadcast_reaches_every_channel_not_blocked_and_counts_residents(world):
    await world.member("ana")
    await world.member("ana-phone", channel="telegram", member_id="r_ana")  # linked: the same resident
    await world.member("bob")
    blocked = await world.member("cy")
    async with world.ports.uow() as session:
        (await session.get(type(blocked), blocked.id)).blocked = True
    audience = await admin.broadcast_audience(world.ports)
    assert sorted(m.handle for m in audience.channels) == ["ana", "ana-phone", "bob"] and audience.members == 2
