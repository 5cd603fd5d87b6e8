"""Access control: every restricted function of the deployed contracts refuses callers without the right,
with the exact custom error and its arguments; who holds which role after deployment; and a check that the
table below leaves no state-changing function of the co-op's contracts out.

The table names each restricted function once (by ABI signature) with the callers that must be refused:
`outsider` (no role, not a member), `member` (a registered member, no role), the backend's accounts that do
not hold the function's role (`registrar`, `certifier`, `treasurer`, and `gas_payer`, which holds none), and
for admin-only functions also every backend account and `deployer` (must have kept nothing): no day-to-day
key can do another's work or govern.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from chain.artifacts import load_artifact
from chain.transact import contract_at
from chain.userop import BATCH_MODE, UserOperation
from tests.conftest import DAY
from tests.contracts.governance import propose, start_voting
from tests.helpers import reverts

ADMIN = bytes(32)  # DEFAULT_ADMIN_ROLE
ZERO = "0x" + "00" * 20
# ERC-1967: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC

UPGRADEABLE = {"FoodUSD": "food_usd", "GroToken": "gro", "MemberRegistry": "registry", "GroupBuy": "group_buy"}
DAY_TO_DAY_ROLES = {
    "FoodUSD": ("MINTER_ROLE", "BURNER_ROLE", "PAUSER_ROLE"),
    "GroToken": ("CERTIFIER_ROLE",),
    "MemberRegistry": ("REGISTRAR_ROLE",),
    "GroupBuy": ("ORDER_MANAGER_ROLE",),
}
# Which backend account holds each day-to-day role (chain.deploy.Roles); the gas payer holds none.
HOLDER = {"MINTER_ROLE": "treasurer", "BURNER_ROLE": "treasurer", "PAUSER_ROLE": "treasurer",
          "ORDER_MANAGER_ROLE": "treasurer", "CERTIFIER_ROLE": "certifier", "REGISTRAR_ROLE": "registrar"}
BACKEND = ("registrar", "certifier", "treasurer", "gas_payer")
INIT_ARGS = {"FoodUSD": 2, "GroToken": 6, "MemberRegistry": 2, "GroupBuy": 2}

Ctx = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One restricted function: how to call it, and how it must refuse each listed caller."""

    id: str
    abi: str  # the artifact whose ABI declares the function
    signature: str
    args: Callable[[Any, Any, Ctx], list]  # (coop, caller, ctx) -> arguments
    error: str
    expected: Callable[[Any, Any, Ctx], dict] = lambda coop, caller, ctx: {}
    callers: tuple[str, ...] = ("outsider", "member")
    target: Callable[[Any, Ctx], Any] | None = None  # (coop, ctx) -> contract; default: the deployed `abi`
    setup: Callable[[Any, Any], Ctx] | None = None  # (coop, caller) -> ctx, before the call
    sender: Callable[[Any, Any], Any] | None = None  # who sends the transaction; default: the caller
    note: str = ""


ATTR = {**UPGRADEABLE, "VotingEscrow": "escrow", "CoopGovernor": "governor", "TimelockController": "timelock",
        "CoopAccountFactory": "account_factory"}


def role(name: str) -> Callable:
    """AccessControlUnauthorizedAccount(caller, the target's `name` role)."""
    def expected(coop, caller, ctx):
        needed = ADMIN if name == "DEFAULT_ADMIN_ROLE" else getattr(ctx["contract"].functions, name)().call()
        return {"account": caller.address, "neededRole": needed}
    return expected


def caller_as(key: str) -> Callable:
    return lambda coop, caller, ctx: {key: caller.address}


def implementation_of(coop, proxy) -> str:
    word = coop.w3.eth.get_storage_at(proxy.address, IMPLEMENTATION_SLOT)
    return coop.w3.to_checksum_address(word[-20:])


def some_call(coop) -> tuple[str, bytes]:
    """A harmless governance action (set the GRO rate to what it is) as (target, calldata)."""
    gro = coop.contracts.gro
    data = gro.encode_abi("setRatePerKg", args=[gro.functions.ratePerKg().call()])
    return gro.address, bytes.fromhex(data[2:])


# ---- setups ----

