"""A proposal's actions decoded against the co-op's own ABIs, from calldata encoded the way a proposer would
(web3's contract objects over the deployed contracts), classified by the governor's rule."""
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from chain.artifacts import function, load_artifact, type_string
from chain.proposal_actions import (ARTIFACTS, ORDINARY, PRIVILEGED, SIGNAL, UNKNOWN, decode_action, decode_actions,
                                    waits_for_guardian)
from tests.conftest import GRO

OUTSIDER = to_checksum_address("0x12ab000000000000000000000000000000c0ffee")


def calldata(call) -> str:
    return call._encode_transaction_data()


def test_the_chats_signal_action_is_a_signal(deployed):
    c = deployed.contracts
    action = decode_action(c, c.registry.address, 0, calldata(c.registry.functions.memberCount()))
    assert (action.kind, action.contract, action.function, action.args) == (SIGNAL, "registry", "memberCount", {})
    assert not waits_for_guardian([action])


def test_a_rate_change_is_ordinary_with_its_argument(deployed):
    c = deployed.contracts
    action = decode_action(c, c.gro.address, "0", calldata(c.gro.functions.setRatePerKg(20 * GRO)))
    assert (action.kind, action.contract, action.function) == (ORDINARY, "gro", "setRatePerKg")
    assert action.args == {"newRatePerKg": 20 * GRO}
    assert not waits_for_guardian([action])


def test_a_rate_change_sending_value_is_privileged(deployed):
    c = deployed.contracts
    action = decode_action(c, c.gro.address, 1, calldata(c.gro.functions.setRatePerKg(20 * GRO)))
    assert action.kind == PRIVILEGED


def test_a_role_grant_is_privileged_and_names_the_role_and_the_grantee(deployed):
    c = deployed.contracts
    upgrader = keccak(text="UPGRADER_ROLE")
    action = decode_action(c, c.group_buy.address, 0, calldata(c.group_buy.functions.grantRole(upgrader, OUTSIDER)))
    assert (action.kind, action.contract, action.function) == (PRIVILEGED, "group_buy", "grantRole")
    assert action.args == {"role": upgrader, "account": OUTSIDER}
    assert waits_for_guardian([action])


def test_an_upgrade_is_privileged(deployed):
    c = deployed.contracts
    action = decode_action(c, c.food_usd.address, 0,
                           calldata(c.food_usd.functions.upgradeToAndCall(OUTSIDER, b"")))
    assert (action.kind, action.contract, action.function) == (PRIVILEGED, "food_usd", "upgradeToAndCall")
    assert action.args == {"newImplementation": OUTSIDER, "data": b""}


def test_a_selector_our_abi_lacks_is_unknown_on_our_named_contract(deployed):
    c = deployed.contracts
    data = function("FoodUSD", "recordDeposit").selector + bytes(96)  # FoodUSD's, sent to GroupBuy
    action = decode_action(c, c.group_buy.address, 0, "0x" + data.hex())
    assert (action.kind, action.contract, action.function) == (UNKNOWN, "group_buy", None)
    assert waits_for_guardian([action])


def test_a_call_to_a_contract_that_is_not_ours_is_unknown_even_with_an_ordinary_selector(deployed):
    c = deployed.contracts
    action = decode_action(c, OUTSIDER, 0, calldata(c.gro.functions.setRatePerKg(20 * GRO)))
    assert (action.kind, action.contract) == (UNKNOWN, None)


def test_calldata_too_short_for_its_arguments_is_unknown(deployed):
    c = deployed.contracts
    data = calldata(c.group_buy.functions.grantRole(keccak(text="MINTER_ROLE"), OUTSIDER))[:-20]
    assert decode_action(c, c.group_buy.address, 0, data).kind == UNKNOWN


def test_one_hidden_privileged_action_makes_the_whole_proposal_wait(deployed):
    c = deployed.contracts
    signal = calldata(c.registry.functions.memberCount())
    grant = calldata(c.food_usd.functions.grantRole(keccak(text="MINTER_ROLE"), OUTSIDER))
    actions = decode_actions(c, [c.registry.address, c.food_usd.address], [0, 0], [signal, grant])
    assert [a.kind for a in actions] == [SIGNAL, PRIVILEGED]
    assert waits_for_guardian(actions)


def test_the_chat_flags_exactly_what_the_governor_makes_wait(deployed):
    """One rule on both sides: every function of every one of our contracts, and the same calls sent to an
    address that is not ours, with and without value, are 'privileged or unknown' for the chat exactly when
    the governor's isPrivileged says so (else the keeper could queue early, or members be warned wrongly)."""
    c = deployed.contracts
    is_privileged = c.governor.functions.isPrivileged
    checked = 0
    for key, artifact in ARTIFACTS.items():
        for item in load_artifact(artifact).abi:
            if item["type"] != "function":
                continue
            signature = f"{item['name']}({','.join(type_string(p) for p in item['inputs'])})"
            data = function_signature_to_4byte_selector(signature) + bytes(32 * len(item["inputs"]))
            for target in (getattr(c, key).address, OUTSIDER):
                for value in (0, 1):
                    ours = waits_for_guardian([decode_action(c, target, value, data)])
                    assert ours == is_privileged([target], [value], [data]).call(), (key, signature, target, value)
                    checked += 1
    assert checked > 400
