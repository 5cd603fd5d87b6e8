"""What each kind of intent does on chain, and the plain reason codes for what can go wrong.

Member intents run as calls from the member's smart account (one user operation, its calls all or
nothing); operator intents are transactions from the backend's account for the intent's role (the
registrar registers a member, the treasurer records a cash deposit; chain.roles). Parameters are JSON:
amounts in minor units as integers or decimal strings, ids as integers, bytes32 values as 0x-hex.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from chain.artifacts import function
from chain.deploy import CoopSystem
from chain.errors import ContractReverted
from chain.ledger import order_read, part_read
from chain.roles import Role
from chain.rpc import Read
from chain.userop import Call


def _call(to: str, artifact: str, name: str, *args: Any) -> Call:
    return Call(to, function(artifact, name).encode(*args))


def _bytes32(value: str) -> bytes:
    """A 0x-hex bytes32, or any other text hashed into one (an idempotency key, a cash receipt number)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return bytes.fromhex(value[2:])
    return keccak(text=str(value))


# ---- member intents: the calls the member's account makes ----

Facts = dict[tuple, Any]  # what a kind read from the chain first (typed: chain/ledger.py), by the keys its `reads` gave


@dataclass(frozen=True)
class MemberKind:
    """`reads` names the contract reads the calls depend on (done for a whole bundle in one batch);
    `calls` turns the parameters and those facts into the account's calls."""

    calls: Callable[[CoopSystem, str, dict[str, Any], Facts], list[Call]]
    reads: Callable[[CoopSystem, str, dict[str, Any]], dict[tuple, Read]] = lambda c, a, p: {}


def _order(c: CoopSystem, account: str, p: dict[str, Any]) -> dict[tuple, Read]:
    order_id = int(p["order_id"])
    return {("order", order_id): order_read(c, order_id)}


def _claim_orders(p: dict[str, Any]) -> list[int]:
    return [int(order_id) for order_id in p.get("order_ids") or [p["order_id"]]]


def _claim_parts(c: CoopSystem, account: str, p: dict[str, Any]) -> dict[tuple, Read]:
    return {("part", order_id, account): part_read(c, order_id, account) for order_id in _claim_orders(p)}


