"""What each kind of intent does on chain, and the plain reason codes for what can go wrong.

Member intents run as calls from the member's smart account (one user operation, its calls all or
nothing); operator intents are transactions from the backend's operator account (recording a cash
deposit, registering a member). Parameters are JSON: amounts in minor units as integers or decimal
strings, ids as integers, bytes32 values as 0x-hex.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from web3.contract.contract import ContractFunction

from chain.deploy import CoopSystem
from chain.errors import ContractReverted
from chain.userop import Call


def _call(function: ContractFunction) -> Call:
    return Call(function.address, bytes.fromhex(function._encode_transaction_data()[2:]))


def _bytes32(value: str) -> bytes:
    """A 0x-hex bytes32, or any other text hashed into one (an idempotency key, a cash receipt number)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return bytes.fromhex(value[2:])
    return keccak(text=str(value))


# ---- member intents: the calls the member's account makes ----

def _join(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    gb = c.group_buy.functions
    price = gb.getOrder(int(p["order_id"])).call()[0]
    cost = int(p["units"]) * price
    return [_call(c.food_usd.functions.approve(c.group_buy.address, cost)),
            _call(gb.join(int(p["order_id"]), int(p["units"])))]


def _tolerance(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    gb = c.group_buy.functions
    order_id, tolerance = int(p["order_id"]), int(p["tolerance"])
    price = gb.getOrder(order_id).call()[0]
    extra = max(tolerance - gb.getMember(order_id, account).call()[1], 0) * price
    return [_call(c.food_usd.functions.approve(c.group_buy.address, extra)), _call(gb.setTolerance(order_id, tolerance))]


def _lock(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    amount = int(p["amount"])
    return [_call(c.gro.functions.approve(c.escrow.address, amount)),
            _call(c.escrow.functions.createLock(amount, int(p["unlock_time"])))]


def _increase_lock(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    amount = int(p["amount"])
    return [_call(c.gro.functions.approve(c.escrow.address, amount)), _call(c.escrow.functions.increaseAmount(amount))]


def _vote(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    params = int(p["votes"]).to_bytes(32, "big") if p.get("votes") is not None else b""
    return [_call(c.governor.functions.castVoteWithReasonAndParams(
        int(p["proposal_id"]), int(p["support"]), p.get("reason", ""), params))]


def _propose(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    return [_call(c.governor.functions.propose(
        p["targets"], [int(v) for v in p["values"]], [bytes.fromhex(d[2:]) for d in p["calldatas"]], p["description"]))]


def _export(c: CoopSystem, account: str, p: dict[str, Any]) -> list[Call]:
    from chain.transact import contract_at

    own = contract_at(c.account_factory.w3, "CoopAccount", account)
    return [_call(own.functions.rotateSigner(p["new_signer"]))]


MEMBER_KINDS: dict[str, Callable[[CoopSystem, str, dict[str, Any]], list[Call]]] = {
    "join": _join,
    "tolerance": _tolerance,
    "claim": lambda c, a, p: [_call(c.group_buy.functions.claim(int(p["order_id"]), a))],
    "transfer": lambda c, a, p: [_call(c.food_usd.functions.transfer(p["to"], int(p["amount"])))],
    "lock": _lock,
    "increase_lock": _increase_lock,
    "extend_lock": lambda c, a, p: [_call(c.escrow.functions.extendLock(int(p["unlock_time"])))],
    "withdraw_lock": lambda c, a, p: [_call(c.escrow.functions.withdraw())],
    "redeem": lambda c, a, p: [_call(c.gro.functions.redeem(int(p["amount"]), _bytes32(p["redemption_id"]),
                                                            _bytes32(p["item"])))],
    "vote": _vote,
    "propose": _propose,
    "export": _export,
}


# ---- operator intents: one transaction from the operator account ----

@dataclass(frozen=True)
class OperatorCall:
    """An operator intent's transaction; `account_of` maps the intent's member to their smart account."""

    build: Callable[[CoopSystem, dict[str, Any], str | None], ContractFunction]


OPERATOR_KINDS: dict[str, OperatorCall] = {
    "register": OperatorCall(lambda c, p, account: c.registry.functions.addMember(account, _bytes32(p["resident_id"]))),
    "deposit": OperatorCall(lambda c, p, account: c.food_usd.functions.recordDeposit(
        account, int(p["amount"]), _bytes32(p["ref"]))),
    "certify": OperatorCall(lambda c, p, account: c.gro.functions.certify(
        account, _bytes32(p["batch_id"]), int(p["grams"]), int(p.get("grade", 1)))),
}


# ---- why something failed, in a code the chat layer words for the member ----

REASONS = {
    "ERC20InsufficientBalance": "insufficient_funds",
    "ERC20InsufficientAllowance": "insufficient_funds",
    "OrderFull": "order_full",
    "OrderClosed": "deadline_passed",
    "OrderNotOpen": "order_not_open",
    "UnknownOrder": "unknown_order",
    "MemberCapExceeded": "over_member_cap",
    "NotJoined": "not_joined",
    "AlreadyClaimed": "already_claimed",
    "NothingToClaim": "nothing_to_claim",
    "NotAMember": "not_a_member",
    "QuadraticVotesExceedCredits": "not_enough_credits",
    "GovernorAlreadyCastVote": "already_voted",
    "GovernorUnexpectedProposalState": "proposal_not_active",
    "GovernorNonexistentProposal": "unknown_proposal",
    "AlreadyRecorded": "already_recorded",
    "AlreadyMember": "already_member",
    "LockExists": "lock_exists",
    "NoLock": "no_lock",
    "LockExpired": "lock_expired",
    "LockNotExpired": "lock_not_expired",
    "UnlockTimeTooSoon": "unlock_too_soon",
    "UnlockTimeTooLate": "unlock_too_late",
    "ZeroAmount": "zero_amount",
    "UnlockTimeNotLater": "unlock_not_later",
    "EnforcedPause": "paused",
}


def reason_of(error: ContractReverted) -> str:
    """The reason code for a decoded revert ('rejected' when there is no plainer one)."""
    if error.name == "FailedOp" and "AA2" in str(error.args_by_name.get("reason", "")):
        return "signature_rejected"  # e.g. the member took the account into their own custody
    return REASONS.get(error.name, "rejected")


__all__ = ["MEMBER_KINDS", "OPERATOR_KINDS", "OperatorCall", "REASONS", "reason_of"]
