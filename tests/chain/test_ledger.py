"""CoopLedger against the deployed co-op: typed values, read in one JSON-RPC batch per question."""
import asyncio
from dataclasses import astuple

import aiohttp
import pytest
from eth_utils import keccak
from web3 import HTTPProvider

from chain import rpc
from locales import amounts
from chain.ledger import (FOOD_USD_DECIMALS, GRO_DECIMALS, Balances, CoopLedger, Order, OrderStatus, Part,
                          order_read, part_read)
from tests.conftest import DAY, FUSD, WEEK
from tests.contracts.test_groupbuy import PRICE, fund_and_join, open_order


@pytest.fixture
def ledger(coop):
    """The gateway over the test chain, counting the batches it sends (as App.batch on a non-HTTP node)."""
    sent: list[list] = []

    async def batch(requests):
        sent.append(requests)
        if isinstance(coop.w3.provider, HTTPProvider):  # a node (COOP_TEST_RPC=anvil): App.batch's way
            async with aiohttp.ClientSession() as http:
                return await rpc.abatch(http, coop.w3.provider.endpoint_uri, requests)
        # eth-tester's provider, unlike a node, wants a sender (with ether for the gas) even for a call
        return await asyncio.to_thread(rpc.batch, coop.w3, [(m, [{"from": coop.outsider.address, **p[0]}, *p[1:]])
                                                            for m, p in requests])

    gateway = CoopLedger(coop.contracts, batch)
    gateway.sent = sent
    return gateway


async def test_one_batch_reads_an_order_a_part_and_balances_as_typed_values(coop, ledger):
    member = coop.members[0]
    order_id = open_order(coop, target=12, minimum=4, cap=6, case_size=3)
    fund_and_join(coop, member, order_id, 2)
    coop.deposit(member, 5 * FUSD)
    gro = coop.certify(member, 1000)

    order, part = await ledger.read(order_read(coop.contracts, order_id), part_read(coop.contracts, order_id,
                                                                                    member.address))
    assert len(ledger.sent) == 1 and len(ledger.sent[0]) == 2
    assert isinstance(order, Order) and isinstance(part, Part)
    assert (order.id, order.unit_price, order.target_units, order.min_units, order.max_units_per_member,
            order.case_size) == (order_id, PRICE, 12, 4, 6, 3)
    assert order.status is OrderStatus.OPEN and order.open_at(coop.chain.now())
    assert order.supplier == coop.supplier.address and order.product_id == keccak(text="rice")
    assert (order.units, order.tolerance, order.members, order.buys) == (2, 0, 1, 0)
    assert (part.units, part.tolerance, part.seq, part.joined, part.claimed) == (2, 0, 0, True, False)

    balances = await ledger.balances(member.address)
    assert len(ledger.sent) == 2  # the four reads of a balance: one round trip
    assert balances == Balances(food_usd=5 * FUSD, gro=gro, voting_power=0, locked=0, unlock_time=0)


async def test_locked_gro_and_its_unlock_time_are_in_the_balances(coop, ledger):
    member = coop.members[1]
    gro = coop.certify(member, 2000)
    escrow = coop.contracts.escrow
    unlock = (coop.chain.now() + 52 * WEEK) // WEEK * WEEK
    coop.tx(coop.contracts.gro.functions.approve(escrow.address, gro // 2), member)
    coop.tx(escrow.functions.createLock(gro // 2, unlock), member)

    balances = await ledger.balances(member.address)
    assert (balances.gro, balances.locked, balances.unlock_time) == (gro - gro // 2, gro // 2, unlock)
    assert balances.voting_power == escrow.functions.getVotes(member.address).call() > 0


async def test_an_unknown_order_reads_as_status_none(coop, ledger):
    count = await ledger.order_count()
    order = await ledger.order(count + 1)
    assert order.status is OrderStatus.NONE and not order.status
    assert order.unit_price == 0 and not order.open_at(0)


async def test_every_order_in_one_batch_after_the_count(coop, ledger):
    ids = [open_order(coop, days=d) for d in (1, 2, 3)]
    orders = await ledger.orders()
    assert [o.id for o in orders][-3:] == ids
    assert len(ledger.sent) == 2 and len(ledger.sent[1]) == len(orders)  # the count, then every order at once
    parts = await ledger.parts(ids, coop.members[2].address)
    assert [p.joined for p in parts] == [False] * 3 and len(ledger.sent) == 3


async def test_decimals_are_the_tokens_own(coop, ledger):
    # locales/ formats amounts with its own copy (it imports nothing of the chain's): the three agree.
    assert await ledger.decimals() == (FOOD_USD_DECIMALS, GRO_DECIMALS) == (amounts.FUSD_DECIMALS,
                                                                           amounts.GRO_DECIMALS) == (6, 18)


async def test_membership_and_governor_terms(coop, ledger):
    member = await ledger.membership(coop.members[0].address)
    assert member.is_member and member.resident == keccak(text="resident-0")
    assert not (await ledger.membership(coop.outsider.address)).is_member
    terms = await ledger.governor_terms()
    assert (terms.voting_delay, terms.voting_period, terms.guardian_window, terms.timelock_delay) == (
        60, 3 * DAY, 2 * DAY, DAY)
    assert await ledger.clock() == coop.contracts.escrow.functions.clock().call()


async def test_an_unknown_proposal_has_no_snapshot(coop, ledger):
    assert await ledger.proposal_snapshot(12345) == 0


async def test_what_a_closed_order_gave_a_member_does_not_depend_on_their_claim(coop, ledger):
    """A close told late (after a restart) may come after the member's refund was claimed: claimable then
    answers nothing, the order and the member's part still say what happened."""
    gb = coop.contracts.group_buy
    order_id = open_order(coop, target=10, minimum=2, cap=5, days=1)  # bought by the unit
    a, b = coop.members[:2]
    fund_and_join(coop, a, order_id, 3)
    fund_and_join(coop, b, order_id, 1)
    coop.chain.advance(2 * DAY)
    coop.tx(gb.functions.finalize(order_id, []), coop.outsider)
    order = await ledger.order(order_id)
    before = await ledger.part(order_id, a.address)
    assert astuple(order.outcome_for(before)) == tuple(gb.functions.claimable(order_id, a.address).call())
    coop.tx(gb.functions.claim(order_id, a.address), a)
    after = await ledger.part(order_id, a.address)
    assert gb.functions.claimable(order_id, a.address).call() == [0, 0]
    assert astuple(order.outcome_for(after)) == (3, 0)
