"""GroupBuy: joining, executing at target, finalizing at the deadline, case filling, refunds."""
from eth_utils import keccak

from chain.transact import contract_at, deploy_contract
from tests.conftest import DAY
from tests.helpers import events, reverts

PRICE = 18_500_000  # $18.50


def open_order(coop, target=10, minimum=4, cap=6, case_size=1, days=7, price=PRICE):
    deadline = coop.chain.now() + days * DAY
    receipt = coop.tx(coop.contracts.group_buy.functions.createOrder(
        coop.supplier.address, keccak(text="rice"), price, target, minimum, cap, case_size, deadline), coop.treasurer)
    return events(receipt, coop.contracts.group_buy, "OrderCreated")[0]["orderId"]


def fund_and_join(coop, member, order_id, units, price=PRICE):
    coop.deposit(member, units * price)
    coop.tx(coop.contracts.food_usd.functions.approve(coop.contracts.group_buy.address, units * price), member)
    return coop.tx(coop.contracts.group_buy.functions.join(order_id, units), member)


def balance(coop, account):
    return coop.contracts.food_usd.functions.balanceOf(account.address).call()


def test_reaching_target_pays_supplier_at_once(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=10)
    a, b = coop.members[:2]
    first = fund_and_join(coop, a, order, 6)
    assert events(first, gb, "Joined") == [
        {"orderId": order, "member": a.address, "seq": 0, "units": 6, "paid": 6 * PRICE}]
    assert balance(coop, coop.supplier) == 0
    last = fund_and_join(coop, b, order, 4)
    assert events(last, gb, "OrderExecuted") == [{"orderId": order, "boughtUnits": 10, "paidToSupplier": 10 * PRICE}]
    assert balance(coop, coop.supplier) == 10 * PRICE
    assert gb.functions.getOrder(order).call()[6] == 2  # Status.Executed
    assert balance(coop, a) == 0 and balance(coop, b) == 0
    assert coop.contracts.food_usd.functions.balanceOf(gb.address).call() == 0


def test_join_beyond_target_is_refused(coop):
    order = open_order(coop, target=10, cap=10)
    fund_and_join(coop, coop.members[0], order, 8)
    with reverts("OrderFull", orderId=order, unitsLeft=2):
        fund_and_join(coop, coop.members[1], order, 3)


def test_member_cap_counts_raises_and_tolerance(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=20, cap=5)
    member = coop.members[0]
    fund_and_join(coop, member, order, 3)
    fund_and_join(coop, member, order, 1)  # raising units while open
    assert gb.functions.getMember(order, member.address).call()[0] == 4
    with reverts("MemberCapExceeded", requested=6, cap=5):
        fund_and_join(coop, member, order, 2)
    coop.deposit(member, 2 * PRICE)
    coop.tx(coop.contracts.food_usd.functions.approve(gb.address, 2 * PRICE), member)
    with reverts("MemberCapExceeded", requested=6, cap=5):
        coop.tx(gb.functions.setTolerance(order, 2), member)


def test_join_after_deadline_is_refused(coop):
    order = open_order(coop, days=1)
    coop.chain.advance(DAY + 1)
    with reverts("OrderClosed"):
        fund_and_join(coop, coop.members[0], order, 1)


def test_join_with_too_little_food_usd_reverts_and_moves_nothing(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop)
    member = coop.members[0]
    coop.deposit(member, PRICE)  # enough for one, asks for two
    coop.tx(coop.contracts.food_usd.functions.approve(gb.address, 2 * PRICE), member)
    with reverts("ERC20InsufficientBalance"):
        coop.tx(gb.functions.join(order, 2), member)
    assert balance(coop, member) == PRICE
    assert gb.functions.getOrder(order).call()[8] == 0  # units committed


