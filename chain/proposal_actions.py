"""What a proposal's actions do, decoded against the co-op's own ABIs: what members read before voting,
and what the keeper goes by before queueing.

Each action is a signal (the chat's no-op `MemberRegistry.memberCount()` read), an ordinary setting, a
privileged change, or unknown (a target that is not one of our contracts, or a call our ABIs do not have).
Ordinary versus privileged is the governor's own rule (`CoopGovernor.isPrivileged`): ordinary only with no
value and one of ORDINARY on its contract (the registry's no-op read, GroToken's rate).
"""
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from chain.artifacts import load_artifact, type_string
from chain.deploy import CoopSystem

SIGNAL, ORDINARY, PRIVILEGED, UNKNOWN = "signal", "ordinary", "privileged", "unknown"
SIGNAL_SIGNATURE = "memberCount()"
# The governor's ordinary actions, by our contract: everything else waits the guardian window.
ORDINARY = {("registry", SIGNAL_SIGNATURE), ("gro", "setRatePerKg(uint256)")}
# CoopSystem's contracts and the artifact whose ABI each one answers to (the proxies' implementations).
ARTIFACTS = {"registry": "MemberRegistry", "food_usd": "FoodUSD", "gro": "GroToken", "escrow": "VotingEscrow",
             "timelock": "TimelockController", "governor": "CoopGovernor", "group_buy": "GroupBuy",
             "entry_point": "EntryPoint", "account_factory": "CoopAccountFactory"}
ROLE_NAMES = ("UPGRADER_ROLE", "MINTER_ROLE", "BURNER_ROLE", "PAUSER_ROLE", "CERTIFIER_ROLE", "REGISTRAR_ROLE",
              "ORDER_MANAGER_ROLE", "PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE")
ROLES = {bytes(32): "DEFAULT_ADMIN_ROLE"} | {keccak(text=name): name for name in ROLE_NAMES}


@dataclass(frozen=True)
class Action:
    kind: str  # SIGNAL | ORDINARY | PRIVILEGED | UNKNOWN
    target: str  # checksummed
    value: int  # wei sent with the call
    contract: str | None  # our contract at the target (a CoopSystem field: "group_buy"), None if not ours
    function: str | None  # the function's name, None when unknown
    args: dict[str, Any]  # its arguments by parameter name (addresses checksummed, bytes as bytes)
    calldata: bytes


@cache
def _functions(artifact: str) -> dict[bytes, tuple[str, str, tuple[dict[str, Any], ...]]]:
    """selector → (name, signature, inputs) of every function in `artifact`'s ABI."""
    found = {}
    for item in load_artifact(artifact).abi:
        if item["type"] == "function":
            signature = f"{item['name']}({','.join(type_string(p) for p in item['inputs'])})"
            found[function_signature_to_4byte_selector(signature)] = (item["name"], signature, tuple(item["inputs"]))
    return found


def our_contracts(contracts: CoopSystem) -> dict[str, str]:
    """checksummed address → CoopSystem field, for every contract the co-op deployed."""
    return {to_checksum_address(getattr(contracts, key).address): key for key in ARTIFACTS}


def _plain(param: dict[str, Any], value: Any) -> Any:
    if param["type"] == "address":
        return to_checksum_address(value)
    if param["type"].endswith("[]") and param["type"].startswith("address"):
        return [to_checksum_address(v) for v in value]
    return value


def decode_action(contracts: CoopSystem, target: str, value: int | str, calldata: bytes | str) -> Action:
    target, value = to_checksum_address(target), int(value)
    data = bytes.fromhex(calldata[2:]) if isinstance(calldata, str) else bytes(calldata)
    key = our_contracts(contracts).get(target)
    known = _functions(ARTIFACTS[key]).get(data[:4]) if key is not None and len(data) >= 4 else None
    if known is None:
        return Action(UNKNOWN, target, value, key, None, {}, data)
    name, signature, inputs = known
    try:
        values = decode([type_string(p) for p in inputs], data[4:])
    except (DecodingError, OverflowError, ValueError):
        return Action(UNKNOWN, target, value, key, name, {}, data)
    args = {p["name"] or f"arg{i}": _plain(p, v) for i, (p, v) in enumerate(zip(inputs, values))}
    if value == 0 and signature == SIGNAL_SIGNATURE and key == "registry":
        kind = SIGNAL
    elif value == 0 and (key, signature) in ORDINARY:
        kind = ORDINARY
    else:
        kind = PRIVILEGED
    return Action(kind, target, value, key, name, args, data)


def decode_actions(contracts: CoopSystem, targets: list, values: list, calldatas: list) -> list[Action]:
    """A proposal's actions (as propose took them, or as its ProposalCreated event holds them)."""
    return [decode_action(contracts, t, v, c) for t, v, c in zip(targets, values, calldatas, strict=True)]


def waits_for_guardian(actions: list[Action]) -> bool:
    """Whether the proposal may be queued only after the guardian window: it has a privileged or an unknown
    action (an unknown one may be anything)."""
    return any(a.kind in (PRIVILEGED, UNKNOWN) for a in actions)
