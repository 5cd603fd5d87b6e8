"""Upgrades: only governance may upgrade, and state survives (storage layouts: test_layouts.py)."""
from eth_utils import keccak

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
                                     coop.chain.now() + 30 * DAY), coop.treasurer)
    coop.deposit(a, 3 * PRICE)
    coop.tx(fusd.functions.approve(gb.address, 3 * PRICE), a)
    coop.tx(gb.functions.join(1, 3), a)
    order_before = gb.functions.getOrder(1).call()

    v2_impl, _ = deploy_contract(coop.w3, "GroupBuyV2", coop.deployer, fusd.address, coop.contracts.registry.address,
                                 gb.functions.maxMembersPerOrder().call())
    with reverts("AccessControlUnauthorizedAccount", account=coop.treasurer.address):
        coop.tx(gb.functions.upgradeToAndCall(v2_impl.address, b""), coop.treasurer)

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
    # The new code is built with the same Food-USD: an immutable lives in the code, not in the proxy's state.
    assert upgraded.functions.foodUsd().call() == fusd.address
    assert upgraded.functions.getOrder(1).call() == order_before
    assert upgraded.functions.getMember(1, a.address).call()[0] == 3
    assert fusd.functions.balanceOf(gb.address).call() == 3 * PRICE
    # The old state keeps working with the new code: the order can still fill up and pay.
    coop.deposit(b, 7 * PRICE)
    coop.tx(fusd.functions.approve(gb.address, 7 * PRICE), b)
    coop.tx(upgraded.functions.join(1, 5), b)
    assert upgraded.functions.getOrder(1).call()[8] == 8


def _group_buy_governed_by(coop, governor):
    """A fresh GroupBuy proxy on the co-op's Food-USD and registry, with `governor` as its governance."""
    c = coop.contracts
    implementation, _ = deploy_contract(coop.w3, "GroupBuy", coop.deployer, c.food_usd.address, c.registry.address, 300)
    init = implementation.encode_abi("initialize", args=[governor.address, coop.treasurer.address])
    proxy, _ = deploy_contract(coop.w3, "ERC1967Proxy", coop.deployer, implementation.address, init)
    return contract_at(coop.w3, "GroupBuy", proxy.address)


def test_an_upgrade_keeps_the_token_and_the_registry(coop):
    """The token and the registry are immutables in the code: a new implementation built with another
    token or registry would silently move every order's money elsewhere, so the upgrade is refused."""
    c, governor = coop.contracts, coop.deployer
    gb = _group_buy_governed_by(coop, governor)
    # Another ERC-20 (GRO) in place of Food-USD; another address in place of the registry.
    for token, registry in ((c.gro.address, c.registry.address), (c.food_usd.address, coop.outsider.address)):
        impl, _ = deploy_contract(coop.w3, "GroupBuyV2", coop.deployer, token, registry, 300)
        with reverts("UpgradeChangesImmutables", implementation=impl.address):
            coop.tx(gb.functions.upgradeToAndCall(impl.address, b""), governor)
    same, _ = deploy_contract(coop.w3, "GroupBuyV2", coop.deployer, c.food_usd.address, c.registry.address, 300)
    receipt = coop.tx(gb.functions.upgradeToAndCall(same.address, b""), governor)
    assert events(receipt, gb, "Upgraded") == [{"implementation": same.address}]
    upgraded = contract_at(coop.w3, "GroupBuyV2", gb.address)
    assert upgraded.functions.version().call() == 2
    assert upgraded.functions.foodUsd().call() == c.food_usd.address
    assert upgraded.functions.registry().call() == c.registry.address