def test_deadline_with_minimum_executes_and_without_refunds(coop):
    gb = coop.contracts.group_buy
    reached = open_order(coop, target=10, minimum=4)
    missed = open_order(coop, target=10, minimum=4)
    a, b = coop.members[:2]
    fund_and_join(coop, a, reached, 4)
    fund_and_join(coop, b, missed, 3)
    with reverts("DeadlineNotReached"):
        coop.tx(gb.functions.finalize(reached, []), coop.outsider)
    coop.chain.advance(7 * DAY + 1)

    receipt = coop.tx(gb.functions.finalize(reached, []), coop.outsider)  # anyone may finalize
    assert events(receipt, gb, "OrderExecuted")[0]["paidToSupplier"] == 4 * PRICE
    receipt = coop.tx(gb.functions.finalize(missed, []), coop.outsider)
    assert events(receipt, gb, "OrderRefunded") == [{"orderId": missed}]
    assert balance(coop, coop.supplier) == 4 * PRICE

    receipt = coop.tx(gb.functions.claim(missed, b.address), coop.outsider)
    assert events(receipt, gb, "Claimed") == [
        {"orderId": missed, "member": b.address, "allocatedUnits": 0, "refund": 3 * PRICE}]
    assert balance(coop, b) == 3 * PRICE
    with reverts("AlreadyClaimed"):
        coop.tx(gb.functions.claim(missed, b.address), b)
    with reverts("OrderNotOpen"):
        coop.tx(gb.functions.finalize(missed, []), coop.outsider)


def test_cancel_refunds_everyone(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop)
    a, b = coop.members[:2]
    fund_and_join(coop, a, order, 2)
    fund_and_join(coop, b, order, 3)
    receipt = coop.tx(gb.functions.cancel(order), coop.treasurer)
    assert events(receipt, gb, "OrderCancelled") == [{"orderId": order}]
    for member, units in ((a, 2), (b, 3)):
        assert gb.functions.claimable(order, member.address).call() == [0, units * PRICE]
        coop.tx(gb.functions.claim(order, member.address), member)
        assert balance(coop, member) == units * PRICE
    assert coop.contracts.food_usd.functions.balanceOf(gb.address).call() == 0
    with reverts("OrderNotOpen"):
        fund_and_join(coop, a, order, 1)


def test_closing_early_with_the_minimum_buys_whole_cases_and_pays_the_supplier(coop):
    """Cases of 5: 4 + 3 units and 3 tolerance, two days before the deadline: one case, allocated in join order."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=20, minimum=5, cap=8, case_size=5)
    a, b = coop.members[:2]
    fund_and_join(coop, a, order, 4)
    fund_and_join(coop, b, order, 3)
    with reverts("JoinOrderRequired"):
        coop.tx(gb.functions.closeEarly(order, []), coop.treasurer)
    receipt = coop.tx(gb.functions.closeEarly(order, [a.address, b.address]), coop.treasurer)
    assert events(receipt, gb, "ClosedEarly") == [{"orderId": order}]
    assert events(receipt, gb, "OrderExecuted") == [{"orderId": order, "boughtUnits": 5, "paidToSupplier": 5 * PRICE}]
    assert balance(coop, coop.supplier) == 5 * PRICE
    assert gb.functions.claimable(order, a.address).call() == [4, 0]
    assert gb.functions.claimable(order, b.address).call() == [1, 2 * PRICE]
    with reverts("OrderNotOpen"):
        fund_and_join(coop, a, order, 1)


def test_closing_early_below_the_minimum_refunds_and_members_claim(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=10, minimum=6)
    a, b = coop.members[:2]
    fund_and_join(coop, a, order, 2)
    fund_and_join(coop, b, order, 3)
    receipt = coop.tx(gb.functions.closeEarly(order, []), coop.treasurer)
    assert events(receipt, gb, "OrderRefunded") == [{"orderId": order}]
    assert balance(coop, coop.supplier) == 0
    for member, units in ((a, 2), (b, 3)):
        coop.tx(gb.functions.claim(order, member.address), coop.outsider)
        assert balance(coop, member) == units * PRICE


def test_only_the_order_manager_closes_early_and_only_an_open_order(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=10, minimum=2)
    member = coop.members[0]
    fund_and_join(coop, member, order, 2)
    for caller in (member, coop.outsider):
        with reverts("AccessControlUnauthorizedAccount"):
            coop.tx(gb.functions.closeEarly(order, []), caller)
    coop.tx(gb.functions.cancel(order), coop.treasurer)
    with reverts("OrderNotOpen"):
        coop.tx(gb.functions.closeEarly(order, []), coop.treasurer)
    with reverts("UnknownOrder"):
        coop.tx(gb.functions.closeEarly(order + 1, []), coop.treasurer)


def test_past_its_deadline_an_order_is_not_closed_early_but_finalized(coop):
    """After the deadline the keeper's `finalize` is the path: the order manager cannot pick another moment."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=10, minimum=2, days=1)
    fund_and_join(coop, coop.members[0], order, 2)
    coop.chain.advance(DAY + 1)
    with reverts("OrderClosed"):
        coop.tx(gb.functions.closeEarly(order, []), coop.treasurer)
    receipt = coop.tx(gb.functions.finalize(order, []), coop.outsider)
    assert events(receipt, gb, "OrderExecuted") == [{"orderId": order, "boughtUnits": 2, "paidToSupplier": 2 * PRICE}]


