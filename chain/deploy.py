"""Deploys the co-op's contract system as named steps, resumable from a manifest that records each one."""
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.transactions import fill_transaction_defaults
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.types import TxReceipt

from chain.artifacts import load_artifact
from chain.errors import ChainError
from chain.transact import contract_at, send

ZERO_ADDRESS = "0x" + "00" * 20
MANIFEST_VERSION = 2  # 2: the role holders (`roles`) instead of one `operator`
# ERC-1967: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC

# The deterministic deployment proxy (github.com/Arachnid/deterministic-deployment-proxy): CREATE2 with
# calldata `salt ‖ initcode`. Public chains and anvil have it; elsewhere its presigned, chain-less (pre-EIP-155)
# transaction puts it there once its one-off sender holds the 0.01 ETH of gas it pays.
CREATE2_PROXY = "0x4e59b44847b379578588920cA78FbF26c0B4956C"
_PROXY_SENDER = "0x3fAB184622Dc19b6109349B94811493BF2a45362"
_PROXY_GAS_COST = 100_000 * 100 * 10**9
_PROXY_DEPLOYMENT = bytes.fromhex(
    "f8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba0222222222"
    "2222222222222222222222222222222222222222222222222222222a0222222222222222222222222222222222222222222222222222"
    "2222222222222")
# EntryPoint v0.8.0 as the ERC-4337 team deploys it: the package's own build (contracts/artifacts/EntryPoint.json
# is that file) through the proxy with this salt. Bundlers know v0.8 by this address, and hash its operations
# the v0.8 way only there.
ENTRY_POINT_SALT = bytes.fromhex("0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9")
ENTRY_POINT_ADDRESS = "0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"


class DeploymentError(ChainError):
    """A deployment cannot go on as asked (a manifest for other parameters, a deployer that sent elsewhere…)."""


class ManifestMismatch(DeploymentError):
    """What is on chain is not what the manifest says was deployed: wrong chain, or other code at an address."""


@dataclass(frozen=True)
class DeployParams:
    """Governance timing (seconds) and thresholds, and order limits; the defaults suit the pilot."""

    voting_delay: int = 24 * 3600
    voting_period: int = 7 * 24 * 3600
    timelock_delay: int = 2 * 24 * 3600
    quorum_percent: int = 10
    # After its deadline, how long a passed proposal with a privileged action (a role, an upgrade, a
    # governance setting) waits before it can be queued: the guardian's time to cancel it.
    guardian_window: int = 5 * 24 * 3600
    gro_per_kg: int = 10 * 10**18
    # Certification caps (GRO, 18 decimals), which governance can change: one batch earns at most 500 GRO
    # (50 kg at 10 GRO/kg, more than a grow room's weekly harvest), and all batches of 7 days together at
    # most 2,000 GRO (200 kg). A certifier key misused for a week mints at most 2,000 GRO, a fraction of
    # what the members lock, and the week's events show it.
    gro_max_per_batch: int = 500 * 10**18
    gro_max_per_period: int = 2_000 * 10**18
    gro_cap_period: int = 7 * 24 * 3600
    # A building's households with room to spare; finalizing a full order stays far below a block's gas.
    max_members_per_order: int = 300


@dataclass(frozen=True)
class Roles:
    """Who holds each day-to-day right (addresses; docs/chain.md, "Roles and keys"). The backend signs as the
    first three; the guardian (the board's Safe) may cancel a proposal. The timelock keeps every admin and
    upgrade right, and the gas payer needs none."""

    registrar: str  # MemberRegistry REGISTRAR_ROLE: adds and removes members
    certifier: str  # GroToken CERTIFIER_ROLE: certifies produce, minting GRO
    treasurer: str  # FoodUSD MINTER, BURNER and PAUSER roles (cash in and out), GroupBuy ORDER_MANAGER_ROLE
    guardian: str  # may cancel a proposal: the board's Safe, a cold key

    def checked(self) -> "Roles":
        """The same roles with checksummed addresses; a ValueError names a role that is not an address (the
        zero address included: nobody holds its key)."""
        found = {}
        for name, address in asdict(self).items():
            if not Web3.is_address(address) or int(address, 16) == 0:
                raise ValueError(f"the {name} {address!r} is not an address")
            found[name] = Web3.to_checksum_address(address)
        return Roles(**found)