def _claim(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    """A member's /claim over several orders. Orders the keeper claimed for them meanwhile are left out: one
    claimed already would revert the whole operation. When all were, the chain's refusal says so."""
    orders = _claim_orders(p)
    left = [order_id for order_id in orders if not facts[("part", order_id, account)].claimed] or orders
    return [_call(c.group_buy.address, "GroupBuy", "claim", order_id, account) for order_id in left]


def _order_and_part(c: CoopSystem, account: str, p: dict[str, Any]) -> dict[tuple, Read]:
    order_id = int(p["order_id"])
    return {**_order(c, account, p), ("part", order_id, account): part_read(c, order_id, account)}


def _approve(c: CoopSystem, token: str, spender: str, amount: int) -> Call:
    return _call(token, "FoodUSD" if token == c.food_usd.address else "GroToken", "approve", spender, amount)


def _join(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    order_id, units = int(p["order_id"]), int(p["units"])
    cost = units * facts[("order", order_id)].unit_price
    return [_approve(c, c.food_usd.address, c.group_buy.address, cost),
            _call(c.group_buy.address, "GroupBuy", "join", order_id, units)]


def _tolerance(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    order_id, tolerance = int(p["order_id"]), int(p["tolerance"])
    extra = max(tolerance - facts[("part", order_id, account)].tolerance, 0) * facts[("order", order_id)].unit_price
    return [_approve(c, c.food_usd.address, c.group_buy.address, extra),
            _call(c.group_buy.address, "GroupBuy", "setTolerance", order_id, tolerance)]


def _lock(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    amount = int(p["amount"])
    return [_approve(c, c.gro.address, c.escrow.address, amount),
            _call(c.escrow.address, "VotingEscrow", "createLock", amount, int(p["unlock_time"]))]


def _increase_lock(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    amount = int(p["amount"])
    return [_approve(c, c.gro.address, c.escrow.address, amount),
            _call(c.escrow.address, "VotingEscrow", "increaseAmount", amount)]


def _vote(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    params = int(p["votes"]).to_bytes(32, "big") if p.get("votes") is not None else b""
    return [_call(c.governor.address, "CoopGovernor", "castVoteWithReasonAndParams",
                  int(p["proposal_id"]), int(p["support"]), p.get("reason", ""), params)]


def _propose(c: CoopSystem, account: str, p: dict[str, Any], facts: Facts) -> list[Call]:
    return [_call(c.governor.address, "CoopGovernor", "propose", p["targets"], [int(v) for v in p["values"]],
                  [bytes.fromhex(d[2:]) for d in p["calldatas"]], p["description"])]


MEMBER_KINDS: dict[str, MemberKind] = {
    "join": MemberKind(_join, _order),
    "tolerance": MemberKind(_tolerance, _order_and_part),
    "claim": MemberKind(_claim, _claim_parts),
    "transfer": MemberKind(lambda c, a, p, f: [_call(c.food_usd.address, "FoodUSD", "transfer", p["to"],
                                                     int(p["amount"]))]),
    "lock": MemberKind(_lock),
    "increase_lock": MemberKind(_increase_lock),
    "extend_lock": MemberKind(lambda c, a, p, f: [_call(c.escrow.address, "VotingEscrow", "extendLock",
                                                        int(p["unlock_time"]))]),
    "withdraw_lock": MemberKind(lambda c, a, p, f: [_call(c.escrow.address, "VotingEscrow", "withdraw")]),
    "redeem": MemberKind(lambda c, a, p, f: [_call(c.gro.address, "GroToken", "redeem", int(p["amount"]),
                                                   _bytes32(p["redemption_id"]), _bytes32(p["item"]))]),
    "vote": MemberKind(_vote),
    "propose": MemberKind(_propose),
    "export": MemberKind(lambda c, a, p, f: [_call(a, "CoopAccount", "rotateSigner", p["new_signer"])]),
    # Cash paid out: the member's account lets the treasurer burn that much (FoodUSD burns only what members
    # approved); the `withdraw` operator intent written with it spends the allowance.
    "approve_withdrawal": MemberKind(lambda c, a, p, f: [_call(c.food_usd.address, "FoodUSD", "approve",
                                                                p["burner"], int(p["amount"]))]),
}


# ---- operator intents: one transaction from the backend's account for the intent's role ----

@dataclass(frozen=True)
class OperatorCall:
    """An operator intent's transaction: `build(contracts, params, member account)`, signed by `role`'s key
    (chain.roles), the one account the contract lets make it."""

    role: Role
    build: Callable[[CoopSystem, dict[str, Any], str | None], Call]
    # Sent only once the member's earlier operations are settled: it spends what one of them allowed. If the one
    # written with it (key `KEY:n`) failed, it fails too, unsent, with that reason (chain/outbox.py).
    after_member: bool = False


OPERATOR_KINDS: dict[str, OperatorCall] = {
    "register": OperatorCall("registrar", lambda c, p, account: _call(
        c.registry.address, "MemberRegistry", "addMember", account, _bytes32(p["resident_id"]))),
    "deposit": OperatorCall("treasurer", lambda c, p, account: _call(
        c.food_usd.address, "FoodUSD", "recordDeposit", account, int(p["amount"]), _bytes32(p["ref"]))),
    "withdraw": OperatorCall("treasurer", lambda c, p, account: _call(
        c.food_usd.address, "FoodUSD", "recordWithdrawal", account, int(p["amount"]), _bytes32(p["ref"])),
        after_member=True),
    "create_order": OperatorCall("treasurer", lambda c, p, account: _call(
        c.group_buy.address, "GroupBuy", "createOrder", p["supplier"], _bytes32(p["product"]), int(p["unit_price"]),
        int(p["target_units"]), int(p["min_units"]), int(p["max_units_per_member"]), int(p.get("case_size", 1)),
        int(p["deadline"]))),
    # An admin's /closeorder: bought or refunded now, as at the deadline (`join_order` as for finalize).
    "close_order": OperatorCall("treasurer", lambda c, p, account: _call(
        c.group_buy.address, "GroupBuy", "closeEarly", int(p["order_id"]), p.get("join_order", []))),
    "certify": OperatorCall("certifier", lambda c, p, account: _call(
        c.gro.address, "GroToken", "certify", account, _bytes32(p["batch_id"]), int(p["grams"]),
        int(p.get("grade", 1)))),
    # The keepers' calls, which anyone may make, from the account holding no role: an order past its
    # deadline is bought or refunded, a member's share pulled for them; a passed proposal is queued in the
    # timelock, then executed.
    "claim_for": OperatorCall("gas_payer", lambda c, p, account: _call(
        c.group_buy.address, "GroupBuy", "claim", int(p["order_id"]), account)),
    "finalize": OperatorCall("gas_payer", lambda c, p, account: _call(
        c.group_buy.address, "GroupBuy", "finalize", int(p["order_id"]), p.get("join_order", []))),
    "refund_stale": OperatorCall("gas_payer", lambda c, p, account: _call(
        c.group_buy.address, "GroupBuy", "refundStale", int(p["order_id"]))),
    "queue": OperatorCall("gas_payer", lambda c, p, account: _call(
        c.governor.address, "CoopGovernor", "queue", *_proposal(p))),
    "execute": OperatorCall("gas_payer", lambda c, p, account: _call(
        c.governor.address, "CoopGovernor", "execute", *_proposal(p))),
    # With an external bundler (COOP_BUNDLER_URL) each operation's gas is paid from its account's EntryPoint
    # deposit: the gas payer tops it up, in ETH, before the member's next operation goes (chain/outbox.py).
    "top_up": OperatorCall("gas_payer", lambda c, p, account: Call(
        c.entry_point.address, function("EntryPoint", "depositTo").encode(account), int(p["amount"]))),
}


def _proposal(p: dict[str, Any]) -> tuple:
    """A proposal's actions and description hash, as queue and execute take them."""
    return (p["targets"], [int(v) for v in p["values"]], [bytes.fromhex(d[2:]) for d in p["calldatas"]],
            keccak(text=p["description"]))


# ---- why something failed, in a code the chat layer words for the member ----

REASONS = {
    "ERC20InsufficientBalance": "insufficient_funds",
    "ERC20InsufficientAllowance": "insufficient_funds",
    "OrderFull": "order_full",
    "OrderClosed": "deadline_passed",
    "OrderNotOpen": "order_not_open",
    "UnknownOrder": "unknown_order",
    "InvalidOrder": "invalid_order",
    "MemberCapExceeded": "over_member_cap",
    "NotJoined": "not_joined",
    "JoinOrderRequired": "order_changed",  # a member joined between the admin's /closeorder and its confirm
    "BadJoinOrder": "order_changed",
    "BatchAlreadyCertified": "batch_already_certified",
    "BatchCapExceeded": "over_batch_cap",
    "PeriodCapExceeded": "over_period_cap",
    "EmptyBatch": "empty_batch",
    "BatchWorthNothing": "empty_batch",
    "UpgradeChangesImmutables": "upgrade_changes_immutables",
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
    "EmptyRedemption": "zero_amount",
    "RedemptionAlreadyRecorded": "already_recorded",
    "UnlockTimeNotLater": "unlock_not_later",
    "EnforcedPause": "paused",
}


# Reasons that are not one contract error's:
REJECTED = "rejected"  # the chain refused it, with no plainer reason
SIGNATURE_REJECTED = "signature_rejected"  # the account refused our signature (validation, AA2x)
INVALID = "invalid"  # the intent's parameters cannot be encoded
NO_ACCOUNT = "no_account"  # the member has no smart account
EXPORTED = "exported"  # the member took their account into their own custody
BUNDLER_REFUSED = "bundler_refused"  # the external bundler refused the operation (its AA.. code in the detail)

# Every code an intent can fail with; handlers/reasons.py words each one (tests/handlers/test_reasons.py).
REASON_CODES = frozenset(REASONS.values()) | {REJECTED, SIGNATURE_REJECTED, INVALID, NO_ACCOUNT, EXPORTED,
                                             BUNDLER_REFUSED}


def reason_of(error: ContractReverted) -> str:
    """The reason code for a decoded revert (REJECTED when there is no plainer one)."""
    aa = str(error.args_by_name.get("reason", ""))[:4]
    if error.name == "FailedOp" and aa.startswith("AA2") and aa not in ("AA21", "AA25"):  # not payment, not nonce
        return SIGNATURE_REJECTED  # e.g. the member took the account into their own custody
    return REASONS.get(error.name, REJECTED)


__all__ = ["BUNDLER_REFUSED", "EXPORTED", "Facts", "INVALID", "MEMBER_KINDS", "MemberKind", "NO_ACCOUNT",
           "OPERATOR_KINDS", "OperatorCall", "REASONS", "REASON_CODES", "REJECTED", "SIGNATURE_REJECTED", "reason_of"]
