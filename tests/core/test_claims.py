"""What closed orders still owe members, read from the history (core/claims.py), and a member's own claim of
it, over the in-memory ledger. The chat's and the keeper's paths over a real chain are in tests/bot/test_claims.py."""
from sqlalchemy import select

from bot.store import PendingAction
from chain.db import Intent
from chain.ledger import Balances, Claim
from core import claims
from core.claims import ClaimTerms
from core.results import Offered, Refused
from tests.core.conftest import account

USD = 10**6
A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


async def test_members_of_closed_orders_who_have_not_claimed_are_found(world):
    for event, who, order_id in [("Joined", A, 1), ("Joined", B, 1), ("Joined", A, 2), ("Joined", C, 3),  # 2 is open
                                 ("OrderRefunded", None, 1), ("OrderExecuted", None, 3), ("Claimed", B, 1)]:
        await world.indexed("group_buy", event, who, orderId=order_id)
    assert await claims.unclaimed(world.ports.uow) == [(1, A), (3, C)]
    assert await claims.unclaimed(world.ports.uow, A) == [(1, A)]
    assert await claims.unclaimed(world.ports.uow, B) == []


async def closed_order_owes(world, member_id: str, order_id: int, refund: int) -> None:
    await world.indexed("group_buy", "Joined", account(member_id), orderId=order_id)
    await world.indexed("group_buy", "OrderRefunded", orderId=order_id)
    world.ledger.claims[(order_id, account(member_id))] = Claim(0, refund)


async def test_claims_under_way_are_not_owed_again(world):
    ana = await world.member()
    await closed_order_owes(world, ana.member_id, 1, 4 * USD)
    await closed_order_owes(world, ana.member_id, 2, 2 * USD)
    await closed_order_owes(world, ana.member_id, 3, 0)  # all its units were bought: nothing comes back
    assert await claims.owed(world.ports, ana.member_id) == [(1, 4 * USD), (2, 2 * USD)]
    async with world.ports.uow() as session:  # the keeper's claim of order 2 is on its way
        session.add(Intent(idempotency_key="claim:2:r_ana:1", member_id=ana.member_id, kind="claim_for",
                           params={"order_id": 2}))
    assert await claims.claims_under_way(world.ports.uow) == {(2, ana.member_id)}
    assert await claims.owed(world.ports, ana.member_id) == [(1, 4 * USD)]


async def test_nothing_owed_offers_nothing(world):
    ana = await world.member()
    await closed_order_owes(world, ana.member_id, 1, 0)
    assert await claims.claim(world.ports, ana.id, ana.member_id) == Refused("nothing_owed")
    assert await offered(world) == []


async def test_a_member_in_self_custody_cannot_claim_through_the_co_op(world):
    ana = await world.member()
    await closed_order_owes(world, ana.member_id, 1, 4 * USD)
    await world.exported(ana)
    assert await claims.claim(world.ports, ana.id, ana.member_id) == Refused("exported")


async def test_everything_owed_is_offered_in_one_claim(world):
    ana = await world.member()
    await closed_order_owes(world, ana.member_id, 1, 4 * USD)
    await closed_order_owes(world, ana.member_id, 3, USD)
    world.ledger.balances_of[account(ana.member_id)] = Balances(10 * USD, 0, 0, 0, 0)
    result = await claims.claim(world.ports, ana.id, ana.member_id)
    assert result == Offered(result.token, ClaimTerms([(1, 4 * USD), (3, USD)], 5 * USD, 15 * USD))
    [offer] = await offered(world)
    assert (offer.kind, offer.params) == ("claim", {"intent": {"order_ids": [1, 3]}})