def member_account(coop, caller) -> Ctx:
    """A smart account created through the factory whose signer is members[0]."""
    factory = coop.contracts.account_factory
    signer = coop.members[0]
    coop.tx(factory.functions.createAccount(signer.address, 7), coop.supplier)
    address = factory.functions.predictAddress(signer.address, 7).call()
    return {"account": contract_at(coop.w3, "CoopAccount", address)}


def pending_proposal(coop, caller) -> Ctx:
    """A proposal by members[1], still pending (cancellable by its proposer only)."""
    gro = coop.contracts.gro
    proposal_id, proposal = propose(coop, coop.members[1], [(gro, gro.functions.setRatePerKg(
        gro.functions.ratePerKg().call()))], "access control")
    return {"proposal_id": proposal_id, "proposal": proposal}


def active_proposal(coop, caller) -> Ctx:
    ctx = pending_proposal(coop, caller)
    start_voting(coop)
    return ctx


def ballot_signature(coop, voter, proposal_id, support, extended=False, reason="", params=b"") -> bytes:
    governor = coop.contracts.governor
    types = {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    }
    message = {"proposalId": proposal_id, "support": support, "voter": voter.address,
               "nonce": governor.functions.nonces(voter.address).call()}
    fields = [{"name": "proposalId", "type": "uint256"}, {"name": "support", "type": "uint8"},
              {"name": "voter", "type": "address"}, {"name": "nonce", "type": "uint256"}]
    if extended:
        fields += [{"name": "reason", "type": "string"}, {"name": "params", "type": "bytes"}]
        message |= {"reason": reason, "params": params}
    primary = "ExtendedBallot" if extended else "Ballot"
    typed = {"types": types | {primary: fields}, "primaryType": primary,
             "domain": {"name": "CoopGovernor", "version": "1", "chainId": coop.w3.eth.chain_id,
                        "verifyingContract": governor.address},
             "message": message}
    return bytes(voter.sign_message(encode_typed_data(full_message=typed)).signature)


# ---- the table ----