@dataclass
class CoopSystem:
    """The deployed contracts (web3 Contract objects bound to proxy addresses) and deployment gas."""

    registry: Contract
    food_usd: Contract
    gro: Contract
    escrow: Contract
    timelock: Contract
    governor: Contract
    group_buy: Contract
    entry_point: Contract
    account_factory: Contract
    gas_used: dict[str, int] = field(default_factory=dict)

    @property
    def total_gas(self) -> int:
        return sum(self.gas_used.values())


@dataclass(frozen=True)
class StepDone:
    """One finished step, as reported to the progress callback."""

    index: int  # 1-based
    total: int
    name: str
    tx_hash: str | None  # None for a deterministic deployment the chain already had
    block: int | None
    address: str | None  # the contract created, if the step created one
    resumed: bool  # done by an earlier run, read back from the manifest


@dataclass
class _Context:
    """What a step needs to build its transaction: the accounts, the parameters, earlier steps' addresses."""

    w3: Web3
    deployer: LocalAccount
    roles: Roles
    params: DeployParams
    addresses: dict[str, str]

    def constructor(self, artifact: str, *args: Any) -> ContractConstructor:
        a = load_artifact(artifact)
        return self.w3.eth.contract(abi=a.abi, bytecode=a.bytecode).constructor(*args)

    def at(self, step: str, artifact: str | None = None) -> Contract:
        return contract_at(self.w3, artifact or step, self.addresses[step])


@dataclass(frozen=True)
class _Create2:
    """A deployment through the deterministic deployment proxy, built like a contract call for `send`."""

    w3: Web3
    salt: bytes
    initcode: bytes

    def build_transaction(self, params: dict[str, Any]) -> dict[str, Any]:
        return fill_transaction_defaults(self.w3, {**params, "to": CREATE2_PROXY, "data": self.salt + self.initcode})


@dataclass(frozen=True)
class _Step:
    name: str
    creates: str | None  # the artifact of the contract the step creates; None for a call
    build: Callable[[_Context], ContractConstructor | ContractFunction | _Create2]
    at: str | None = None  # where a deterministic deployment puts it: reused, not sent, where code is there


def create2_address(salt: bytes, initcode: bytes) -> str:
    """Where the deterministic deployment proxy puts `initcode` deployed with `salt`."""
    return Web3.to_checksum_address(keccak(b"\xff" + bytes.fromhex(CREATE2_PROXY[2:]) + salt + keccak(initcode))[12:])


def ensure_create2_proxy(w3: Web3, funder: LocalAccount) -> None:
    """Puts the deterministic deployment proxy on a chain that lacks it (py-evm; anvil and public chains have
    it): `funder` pays its one-off sender the gas, then its presigned transaction is sent as it is."""
    if w3.eth.get_code(CREATE2_PROXY):
        return
    short = _PROXY_GAS_COST - w3.eth.get_balance(_PROXY_SENDER)
    if short > 0:
        signed = funder.sign_transaction({
            "to": _PROXY_SENDER, "value": short, "gas": 21_000, "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(funder.address, "pending"),
            "maxFeePerGas": w3.eth.gas_price * 2, "maxPriorityFeePerGas": min(w3.eth.gas_price, 10**9)})
        w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), poll_latency=0.05)
    try:
        tx_hash = w3.eth.send_raw_transaction(_PROXY_DEPLOYMENT)
    except Exception as e:  # a node that takes only EIP-155 transactions
        raise DeploymentError(f"this chain has no deterministic deployment proxy at {CREATE2_PROXY} and the node "
                              f"refused its presigned deployment ({e}); deploy it there first") from None
    w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.05)
    if not w3.eth.get_code(CREATE2_PROXY):
        raise DeploymentError(f"the deterministic deployment proxy did not appear at {CREATE2_PROXY}")


