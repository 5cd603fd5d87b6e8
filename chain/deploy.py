"""Deploys the co-op's whole contract system and wires its roles (governance = the timelock)."""
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from chain.transact import contract_at, deploy_contract, send

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class DeployParams:
    """Governance timing (seconds) and thresholds, and order limits; the defaults suit the pilot."""

    voting_delay: int = 24 * 3600
    voting_period: int = 7 * 24 * 3600
    timelock_delay: int = 2 * 24 * 3600
    quorum_percent: int = 10
    super_quorum_percent: int = 50
    gro_per_kg: int = 10 * 10**18
    # A building's households with room to spare; finalizing a full order stays far below a block's gas.
    max_members_per_order: int = 300


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


def _deploy_proxy(
    w3: Web3,
    name: str,
    deployer: LocalAccount,
    init_args: list[Any],
    gas_used: dict[str, int],
    constructor_args: tuple[Any, ...] = (),
) -> Contract:
    implementation, receipt = deploy_contract(w3, name, deployer, *constructor_args)
    gas_used[f"{name} implementation"] = receipt["gasUsed"]
    init_data = implementation.encode_abi("initialize", args=init_args)
    proxy, receipt = deploy_contract(w3, "ERC1967Proxy", deployer, implementation.address, init_data)
    gas_used[f"{name} proxy"] = receipt["gasUsed"]
    return contract_at(w3, name, proxy.address)


def deploy_system(
    w3: Web3, deployer: LocalAccount, operator: str, params: DeployParams = DeployParams()
) -> CoopSystem:
    """Deploys everything. `operator` is the backend's account: it registers members, records
    deposits, certifies produce and opens orders. Governance (the timelock, steered by the governor)
    holds every admin and upgrade right; the deployer keeps none."""
    gas: dict[str, int] = {}

    def deploy(name: str, *args: Any) -> Contract:
        contract, receipt = deploy_contract(w3, name, deployer, *args)
        gas[name] = receipt["gasUsed"]
        return contract

    entry_point = deploy("EntryPoint")
    account_factory = deploy("CoopAccountFactory", entry_point.address)
    timelock = deploy("TimelockController", params.timelock_delay, [], [ZERO_ADDRESS], deployer.address)
    registry = _deploy_proxy(w3, "MemberRegistry", deployer, [timelock.address, operator], gas)
    food_usd = _deploy_proxy(w3, "FoodUSD", deployer, [timelock.address, operator], gas)
    gro = _deploy_proxy(w3, "GroToken", deployer, [timelock.address, operator, params.gro_per_kg], gas)
    escrow = deploy("VotingEscrow", gro.address)
    governor = deploy(
        "CoopGovernor",
        escrow.address,
        timelock.address,
        registry.address,
        params.voting_delay,
        params.voting_period,
        params.quorum_percent,
        params.super_quorum_percent,
    )
    group_buy = _deploy_proxy(
        w3, "GroupBuy", deployer, [timelock.address, operator], gas, constructor_args=(food_usd.address, params.max_members_per_order)
    )

    roles = timelock.functions
    for role in (roles.PROPOSER_ROLE().call(), roles.CANCELLER_ROLE().call()):
        gas[f"timelock grant {role.hex()[:8]}"] = send(w3, roles.grantRole(role, governor.address), deployer)["gasUsed"]
    admin_role = roles.DEFAULT_ADMIN_ROLE().call()
    gas["timelock renounce admin"] = send(w3, roles.renounceRole(admin_role, deployer.address), deployer)["gasUsed"]

    return CoopSystem(
        registry=registry,
        food_usd=food_usd,
        gro=gro,
        escrow=escrow,
        timelock=timelock,
        governor=governor,
        group_buy=group_buy,
        entry_point=entry_point,
        account_factory=account_factory,
        gas_used=gas,
    )