def set_tolerance(coop, member, order, tolerance, price=PRICE):
    coop.deposit(member, tolerance * price)
    coop.tx(coop.contracts.food_usd.functions.approve(coop.contracts.group_buy.address, tolerance * price), member)
    return coop.tx(coop.contracts.group_buy.functions.setTolerance(order, tolerance), member)


def test_tolerance_completes_the_last_case_first_come_first_served(coop):
    """Cases of 6: 4 + 3 units ordered = 7; with 5 tolerance offered, two cases (12) are bought."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=24, minimum=6, cap=8, case_size=6)
    a, b, c = coop.members[:3]
    fund_and_join(coop, a, order, 4)
    fund_and_join(coop, b, order, 3)
    fund_and_join(coop, c, order, 1)  # c joins last: 8 units
    set_tolerance(coop, c, order, 3)  # c would take 3 more
    set_tolerance(coop, a, order, 2)  # a would take 2 more
    coop.chain.advance(7 * DAY + 1)
    with reverts("JoinOrderRequired"):
        coop.tx(gb.functions.finalize(order, []), coop.outsider)
    with reverts("BadJoinOrder", index=0):
        coop.tx(gb.functions.finalize(order, [b.address, a.address, c.address]), coop.outsider)
    receipt = coop.tx(gb.functions.finalize(order, [a.address, b.address, c.address]), coop.outsider)
    assert events(receipt, gb, "OrderExecuted")[0]["boughtUnits"] == 12
    # 8 units + 4 tolerance: a (joined first) gets both of hers, c gets 2 of his 3.
    expected = {a.address: (6, 0), b.address: (3, 0), c.address: (3, 1 * PRICE)}
    for member in (a, b, c):
        assert gb.functions.claimable(order, member.address).call() == [expected[member.address][0], expected[member.address][1]]
    assert balance(coop, coop.supplier) == 12 * PRICE


def test_units_that_do_not_fill_a_case_are_refunded_to_the_last_joiners(coop):
    """Cases of 5: 5 + 2 + 2 = 9 units, no tolerance: one case; the last 4 units come back."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=20, minimum=5, cap=5, case_size=5)
    a, b, c = coop.members[:3]
    for member, units in ((a, 5), (b, 2), (c, 2)):
        fund_and_join(coop, member, order, units)
    coop.chain.advance(7 * DAY + 1)
    coop.tx(gb.functions.finalize(order, [a.address, b.address, c.address]), coop.outsider)
    assert gb.functions.claimable(order, a.address).call() == [5, 0]
    assert gb.functions.claimable(order, b.address).call() == [0, 2 * PRICE]
    assert gb.functions.claimable(order, c.address).call() == [0, 2 * PRICE]
    assert balance(coop, coop.supplier) == 5 * PRICE


def test_tolerance_lowered_comes_back_at_once(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=12, cap=6, case_size=6)
    member = coop.members[0]
    fund_and_join(coop, member, order, 2)
    set_tolerance(coop, member, order, 3)
    assert balance(coop, member) == 0
    receipt = coop.tx(gb.functions.setTolerance(order, 1), member)
    assert events(receipt, gb, "ToleranceChanged") == [
        {"orderId": order, "member": member.address, "tolerance": 1, "paid": -2 * PRICE}]
    assert balance(coop, member) == 2 * PRICE


def test_tolerance_is_refunded_when_target_is_reached(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop, target=6, cap=6, case_size=6)
    a, b = coop.members[:2]
    fund_and_join(coop, a, order, 3)
    set_tolerance(coop, a, order, 2)
    fund_and_join(coop, b, order, 3)  # reaches the target: exactly one case, no tolerance used
    assert gb.functions.claimable(order, a.address).call() == [3, 2 * PRICE]
    coop.tx(gb.functions.claim(order, a.address), coop.outsider)
    assert balance(coop, a) == 2 * PRICE