def _entry_point(c: _Context) -> _Create2:
    return _Create2(c.w3, ENTRY_POINT_SALT, bytes(HexBytes(load_artifact("EntryPoint").bytecode)))


def _proxied(name: str, init_args: Callable[[_Context], list[Any]],
             constructor_args: Callable[[_Context], tuple[Any, ...]] = lambda c: ()) -> list[_Step]:
    """An implementation, then an ERC1967Proxy that points at it and calls initialize(init_args)."""

    def proxy(c: _Context) -> ContractConstructor:
        implementation = c.at(f"{name} implementation", name)
        return c.constructor("ERC1967Proxy", implementation.address,
                             implementation.encode_abi("initialize", args=init_args(c)))

    return [
        _Step(f"{name} implementation", name, lambda c: c.constructor(name, *constructor_args(c))),
        _Step(f"{name} proxy", "ERC1967Proxy", proxy),
    ]


def _timelock_role(role: str, holder: Callable[[_Context], str], grant: bool = True) -> Callable[[_Context], ContractFunction]:
    def build(c: _Context) -> ContractFunction:
        roles = c.at("TimelockController").functions
        role_id = getattr(roles, role)().call()
        return roles.grantRole(role_id, holder(c)) if grant else roles.renounceRole(role_id, holder(c))
    return build


def _steps() -> list[_Step]:
    """The whole deployment. Governance (the timelock, steered by the governor) ends up with every admin
    and upgrade right; the deployer keeps none. Each step is exactly one transaction from the deployer,
    which is what lets a re-run tell a mined-but-unrecorded step by the deployer's nonce."""
    timelock = lambda c: c.addresses["TimelockController"]  # noqa: E731
    return [
        _Step("EntryPoint", "EntryPoint", _entry_point, at=ENTRY_POINT_ADDRESS),
        _Step("CoopAccountFactory", "CoopAccountFactory",
              lambda c: c.constructor("CoopAccountFactory", c.addresses["EntryPoint"])),
        _Step("TimelockController", "TimelockController",
              lambda c: c.constructor("TimelockController", c.params.timelock_delay, [], [ZERO_ADDRESS],
                                      c.deployer.address)),
        *_proxied("MemberRegistry", lambda c: [timelock(c), c.roles.registrar]),
        *_proxied("FoodUSD", lambda c: [timelock(c), c.roles.treasurer]),
        *_proxied("GroToken", lambda c: [timelock(c), c.roles.certifier, c.params.gro_per_kg,
                                         c.params.gro_max_per_batch, c.params.gro_max_per_period,
                                         c.params.gro_cap_period]),
        _Step("VotingEscrow", "VotingEscrow", lambda c: c.constructor("VotingEscrow", c.addresses["GroToken proxy"])),
        _Step("CoopGovernor", "CoopGovernor", lambda c: c.constructor(
            "CoopGovernor", c.addresses["VotingEscrow"], timelock(c), c.addresses["MemberRegistry proxy"],
            c.params.voting_delay, c.params.voting_period, c.params.quorum_percent, c.roles.guardian,
            c.params.guardian_window)),
        *_proxied("GroupBuy", lambda c: [timelock(c), c.roles.treasurer],
                  lambda c: (c.addresses["FoodUSD proxy"], c.addresses["MemberRegistry proxy"],
                             c.params.max_members_per_order)),
        _Step("Timelock: proposer role to the governor", None,
              _timelock_role("PROPOSER_ROLE", lambda c: c.addresses["CoopGovernor"])),
        _Step("Timelock: canceller role to the governor", None,
              _timelock_role("CANCELLER_ROLE", lambda c: c.addresses["CoopGovernor"])),
        _Step("Timelock: deployer renounces admin", None,
              _timelock_role("DEFAULT_ADMIN_ROLE", lambda c: c.deployer.address, grant=False)),
    ]