def _abi_type(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


def _abi_signature(item: dict) -> str:
    return f"{item['name']}({','.join(_abi_type(p) for p in item['inputs'])})"


def _signature(abi_name: str, function: str) -> str:
    """The signature of `abi_name`'s one function called `function`."""
    (item,) = [i for i in load_artifact(abi_name).abi if i.get("type") == "function" and i["name"] == function]
    return _abi_signature(item)


def _uups_rows() -> list[Row]:
    """What the four upgradeable contracts share: upgrades, role administration, initialisation."""
    rows = []
    admins = ("outsider", "member", *BACKEND, "deployer")
    for name, attr in UPGRADEABLE.items():
        first_role = DAY_TO_DAY_ROLES[name][0]
        rows += [
            Row(f"{name}.upgradeToAndCall", name, "upgradeToAndCall(address,bytes)",
                lambda coop, caller, ctx: [implementation_of(coop, ctx["contract"]), b""],
                "AccessControlUnauthorizedAccount", role("UPGRADER_ROLE"), admins),
            Row(f"{name}.grantRole", name, "grantRole(bytes32,address)",
                lambda coop, caller, ctx, r=first_role: [getattr(ctx["contract"].functions, r)().call(),
                                                         caller.address],
                "AccessControlUnauthorizedAccount", role("DEFAULT_ADMIN_ROLE"), admins),
            Row(f"{name}.grantRole(admin)", name, "grantRole(bytes32,address)",
                lambda coop, caller, ctx: [ADMIN, caller.address],
                "AccessControlUnauthorizedAccount", role("DEFAULT_ADMIN_ROLE"), admins),
            Row(f"{name}.revokeRole", name, "revokeRole(bytes32,address)",
                lambda coop, caller, ctx, r=first_role: [getattr(ctx["contract"].functions, r)().call(),
                                                         CALLERS[HOLDER[r]](coop).address],
                "AccessControlUnauthorizedAccount", role("DEFAULT_ADMIN_ROLE"), admins),
            Row(f"{name}.renounceRole(for another)", name, "renounceRole(bytes32,address)",
                lambda coop, caller, ctx, r=first_role: [getattr(ctx["contract"].functions, r)().call(),
                                                         CALLERS[HOLDER[r]](coop).address],
                "AccessControlBadConfirmation", callers=("outsider", "member"),
                note="renouncing is open, but only for yourself"),
        ]
        init_sig = _signature(name, "initialize")
        n = INIT_ARGS[name]
        def init_args(coop, caller, ctx, n=n):  # (governance, role holder[, rate, caps])
            return [caller.address] * 2 + [1] * (n - 2)

        rows += [
            Row(f"{name}.initialize(proxy)", name, init_sig, init_args, "InvalidInitialization",
                callers=("outsider",)),
            Row(f"{name}.initialize(implementation)", name, init_sig, init_args, "InvalidInitialization",
                callers=("outsider",),
                target=lambda coop, ctx, name=name, attr=attr: contract_at(
                    coop.w3, name, implementation_of(coop, getattr(coop.contracts, attr)))),
            Row(f"{name}.upgradeToAndCall(implementation)", name, "upgradeToAndCall(address,bytes)",
                lambda coop, caller, ctx: [ctx["contract"].address, b""], "UUPSUnauthorizedCallContext",
                callers=("outsider",),
                target=lambda coop, ctx, name=name, attr=attr: contract_at(
                    coop.w3, name, implementation_of(coop, getattr(coop.contracts, attr))),
                note="the implementation itself cannot be upgraded (onlyProxy)"),
        ]
    return rows


def _governance_rows() -> list[Row]:
    everyone = ("outsider", "member", *BACKEND, "deployer")
    only_executor = [
        ("setVotingDelay(uint48)", lambda coop, caller, ctx: [1]),
        ("setVotingPeriod(uint32)", lambda coop, caller, ctx: [3600]),
        ("setProposalThreshold(uint256)", lambda coop, caller, ctx: [1]),
        ("updateQuorumNumerator(uint256)", lambda coop, caller, ctx: [5]),
        ("updateTimelock(address)", lambda coop, caller, ctx: [caller.address]),
        ("relay(address,uint256,bytes)", lambda coop, caller, ctx: [some_call(coop)[0], 0, some_call(coop)[1]]),
        ("setProposalGuardian(address)", lambda coop, caller, ctx: [caller.address]),
    ]
    rows = [Row(f"CoopGovernor.{sig.split('(')[0]}", "CoopGovernor", sig, args, "GovernorOnlyExecutor",
                caller_as("account"), everyone) for sig, args in only_executor]

    def proposal_args(coop, caller, ctx):
        target, data = some_call(coop)
        return [[target], [0], [data], "by a non-member"]

    rows += [
        Row("CoopGovernor.propose", "CoopGovernor", "propose(address[],uint256[],bytes[],string)", proposal_args,
            "NotAMember", caller_as("account"), ("outsider", *BACKEND, "deployer"), note="members only"),
        Row("CoopGovernor.cancel", "CoopGovernor", "cancel(address[],uint256[],bytes[],bytes32)",
            lambda coop, caller, ctx: list(ctx["proposal"]), "GovernorUnableToCancel",
            lambda coop, caller, ctx: {"proposalId": ctx["proposal_id"], "account": caller.address},
            ("outsider", "member", *BACKEND), setup=pending_proposal,
            note="the guardian at any stage; the proposer only while pending"),
        Row("CoopGovernor.castVote", "CoopGovernor", "castVote(uint256,uint8)",
            lambda coop, caller, ctx: [ctx["proposal_id"], 1], "NotAMember", caller_as("account"),
            ("outsider", *BACKEND), setup=active_proposal, note="members only"),
        Row("CoopGovernor.castVoteWithReason", "CoopGovernor", "castVoteWithReason(uint256,uint8,string)",
            lambda coop, caller, ctx: [ctx["proposal_id"], 1, "yes"], "NotAMember", caller_as("account"),
            ("outsider", *BACKEND), setup=active_proposal),
        Row("CoopGovernor.castVoteWithReasonAndParams", "CoopGovernor",
            "castVoteWithReasonAndParams(uint256,uint8,string,bytes)",
            lambda coop, caller, ctx: [ctx["proposal_id"], 1, "", (0).to_bytes(32, "big")], "NotAMember",
            caller_as("account"), ("outsider", *BACKEND), setup=active_proposal),
        Row("CoopGovernor.castVoteBySig", "CoopGovernor", "castVoteBySig(uint256,uint8,address,bytes)",
            lambda coop, caller, ctx: [ctx["proposal_id"], 1, caller.address,
                                       ballot_signature(coop, caller, ctx["proposal_id"], 1)],
            "NotAMember", caller_as("account"), ("outsider", *BACKEND), setup=active_proposal,
            sender=lambda coop, caller: coop.supplier, note="signed by the non-member, relayed by another"),
        Row("CoopGovernor.castVoteWithReasonAndParamsBySig", "CoopGovernor",
            "castVoteWithReasonAndParamsBySig(uint256,uint8,address,string,bytes,bytes)",
            lambda coop, caller, ctx: [ctx["proposal_id"], 1, caller.address, "r", b"",
                                       ballot_signature(coop, caller, ctx["proposal_id"], 1, True, "r", b"")],
            "NotAMember", caller_as("account"), ("outsider", *BACKEND), setup=active_proposal,
            sender=lambda coop, caller: coop.supplier),
    ]

    def schedule_args(coop, caller, ctx):
        target, data = some_call(coop)
        return [target, 0, data, bytes(32), keccak(text="salt"), DAY]

    def schedule_batch_args(coop, caller, ctx):
        target, data = some_call(coop)
        return [[target], [0], [data], bytes(32), keccak(text="salt"), DAY]

    rows += [
        Row("Timelock.schedule", "TimelockController", "schedule(address,uint256,bytes,bytes32,bytes32,uint256)",
            schedule_args, "AccessControlUnauthorizedAccount", role("PROPOSER_ROLE"), everyone),
        Row("Timelock.scheduleBatch", "TimelockController",
            "scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)", schedule_batch_args,
            "AccessControlUnauthorizedAccount", role("PROPOSER_ROLE"), everyone),
        Row("Timelock.cancel", "TimelockController", "cancel(bytes32)",
            lambda coop, caller, ctx: [keccak(text="an operation")],
            "AccessControlUnauthorizedAccount", role("CANCELLER_ROLE"), everyone),
        Row("Timelock.updateDelay", "TimelockController", "updateDelay(uint256)",
            lambda coop, caller, ctx: [0], "TimelockUnauthorizedCaller", caller_as("caller"), everyone),
        Row("Timelock.grantRole", "TimelockController", "grantRole(bytes32,address)",
            lambda coop, caller, ctx: [ctx["contract"].functions.PROPOSER_ROLE().call(), caller.address],
            "AccessControlUnauthorizedAccount", role("DEFAULT_ADMIN_ROLE"), everyone),
        Row("Timelock.revokeRole", "TimelockController", "revokeRole(bytes32,address)",
            lambda coop, caller, ctx: [ctx["contract"].functions.PROPOSER_ROLE().call(),
                                       coop.contracts.governor.address],
            "AccessControlUnauthorizedAccount", role("DEFAULT_ADMIN_ROLE"), everyone),
        Row("Timelock.renounceRole(for another)", "TimelockController", "renounceRole(bytes32,address)",
            lambda coop, caller, ctx: [ctx["contract"].functions.PROPOSER_ROLE().call(),
                                       coop.contracts.governor.address],
            "AccessControlBadConfirmation"),
    ]
    return rows


def _account_rows() -> list[Row]:
    account = lambda coop, ctx: ctx["account"]  # noqa: E731
    implementation = lambda coop, ctx: contract_at(  # noqa: E731
        coop.w3, "CoopAccount", coop.contracts.account_factory.functions.implementation().call())

    def user_op(coop, caller, ctx):
        op = UserOperation(sender=ctx["account"].address, nonce=0, call_data=b"")
        return [op.packed(), bytes(32), 0]

    return [
        # members[0] is the account's own signer: even it must go through the EntryPoint.
        Row("CoopAccount.rotateSigner", "CoopAccount", "rotateSigner(address)",
            lambda coop, caller, ctx: [caller.address], "AccountUnauthorized", caller_as("sender"),
            target=account, setup=member_account, note="only through a user operation"),
        Row("CoopAccount.execute", "CoopAccount", "execute(bytes32,bytes)",
            lambda coop, caller, ctx: [BATCH_MODE, encode(["(address,uint256,bytes)[]"], [[]])],
            "AccountUnauthorized", caller_as("sender"), target=account, setup=member_account),
        Row("CoopAccount.validateUserOp", "CoopAccount", _signature("CoopAccount", "validateUserOp"), user_op,
            "AccountUnauthorized", caller_as("sender"), target=account, setup=member_account),
        Row("CoopAccount.initialize(clone)", "CoopAccount", "initialize(address)",
            lambda coop, caller, ctx: [caller.address], "InvalidInitialization", target=account,
            setup=member_account),
        Row("CoopAccount.initialize(implementation)", "CoopAccount", "initialize(address)",
            lambda coop, caller, ctx: [caller.address], "InvalidInitialization", callers=("outsider",),
            target=implementation),
    ]


def _role_row(name: str, signature: str, args: Callable, needed: str, **kw) -> Row:
    """Refused to outsiders, members and every backend account but the role's holder."""
    kw.setdefault("callers", ("outsider", "member", *(who for who in BACKEND if who != HOLDER.get(needed))))
    return Row(f"{name}.{signature.split('(')[0]}", name, signature, args, "AccessControlUnauthorizedAccount",
               role(needed), **kw)


TABLE: list[Row] = [
    _role_row("FoodUSD", "recordDeposit(address,uint256,bytes32)",
              lambda coop, caller, ctx: [caller.address, 10**6, keccak(text="cash")], "MINTER_ROLE"),
    _role_row("FoodUSD", "recordWithdrawal(address,uint256,bytes32)",
              lambda coop, caller, ctx: [coop.members[1].address, 1, keccak(text="payout")], "BURNER_ROLE"),
    _role_row("FoodUSD", "pause()", lambda coop, caller, ctx: [], "PAUSER_ROLE"),
    _role_row("FoodUSD", "unpause()", lambda coop, caller, ctx: [], "PAUSER_ROLE"),
    _role_row("GroToken", "certify(address,bytes32,uint256,uint8)",
              lambda coop, caller, ctx: [caller.address, keccak(text="batch"), 1000, 1], "CERTIFIER_ROLE"),
    _role_row("GroToken", "setRatePerKg(uint256)", lambda coop, caller, ctx: [10**30], "DEFAULT_ADMIN_ROLE",
              callers=("outsider", "member", *BACKEND, "deployer")),
    _role_row("GroToken", "setCertificationCaps(uint256,uint256,uint32)",
              lambda coop, caller, ctx: [10**30, 10**30, 1], "DEFAULT_ADMIN_ROLE",
              callers=("outsider", "member", *BACKEND, "deployer")),
    _role_row("MemberRegistry", "addMember(address,bytes32)",
              lambda coop, caller, ctx: [caller.address, keccak(text="someone")], "REGISTRAR_ROLE"),
    _role_row("MemberRegistry", "removeMember(address)",
              lambda coop, caller, ctx: [coop.members[1].address], "REGISTRAR_ROLE"),
    _role_row("GroupBuy", "createOrder(address,bytes32,uint64,uint32,uint32,uint32,uint32,uint40)",
              lambda coop, caller, ctx: [caller.address, keccak(text="rice"), 10**6, 10, 1, 10, 1,
                                         coop.chain.now() + DAY], "ORDER_MANAGER_ROLE"),
    _role_row("GroupBuy", "cancel(uint256)", lambda coop, caller, ctx: [1], "ORDER_MANAGER_ROLE"),
    _role_row("GroupBuy", "closeEarly(uint256,address[])", lambda coop, caller, ctx: [1, []], "ORDER_MANAGER_ROLE"),
    *_uups_rows(),
    *_governance_rows(),
    *_account_rows(),
]

# Every other state-changing function, with why anyone may call it.
OPEN_TO_ANYONE: dict[str, dict[str, str]] = {
    "FoodUSD": {"approve(address,uint256)": "own-allowance", "transfer(address,uint256)": "own-balance",
                "transferFrom(address,address,uint256)": "allowance",
                "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)": "signed"},
    "GroToken": {"approve(address,uint256)": "own-allowance", "transfer(address,uint256)": "own-balance",
                 "transferFrom(address,address,uint256)": "allowance",
                 "redeem(uint256,bytes32,bytes32)": "own-balance"},
    "MemberRegistry": {},
    "GroupBuy": {"join(uint256,uint32)": "own-money",
                 "setTolerance(uint256,uint32)": "own-money", "finalize(uint256,address[])": "deadline-gated",
                 "refundStale(uint256)": "deadline-gated",
                 "claim(uint256,address)": "pays-member"},
    "VotingEscrow": {"createLock(uint256,uint256)": "own-lock", "increaseAmount(uint256)": "own-lock",
                     "extendLock(uint256)": "own-lock", "withdraw()": "own-lock", "checkpoint()": "housekeeping"},
    "CoopGovernor": {"queue(address[],uint256[],bytes[],bytes32)": "state-gated",
                     "execute(address[],uint256[],bytes[],bytes32)": "state-gated",
                     "onERC721Received(address,address,uint256,bytes)": "hook",
                     "onERC1155Received(address,address,uint256,uint256,bytes)": "hook",
                     "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)": "hook"},
    "TimelockController": {"execute(address,uint256,bytes,bytes32,bytes32)": "open-executor-role",
                           "executeBatch(address[],uint256[],bytes[],bytes32,bytes32)": "open-executor-role",
                           "onERC721Received(address,address,uint256,bytes)": "hook",
                           "onERC1155Received(address,address,uint256,uint256,bytes)": "hook",
                           "onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)": "hook"},
    "CoopAccount": {},
    "CoopAccountFactory": {"createAccount(address,uint256)": "salt-binds-signer"},
}
# EntryPoint is the stock ERC-4337 v0.8 singleton (permissionless by design) and is not covered here.

CALLERS = {"outsider": lambda coop: coop.outsider, "member": lambda coop: coop.members[0],
           "deployer": lambda coop: coop.deployer,
           **{who: lambda coop, who=who: getattr(coop.keys, who) for who in BACKEND}}

CASES = [pytest.param(row, who, id=f"{row.id}-by-{who}") for row in TABLE for who in row.callers]


@pytest.mark.parametrize(("row", "who"), CASES)
def test_restricted_function_refuses(coop, row: Row, who: str):
    caller = CALLERS[who](coop)
    ctx: Ctx = row.setup(coop, caller) if row.setup else {}
    contract = row.target(coop, ctx) if row.target else getattr(coop.contracts, ATTR[row.abi])
    ctx["contract"] = contract
    call = contract.get_function_by_signature(row.signature)(*row.args(coop, caller, ctx))
    sender = row.sender(coop, caller) if row.sender else caller
    with reverts(row.error, **row.expected(coop, caller, ctx)):
        coop.tx(call, sender)


def _state_changing(abi_name: str) -> set[str]:
    return {_abi_signature(i) for i in load_artifact(abi_name).abi
            if i.get("type") == "function" and i["stateMutability"] not in ("view", "pure")}


@pytest.mark.parametrize("name", sorted(OPEN_TO_ANYONE))
def test_table_covers_every_state_changing_function(name):
    functions = _state_changing(name)
    restricted = {row.signature for row in TABLE if row.abi == name}
    open_ = set(OPEN_TO_ANYONE[name])
    assert not restricted & open_, f"{name}: both restricted and open: {restricted & open_}"
    stale, missing = (restricted | open_) - functions, functions - restricted - open_
    assert not stale, f"{name}: listed but not in the ABI: {stale}"
    assert not missing, f"{name}: neither in the table nor open to anyone: {missing}"


def test_every_row_has_at_least_one_refused_caller_and_a_unique_id():
    ids = [f"{row.id}-by-{who}" for row in TABLE for who in row.callers]
    assert len(ids) == len(set(ids))
    assert all(row.callers for row in TABLE)


def test_each_role_holder_gets_through_its_day_to_day_functions(coop):
    """The positive control of the table: the same calls succeed for the role's holder."""
    c, member, treasurer = coop.contracts, coop.members[0], coop.treasurer
    coop.tx(c.food_usd.functions.recordDeposit(member.address, 10**6, keccak(text="cash")), treasurer)
    coop.tx(c.food_usd.functions.approve(treasurer.address, 1), member)
    coop.tx(c.food_usd.functions.recordWithdrawal(member.address, 1, keccak(text="payout")), treasurer)
    coop.tx(c.food_usd.functions.pause(), treasurer)
    coop.tx(c.food_usd.functions.unpause(), treasurer)
    coop.tx(c.gro.functions.certify(member.address, keccak(text="batch"), 1000, 1), coop.certifier)
    coop.tx(c.registry.functions.addMember(coop.outsider.address, keccak(text="someone")), coop.registrar)
    coop.tx(c.registry.functions.removeMember(coop.outsider.address), coop.registrar)
    coop.tx(c.group_buy.functions.createOrder(coop.supplier.address, keccak(text="rice"), 10**6, 10, 1, 10, 1,
                                              coop.chain.now() + DAY), treasurer)
    coop.tx(c.group_buy.functions.cancel(1), treasurer)
    coop.tx(c.group_buy.functions.createOrder(coop.supplier.address, keccak(text="rice"), 10**6, 10, 1, 10, 1,
                                              coop.chain.now() + DAY), treasurer)
    coop.tx(c.group_buy.functions.closeEarly(2, []), treasurer)
    assert c.food_usd.functions.balanceOf(member.address).call() == 10**6 - 1


# ---- who holds what after deployment ----

def _roles_declared(abi_name: str) -> list[str]:
    """The role constants `abi_name` declares (DEFAULT_ADMIN_ROLE, UPGRADER_ROLE, ...)."""
    return [i["name"] for i in load_artifact(abi_name).abi
            if i.get("type") == "function" and i["name"].endswith("_ROLE") and not i["inputs"]]


def role_holders(contract) -> dict[bytes, set[str]]:
    """Current holders of every role, replayed from all RoleGranted / RoleRevoked events since genesis."""
    logs = [(e, True) for e in contract.events.RoleGranted.get_logs(from_block=0)]
    logs += [(e, False) for e in contract.events.RoleRevoked.get_logs(from_block=0)]
    holders: dict[bytes, set[str]] = {}
    for e, granted in sorted(logs, key=lambda x: (x[0]["blockNumber"], x[0]["logIndex"])):
        members = holders.setdefault(bytes(e["args"]["role"]), set())
        (members.add if granted else members.discard)(e["args"]["account"])
    return {r: m for r, m in holders.items() if m}


def test_roles_after_deployment_belong_to_governance_and_each_to_its_holder_only(coop):
    c = coop.contracts
    timelock = c.timelock.address
    for name, attr in UPGRADEABLE.items():
        contract = getattr(c, attr)
        roles = {r: getattr(contract.functions, r)().call() for r in _roles_declared(name)}
        expected = {ADMIN: {timelock}, roles["UPGRADER_ROLE"]: {timelock}}
        expected |= {roles[r]: {getattr(coop.keys, HOLDER[r]).address} for r in DAY_TO_DAY_ROLES[name]}
        assert set(roles) == {"DEFAULT_ADMIN_ROLE", "UPGRADER_ROLE", *DAY_TO_DAY_ROLES[name]}, name
        assert role_holders(contract) == expected, name
        for r, value in roles.items():
            assert contract.functions.getRoleAdmin(value).call() == ADMIN, f"{name}.{r}"
            assert contract.functions.hasRole(value, timelock).call() == (value in (ADMIN, roles["UPGRADER_ROLE"]))
            for who in BACKEND:  # the gas payer holds nothing; the others only their own
                held = contract.functions.hasRole(value, getattr(coop.keys, who).address).call()
                assert held == (HOLDER.get(r) == who), f"{name}.{r} by the {who}"

    roles = {r: getattr(c.timelock.functions, r)().call() for r in _roles_declared("TimelockController")}
    assert role_holders(c.timelock) == {
        ADMIN: {timelock},  # the timelock administers itself; the deployer renounced
        roles["PROPOSER_ROLE"]: {c.governor.address},
        roles["CANCELLER_ROLE"]: {c.governor.address},
        roles["EXECUTOR_ROLE"]: {ZERO},  # open role: anyone executes a passed, delayed operation
    }


@pytest.mark.parametrize("who", ["deployer", "gas_payer", "guardian"])
def test_the_deployer_gas_payer_and_guardian_hold_no_role_anywhere(coop, who):
    c, account = coop.contracts, getattr(coop, who)
    for name, attr in {**UPGRADEABLE, "TimelockController": "timelock"}.items():
        contract = getattr(c, attr)
        for r in _roles_declared(name):
            value = getattr(contract.functions, r)().call()
            assert not contract.functions.hasRole(value, account.address).call(), f"{name}.{r}"
        assert all(account.address not in holders for holders in role_holders(contract).values()), name
    assert not c.registry.functions.isMember(account.address).call()
    assert c.governor.functions.timelock().call() == c.timelock.address