def test_invalid_orders_are_refused(coop):
    gb = coop.contracts.group_buy
    deadline = coop.chain.now() + DAY
    bad = [
        (coop.supplier.address, 0, 10, 4, 5, 1, deadline),  # free
        (coop.supplier.address, PRICE, 10, 11, 5, 1, deadline),  # minimum above target
        (coop.supplier.address, PRICE, 10, 4, 5, 4, deadline),  # target not whole cases
        (coop.supplier.address, PRICE, 10, 4, 5, 1, coop.chain.now() - 1),  # deadline passed
        ("0x" + "00" * 20, PRICE, 10, 4, 5, 1, deadline),  # no supplier
    ]
    for supplier, price, target, minimum, cap, case, when in bad:
        with reverts("InvalidOrder"):
            coop.tx(gb.functions.createOrder(supplier, keccak(text="x"), price, target, minimum, cap, case, when),
                    coop.treasurer)


def test_non_members_cannot_join_even_holding_food_usd(coop):
    """The review's attack: throwaway accounts given a little Food-USD fill an order's member places with
    one-unit joins. Only registered members join now; the account's money stays where it was."""
    gb, fusd = coop.contracts.group_buy, coop.contracts.food_usd
    order = open_order(coop)
    throwaway = coop.outsider
    coop.deposit(coop.members[0], PRICE)
    coop.tx(fusd.functions.transfer(throwaway.address, PRICE), coop.members[0])
    coop.tx(fusd.functions.approve(gb.address, PRICE), throwaway)
    with reverts("NotAMember", account=throwaway.address):
        coop.tx(gb.functions.join(order, 1), throwaway)
    assert balance(coop, throwaway) == PRICE
    assert gb.functions.getOrder(order).call()[10] == 0  # members
    # A member the registrar removes can no longer join either.
    member = coop.members[1]
    coop.tx(coop.contracts.registry.functions.removeMember(member.address), coop.registrar)
    with reverts("NotAMember", account=member.address):
        fund_and_join(coop, member, order, 1)


def test_deadlines_more_than_ninety_days_ahead_are_refused(coop):
    gb = coop.contracts.group_buy
    most = gb.functions.MAX_ORDER_DURATION().call()
    assert most == 90 * DAY
    now = coop.chain.now()
    with reverts("InvalidOrder"):  # the next block comes at least a second later: now + most + 2 is too far
        coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="x"), PRICE, 10, 4, 5, 1, now + most + 100),
                coop.treasurer)
    coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="x"), PRICE, 10, 4, 5, 1, now + most),
            coop.treasurer)


def test_an_order_stuck_past_its_deadline_is_refunded_by_anyone_after_two_weeks(coop):
    """Nobody finalizes it (or finalizing keeps failing): two weeks after the deadline anyone may refund it,
    and every member claims back exactly what they paid."""
    gb = coop.contracts.group_buy
    order = open_order(coop, days=1)
    a, b = coop.members[:2]
    fund_and_join(coop, a, order, 3)
    fund_and_join(coop, b, order, 2)
    deadline = gb.functions.getOrder(order).call()[1]
    stale_at = deadline + gb.functions.STALE_AFTER().call()
    assert stale_at == deadline + 14 * DAY
    coop.chain.advance(stale_at - coop.chain.now() - 5)
    with reverts("OrderNotStale", orderId=order, staleAt=stale_at):
        coop.tx(gb.functions.refundStale(order), coop.outsider)
    coop.chain.advance(10)
    receipt = coop.tx(gb.functions.refundStale(order), coop.outsider)
    assert events(receipt, gb, "OrderRefunded") == [{"orderId": order}]
    for member, units in ((a, 3), (b, 2)):
        coop.tx(gb.functions.claim(order, member.address), member)
        assert balance(coop, member) == units * PRICE
    with reverts("OrderNotOpen"):
        coop.tx(gb.functions.refundStale(order), coop.outsider)
    with reverts("OrderNotOpen"):
        coop.tx(gb.functions.finalize(order, []), coop.outsider)


def test_unknown_order_is_named(coop):
    with reverts("UnknownOrder", orderId=99):
        coop.tx(coop.contracts.group_buy.functions.join(99, 1), coop.members[0])