# CoopSystem attribute -> (artifact whose ABI it uses, step that created it, whether it is a proxy)
_SYSTEM: dict[str, tuple[str, str, bool]] = {
    "registry": ("MemberRegistry", "MemberRegistry proxy", True),
    "food_usd": ("FoodUSD", "FoodUSD proxy", True),
    "gro": ("GroToken", "GroToken proxy", True),
    "escrow": ("VotingEscrow", "VotingEscrow", False),
    "timelock": ("TimelockController", "TimelockController", False),
    "governor": ("CoopGovernor", "CoopGovernor", False),
    "group_buy": ("GroupBuy", "GroupBuy proxy", True),
    "entry_point": ("EntryPoint", "EntryPoint", False),
    "account_factory": ("CoopAccountFactory", "CoopAccountFactory", False),
}


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    roles: Roles,
    params: DeployParams = DeployParams(),
    manifest_path: Path | None = None,
    on_step: Callable[[StepDone], None] | None = None,
) -> CoopSystem:
    """Runs the deployment's steps, writing the manifest at `manifest_path` after every one, so that a
    re-run after a crash resumes after the last step done (one mined but not yet recorded is found by
    the deployer's nonce and recorded, never sent again). `roles` says who gets each day-to-day right;
    the manifest records them; `roles.guardian` (the co-op board's Safe) may cancel any proposal. The
    deployer key must send nothing else until the deployment is complete."""
    roles = roles.checked()
    chain_id = w3.eth.chain_id
    if manifest_path is not None and manifest_path.exists():
        manifest = _read(manifest_path)
        _check_resumable(manifest, chain_id, deployer.address, roles, params)
    else:
        ensure_create2_proxy(w3, deployer)  # before the deployer's first nonce is recorded: it may pay for it
        manifest = {
            "version": MANIFEST_VERSION,
            "chain_id": chain_id,
            "deployer": deployer.address,
            "roles": asdict(roles),
            "params": asdict(params),
            "start_block": w3.eth.block_number,
            "next_nonce": w3.eth.get_transaction_count(deployer.address, "latest"),
            "complete": False,
            "steps": [],
        }
    steps = _steps()
    done: list[dict[str, Any]] = manifest["steps"]
    context = _Context(w3, deployer, roles, params, {s["name"]: s["address"] for s in done if s.get("address")})
    for i, step in enumerate(steps):
        resumed = i < len(done)
        if resumed:
            if done[i]["name"] != step.name:
                raise DeploymentError(f"manifest step {i + 1} is {done[i]['name']!r}, expected {step.name!r}")
            record = done[i]
        else:
            record = _run(step, context, manifest)
            done.append(record)
            if record.get("address"):
                context.addresses[step.name] = record["address"]
            manifest["complete"] = len(done) == len(steps)
            _refresh_contracts(manifest)
            if manifest_path is not None:
                _write(manifest_path, manifest)
        if on_step is not None:
            on_step(StepDone(i + 1, len(steps), step.name, record["tx_hash"], record["block"],
                             record.get("address"), resumed))
    return _system(w3, manifest)


def deploy_system(
    w3: Web3, deployer: LocalAccount, roles: Roles, params: DeployParams = DeployParams()
) -> CoopSystem:
    """Deploys everything in one go, without a manifest (tests, benchmarks, the demo)."""
    return deploy(w3, deployer, roles, params)


