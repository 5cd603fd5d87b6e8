"""Everything EVM: contract artifacts, deployment, dev chains, transactions and revert decoding, and the
chain gateway (keystore, smart accounts, the outbox of intents, bundling, the event indexer).

Never imports bot/ or handlers/.
"""
from chain.artifacts import Artifact, load_artifact
from chain.bundler_client import BundlerClient
from chain.deploy import CoopSystem, DeployParams, deploy_system
from chain.devchain import DevChain, start_anvil, start_tester
from chain.errors import ChainError, ContractReverted
from chain.indexer import Indexer
from chain.keystore import Keystore, MasterKeyError
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.transact import deploy_contract, send

__all__ = [
    "Artifact",
    "BundlerClient",
    "Indexer",
    "Keystore",
    "MasterKeyError",
    "Outbox",
    "Worker",
    "WorkerOptions",
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