def test_minimum_counts_whole_cases_actually_bought(coop):
    """Cases of 5, minimum 7: 8 units ordered round down to one case (5), below the minimum: refund."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=20, minimum=7, cap=8, case_size=5)
    fund_and_join(coop, coop.members[0], order, 8)
    coop.chain.advance(7 * DAY + 1)
    receipt = coop.tx(gb.functions.finalize(order, [coop.members[0].address]), coop.outsider)
    assert events(receipt, gb, "OrderRefunded") == [{"orderId": order}]
    assert gb.functions.claimable(order, coop.members[0].address).call() == [0, 8 * PRICE]


def test_order_created_event_records_the_terms(coop):
    gb = coop.contracts.group_buy
    deadline = coop.chain.now() + DAY
    receipt = coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="oil"), PRICE, 12, 6, 4, 6,
                                               deadline), coop.treasurer)
    assert events(receipt, gb, "OrderCreated") == [{
        "orderId": 1, "supplier": coop.supplier.address, "productId": keccak(text="oil"), "unitPrice": PRICE,
        "targetUnits": 12, "minUnits": 6, "maxUnitsPerMember": 4, "caseSize": 6, "deadline": deadline}]


def test_claims_need_a_closed_order_and_a_member_who_joined(coop):
    gb = coop.contracts.group_buy
    order = open_order(coop)
    fund_and_join(coop, coop.members[0], order, 1)
    with reverts("NothingToClaim", orderId=order, status=1):
        coop.tx(gb.functions.claim(order, coop.members[0].address), coop.outsider)
    coop.tx(gb.functions.cancel(order), coop.treasurer)
    with reverts("NotJoined", orderId=order, member=coop.members[1].address):
        coop.tx(gb.functions.claim(order, coop.members[1].address), coop.outsider)


def test_tolerance_cannot_change_after_the_deadline(coop):
    """Past the deadline the order's money is settled by finalize alone: no tolerance in or out."""
    gb = coop.contracts.group_buy
    order = open_order(coop, target=12, minimum=6, case_size=6, days=1)
    member = coop.members[0]
    fund_and_join(coop, member, order, 4)
    set_tolerance(coop, member, order, 2)
    coop.chain.advance(DAY + 1)
    deadline = gb.functions.getOrder(order).call()[1]
    for tolerance in (0, 1):
        with reverts("OrderClosed", orderId=order, deadline=deadline):
            coop.tx(gb.functions.setTolerance(order, tolerance), member)
    receipt = coop.tx(gb.functions.finalize(order, [member.address]), coop.outsider)
    assert events(receipt, gb, "OrderExecuted")[0]["boughtUnits"] == 6


def test_an_order_takes_at_most_max_members(coop):
    """The bound keeps finalization in one block; members already in may still raise their units."""
    implementation, _ = deploy_contract(coop.w3, "GroupBuy", coop.deployer, coop.contracts.food_usd.address,
                                        coop.contracts.registry.address, 2)
    init = implementation.encode_abi("initialize", args=[coop.contracts.timelock.address, coop.treasurer.address])
    proxy, _ = deploy_contract(coop.w3, "ERC1967Proxy", coop.deployer, implementation.address, init)
    gb = contract_at(coop.w3, "GroupBuy", proxy.address)
    deadline = coop.chain.now() + DAY
    coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="oil"), PRICE, 10, 1, 5, 1, deadline),
            coop.treasurer)
    a, b, c = coop.members[:3]
    for member in (a, b, c):
        coop.deposit(member, 2 * PRICE)
        coop.tx(coop.contracts.food_usd.functions.approve(gb.address, 2 * PRICE), member)
    coop.tx(gb.functions.join(1, 1), a)
    coop.tx(gb.functions.join(1, 1), b)
    with reverts("TooManyMembers", orderId=1, maxMembers=2):
        coop.tx(gb.functions.join(1, 1), c)
    coop.tx(gb.functions.join(1, 1), a)
    assert gb.functions.getOrder(1).call()[8] == 3


def test_finalizing_a_full_order_stays_well_inside_a_block(coop):
    """Allocation walks every member: measured per member, the deployment's bound costs a fraction of a
    30M-gas block."""
    gb = coop.contracts.group_buy

    def finalize_gas(members, units_each):
        order = open_order(coop, target=10, minimum=5, cap=5, case_size=5, days=1)
        for member in members:
            fund_and_join(coop, member, order, units_each)
        coop.chain.advance(DAY + 1)
        receipt = coop.tx(gb.functions.finalize(order, [m.address for m in members]), coop.outsider)
        assert events(receipt, gb, "OrderExecuted")[0]["boughtUnits"] == 5  # 6 units ordered: allocated
        return receipt["gasUsed"]

    two, six = finalize_gas(coop.members[:2], 3), finalize_gas(coop.members[:6], 1)
    per_member = (six - two) / 4
    bound = gb.functions.maxMembersPerOrder().call()
    assert 0 < per_member < 10_000
    assert two + per_member * (bound - 2) < 5_000_000