def _run(step: _Step, context: _Context, manifest: dict[str, Any]) -> dict[str, Any]:
    """Does one step, or recognises that its transaction was already mined; returns its record."""
    w3, deployer = context.w3, context.deployer
    nonce = manifest["next_nonce"]
    mined = _settled_nonce(w3, deployer.address)
    if mined == nonce and step.at is not None and w3.eth.get_code(step.at):
        return _reused(step, w3)
    if mined == nonce:
        receipt = send(w3, step.build(context), deployer)
    elif mined == nonce + 1:
        receipt = _find_mined(w3, deployer.address, nonce, manifest)
    else:
        raise DeploymentError(
            f"the deployer {deployer.address} has nonce {mined} but the manifest expects {nonce}: "
            "it sent transactions outside this deployment, so steps cannot be matched to them")
    record: dict[str, Any] = {
        "name": step.name,
        "nonce": nonce,
        "tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
        "block": receipt["blockNumber"],
        "gas_used": receipt["gasUsed"],
    }
    if step.creates is not None:
        address = step.at or receipt["contractAddress"]
        record.update(artifact=step.creates, address=address,
                      code_hash=HexBytes(keccak(w3.eth.get_code(address))).to_0x_hex())
    manifest["next_nonce"] = nonce + 1
    return record


def _reused(step: _Step, w3: Web3) -> dict[str, Any]:
    """The record of a deterministic deployment the chain already has (every public chain has the EntryPoint):
    no transaction, so no nonce; the code is checked like the rest when the manifest is loaded."""
    code = bytes(w3.eth.get_code(step.at))
    if not code_matches_artifact(code, load_artifact(step.creates).deployed_bytecode):
        raise ManifestMismatch(f"{step.name}: the code at {step.at} is not {step.creates} as built in "
                               "contracts/artifacts")
    return {"name": step.name, "reused": True, "tx_hash": None, "block": None, "gas_used": 0,
            "artifact": step.creates, "address": step.at, "code_hash": HexBytes(keccak(code)).to_0x_hex()}


def _settled_nonce(w3: Web3, address: str, timeout: float = 60.0) -> int:
    """The deployer's mined nonce once nothing of theirs is waiting in the pool."""
    deadline = time.monotonic() + timeout
    while True:
        mined = w3.eth.get_transaction_count(address, "latest")
        if w3.eth.get_transaction_count(address, "pending") == mined:
            return mined
        if time.monotonic() > deadline:
            raise DeploymentError(f"a transaction from the deployer {address} stayed pending for {timeout:.0f}s")
        time.sleep(0.2)


