"""Everything EVM: contract artifacts, deployment, dev chains, transactions and revert decoding.

Never imports bot/ or handlers/.
"""
from chain.artifacts import Artifact, load_artifact
from chain.deploy import CoopSystem, DeployParams, deploy_system
from chain.devchain import DevChain, start_anvil, start_tester
from chain.errors import ChainError, ContractReverted
from chain.transact import deploy_contract, send

__all__ = [
    "Artifact",
    "ChainError",
    "ContractReverted",
    "CoopSystem",
    "DeployParams",
    "DevChain",
    "deploy_contract",
    "deploy_system",
    "load_artifact",
    "send",
    "start_anvil",
    "start_tester",
]
