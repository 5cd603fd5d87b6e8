"""Shared fixtures: one dev chain and one deployed co-op per session, rolled back after every test.

COOP_TEST_RPC=anvil runs the same tests against an anvil node instead of py-evm in process.
"""
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain import CoopSystem, DeployParams, DevChain, deploy_system, send, start_anvil, start_tester

FUSD = 10**6
GRO = 10**18
DAY = 24 * 3600
WEEK = 7 * DAY
TEST_PARAMS = DeployParams(voting_delay=60, voting_period=3 * DAY, timelock_delay=DAY, quorum_percent=10,
                           guardian_window=2 * DAY)


@dataclass
class Coop:
    """The deployed system and the people who use it."""

    chain: DevChain
    contracts: CoopSystem
    deployer: LocalAccount
    operator: LocalAccount  # the backend: registrar, minter, certifier, order manager
    supplier: LocalAccount
    outsider: LocalAccount  # not a member, holds no role
    members: list[LocalAccount]

    @property
    def w3(self):
        return self.chain.w3

    def tx(self, call, sender: LocalAccount, **kwargs):
        return send(self.chain.w3, call, sender, **kwargs)

    def deposit(self, member: LocalAccount, amount: int) -> None:
        """Records a cash deposit: mints `amount` FUSD minor units to `member`."""
        ref = keccak(text=f"deposit-{member.address}-{amount}-{self.chain.now()}-{os.urandom(4).hex()}")
        self.tx(self.contracts.food_usd.functions.recordDeposit(member.address, amount, ref), self.operator)

    def certify(self, member: LocalAccount, grams: int) -> int:
        """Certifies a batch of `grams` for `member`; returns the GRO minted."""
        gro = self.contracts.gro.functions
        before = gro.balanceOf(member.address).call()
        self.tx(gro.certify(member.address, os.urandom(32), grams, 1), self.operator)
        return gro.balanceOf(member.address).call() - before


@pytest.fixture(scope="session")
def chain() -> Iterator[DevChain]:
    backend = os.environ.get("COOP_TEST_RPC", "tester")
    dev = start_anvil() if backend == "anvil" else start_tester()
    yield dev
    dev.close()


@pytest.fixture(scope="session")
def deployed(chain: DevChain) -> Coop:
    deployer, operator, supplier, outsider = (chain.new_account() for _ in range(4))
    members = [chain.new_account() for _ in range(6)]
    contracts = deploy_system(chain.w3, deployer, operator.address, TEST_PARAMS)
    coop = Coop(chain, contracts, deployer, operator, supplier, outsider, members)
    for i, member in enumerate(members):
        coop.tx(contracts.registry.functions.addMember(member.address, keccak(text=f"resident-{i}")), operator)
    return coop


@pytest.fixture
def coop(deployed: Coop) -> Iterator[Coop]:
    """The deployed co-op, with every change a test makes rolled back afterwards."""
    snapshot = deployed.chain.snapshot()
    yield deployed
    deployed.chain.revert(snapshot)