def _find_mined(w3: Web3, sender: str, nonce: int, manifest: dict[str, Any]) -> TxReceipt:
    """The receipt of `sender`'s transaction with `nonce`, mined after the last recorded step."""
    steps = manifest["steps"]
    first = next((s["block"] for s in reversed(steps) if s["block"] is not None), manifest["start_block"])
    for number in range(w3.eth.block_number, first - 1, -1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == sender and tx["nonce"] == nonce:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                if receipt["status"] != 1:
                    raise DeploymentError(f"the step's transaction {tx['hash'].hex()} failed on chain; "
                                          "look at it before re-running")
                return receipt
    raise DeploymentError(f"no transaction from {sender} with nonce {nonce} since block {first}")


def _check_resumable(manifest: dict[str, Any], chain_id: int, deployer: str, roles: Roles,
                     params: DeployParams) -> None:
    if manifest.get("version") != MANIFEST_VERSION:
        raise DeploymentError(f"manifest version {manifest.get('version')!r}, this code writes {MANIFEST_VERSION}")
    if manifest["chain_id"] != chain_id:
        raise ManifestMismatch(f"the manifest is for chain id {manifest['chain_id']}, the node's is {chain_id}")
    for what, ours, theirs in (("deployer", deployer, manifest["deployer"]),
                               ("roles", asdict(roles), manifest["roles"]),
                               ("params", asdict(params), manifest["params"])):
        if ours != theirs:
            raise DeploymentError(f"the manifest was started with {what} {theirs}, not {ours}")


def _refresh_contracts(manifest: dict[str, Any]) -> None:
    """The readers' view of the steps: per contract its address, block, transaction and code hash."""
    by_step = {s["name"]: s for s in manifest["steps"]}
    contracts: dict[str, Any] = {}
    for key, (artifact, step_name, proxied) in _SYSTEM.items():
        step = by_step.get(step_name)
        if step is None:
            continue
        entry = {k: step[k] for k in ("address", "block", "tx_hash", "code_hash")}
        entry["artifact"] = artifact
        if proxied:
            impl = by_step[f"{artifact} implementation"]
            entry["implementation"] = {k: impl[k] for k in ("address", "block", "tx_hash", "code_hash")}
        contracts[key] = entry
    manifest["contracts"] = contracts
    manifest["entry_point"] = contracts.get("entry_point", {}).get("address")
    manifest["factory"] = contracts.get("account_factory", {}).get("address")


def _system(w3: Web3, manifest: dict[str, Any]) -> CoopSystem:
    contracts = {key: contract_at(w3, artifact, manifest["contracts"][key]["address"])
                 for key, (artifact, _, _) in _SYSTEM.items()}
    return CoopSystem(**contracts, gas_used={s["name"]: s["gas_used"] for s in manifest["steps"]})


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DeploymentError(f"cannot read the manifest {path}: {e}") from e


def _write(path: Path, manifest: dict[str, Any]) -> None:
    """Replaces the manifest whole, so a crash leaves the old one or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_manifest(w3: Web3, path: Path) -> CoopSystem:
    """The system a complete manifest describes, after checking the chain id and that the code at every
    address is the code the artifacts give (for proxies: the proxy's, and the implementation slot's)."""
    manifest = _read(path)
    if not manifest.get("complete"):
        raise DeploymentError(f"the deployment in {path} is not complete: run `coop deploy` again to resume it")
    chain_id = w3.eth.chain_id
    if manifest["chain_id"] != chain_id:
        raise ManifestMismatch(f"the manifest {path} is for chain id {manifest['chain_id']}, the node's is {chain_id}")
    for key, entry in manifest["contracts"].items():
        if "implementation" in entry:
            _verify_code(w3, entry["address"], "ERC1967Proxy", entry["code_hash"], key)
            slot = w3.eth.get_storage_at(entry["address"], IMPLEMENTATION_SLOT)
            implementation = Web3.to_checksum_address(slot[-20:])
            # An upgrade through governance moves the slot; then the recorded hash no longer applies.
            recorded = entry["implementation"]
            same = implementation == recorded["address"]
            _verify_code(w3, implementation, entry["artifact"], recorded["code_hash"] if same else None,
                         f"{key} implementation")
        else:
            _verify_code(w3, entry["address"], entry["artifact"], entry["code_hash"], key)
    return _system(w3, manifest)


def _verify_code(w3: Web3, address: str, artifact: str, code_hash: str | None, what: str) -> None:
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    if not code:
        raise ManifestMismatch(f"{what}: no code at {address}")
    if code_hash is not None and HexBytes(keccak(code)).to_0x_hex() != code_hash:
        raise ManifestMismatch(f"{what}: the code at {address} is not the code recorded at deployment")
    if not code_matches_artifact(code, load_artifact(artifact).deployed_bytecode):
        raise ManifestMismatch(f"{what}: the code at {address} is not {artifact} as built in contracts/artifacts")


def code_matches_artifact(code: bytes, deployed_bytecode: str) -> bool:
    """Whether runtime `code` is the artifact's, apart from immutables. The build does not output solc's
    immutableReferences, but solc leaves each immutable as a PUSH32 of zeros in deployedBytecode, so
    those 32-byte immediates are masked in both before comparing."""
    reference = bytes(HexBytes(deployed_bytecode))
    if len(code) != len(reference):
        return False
    masked_code, masked_reference = bytearray(code), bytearray(reference)
    i = 0
    while i < len(reference):
        op = reference[i]
        width = op - 0x5F if 0x60 <= op <= 0x7F else 0
        if op == 0x7F and reference[i + 1:i + 33] == bytes(32):
            masked_code[i + 1:i + 33] = bytes(32)
        i += 1 + width
    return masked_code == masked_reference
