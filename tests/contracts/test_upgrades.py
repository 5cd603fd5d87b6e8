"""Upgrades: only governance may upgrade, state survives, and storage layouts stay compatible."""
import copy

import pytest
from eth_utils import keccak

from chain.artifacts import load_artifact
from chain.layout import layout_problems
from chain.transact import contract_at, deploy_contract
from tests.conftest import DAY, GRO
from tests.contracts.governance import (end_voting, lock_gro, propose, queue_and_execute, start_voting, vote,
                                        wait_guardian_window)
from tests.helpers import events, reverts

PRICE = 5_000_000


def test_group_buy_upgrades_through_a_full_quadratic_vote_and_keeps_its_state(coop):
    gb, fusd = coop.contracts.group_buy, coop.contracts.food_usd
    a, b, c = coop.members[:3]
    # State before: an open order with a member's money in it.
    coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="beans"), PRICE, 10, 2, 5, 1,
                                     coop.chain.now() + 30 * DAY), coop.operator)
    coop.deposit(a, 3 * PRICE)
    coop.tx(fusd.functions.approve(gb.address, 3 * PRICE), a)
    coop.tx(gb.functions.join(1, 3), a)
    order_before = gb.functions.getOrder(1).call()

    v2_impl, _ = deploy_contract(coop.w3, "GroupBuyV2", coop.deployer, fusd.address,
                                 gb.functions.maxMembersPerOrder().call())
    with reverts("AccessControlUnauthorizedAccount", account=coop.operator.address):
        coop.tx(gb.functions.upgradeToAndCall(v2_impl.address, b""), coop.operator)

    for member, gro in ((a, 40 * GRO), (b, 30 * GRO), (c, 30 * GRO)):
        lock_gro(coop, member, gro)
    proposal_id, proposal = propose(coop, a, [(gb, gb.functions.upgradeToAndCall(v2_impl.address, b""))],
                                    "Upgrade GroupBuy to v2")
    start_voting(coop)
    vote(coop, c, proposal_id, 0, votes=5)
    vote(coop, a, proposal_id, 1, votes=5)
    vote(coop, b, proposal_id, 1, votes=2)
    end_voting(coop)
    wait_guardian_window(coop)  # an upgrade is a privileged action
    receipt = queue_and_execute(coop, proposal, coop.outsider)
    assert events(receipt, gb, "Upgraded") == [{"implementation": v2_impl.address}]

    upgraded = contract_at(coop.w3, "GroupBuyV2", gb.address)
    assert upgraded.functions.version().call() == 2
    assert upgraded.functions.getOrder(1).call() == order_before
    assert upgraded.functions.getMember(1, a.address).call()[0] == 3
    assert fusd.functions.balanceOf(gb.address).call() == 3 * PRICE
    # The old state keeps working with the new code: the order can still fill up and pay.
    coop.deposit(b, 7 * PRICE)
    coop.tx(fusd.functions.approve(gb.address, 7 * PRICE), b)
    coop.tx(upgraded.functions.join(1, 5), b)
    assert upgraded.functions.getOrder(1).call()[8] == 8


def test_compatible_next_version_passes_the_layout_check():
    old = load_artifact("GroupBuy").storage_layout
    new = load_artifact("GroupBuyV2").storage_layout
    assert old["storage"], "GroupBuy should declare its own state as plain variables"
    assert layout_problems(old, new) == []


@pytest.mark.parametrize("change, problem", [
    ("insert", "orderCount (slot 0 offset 0) is replaced by inserted"),
    ("retype", "orderCount (slot 0 offset 0) changed type"),
    ("remove", "orderCount (slot 0 offset 0) is gone"),
    ("reorder_struct", "_orders (slot 1 offset 0) changed type"),
])
def test_incompatible_layouts_are_caught(change, problem):
    old = load_artifact("GroupBuy").storage_layout
    new = copy.deepcopy(old)
    storage = new["storage"]
    if change == "insert":
        for var in storage:
            var["slot"] = str(int(var["slot"]) + 1)
        storage.insert(0, {"label": "inserted", "slot": "0", "offset": 0, "type": "t_uint256"})
        new["types"]["t_uint256"] = {"label": "uint256", "numberOfBytes": "32", "encoding": "inplace"}
    elif change == "retype":
        var = next(v for v in storage if v["label"] == "orderCount")
        var["type"] = "t_uint128"
        new["types"]["t_uint128"] = {"label": "uint128", "numberOfBytes": "16", "encoding": "inplace"}
    elif change == "remove":
        storage[:] = [v for v in storage if v["label"] != "orderCount"]
    elif change == "reorder_struct":
        order_type = next(t for t in new["types"] if t.startswith("t_struct(Order)"))
        members = new["types"][order_type]["members"]
        members[0]["label"], members[1]["label"] = members[1]["label"], members[0]["label"]
    assert problem in layout_problems(old, new)


@pytest.mark.parametrize("name", ["FoodUSD", "GroToken", "MemberRegistry", "GroupBuy"])
def test_upgradeable_contracts_keep_own_state_out_of_openzeppelin_namespaces(name):
    """Our variables start at slot 0 and the layout lists them; OpenZeppelin's live in ERC-7201 slots."""
    layout = load_artifact(name).storage_layout
    assert layout["storage"], f"{name} declares no state of its own"
    assert min(int(v["slot"]) for v in layout["storage"]) == 0
