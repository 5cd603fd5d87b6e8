"""The embedded chain: an anvil node whose state lives in the data dir, with the co-op deployed on first start.

Why anvil with a state file rather than py-evm on disk: eth-tester's py-evm backend keeps the chain in
an in-memory database, and giving it a disk database means wiring py-evm's LevelDB backend (plyvel, a
C extension) under eth-tester ourselves, which neither project supports; it would also live inside one
Python process, reachable by nobody else (not a second `coop` command, not the dashboard, not a
wallet), and it is slow (seconds per deployment). anvil is a real JSON-RPC node, the one the tests can
already run against (COOP_TEST_RPC=anvil), installed by `make setup` with contracts/'s npm packages,
and it persists by itself: `--state` loads the file at start and dumps it on SIGTERM, `--state-interval`
dumps it periodically so a crash loses at most that many seconds. The dump keeps blocks, transactions,
receipts and logs, so `eth_getLogs` over blocks mined before a restart still answers (the indexer needs
that). Calls at a block before the restart fail unless `--preserve-historical-states`, which stores a
full state copy per block (anvil 1.7: ~250 kB a block with the co-op deployed, 75 MB after 300 blocks),
so it is off by default. The cost: the whole state is rewritten as JSON on each dump (~1 MB deployed,
~1.5 kB more per block), which is fine at the pilot's size.

Dev only: the deployer's, the guardian's and every role's keys are kept in plain text in the data dir.
"""
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import CoopSystem, DeployParams, StepDone, deploy, load_manifest
from chain.devchain import DevChain, start_anvil
from chain.errors import ChainError
from chain.roles import KEY_SETTINGS, RoleKeys

EMBEDDED_CHAIN_ID = 3072  # 0xC00, "coop": not anvil's default, so a manifest from another node is refused
STATE_FILE = "chain-state.json"
MANIFEST_FILE = "chain-manifest.json"
KEYS_FILE = "chain-keys.json"
PID_FILE = "anvil.pid"  # the node serving this data dir, so a restart after a crash can stop a stale one
URL_FILE = "anvil.url"  # where that node listens, for another process (a tool, a test) to reach it
STATE_INTERVAL_SECONDS = 2
# Gas money for the deployer, the guardian and each role's account, from anvil's prefunded (unlocked) first account.
FUNDING_WEI = 1_000 * 10**18


@dataclass
class EmbeddedChain:
    """The running node, the deployed co-op and the accounts that deployed and operate it."""

    chain: DevChain
    contracts: CoopSystem
    deployer: LocalAccount
    keys: RoleKeys  # one account per role, as in production (chain.roles)
    guardian: LocalAccount  # may cancel a proposal (the board's Safe in production)
    data_dir: Path
    deployed_now: bool  # True when this start deployed (or finished deploying) the system

    @property
    def w3(self) -> Web3:
        return self.chain.w3

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / MANIFEST_FILE

    def now(self) -> int:
        return self.chain.now()

    def advance(self, seconds: int) -> None:
        self.chain.advance(seconds)

    def new_account(self, ether: int = 100) -> LocalAccount:
        return self.chain.new_account(ether)

    def close(self) -> None:
        """Stops the node with SIGTERM, so it dumps its state to the data dir first."""
        self.chain.close()


def start_embedded(
    data_dir: Path,
    *,
    port: int | None = None,
    chain_id: int = EMBEDDED_CHAIN_ID,
    params: DeployParams = DeployParams(),
    state_interval: int = STATE_INTERVAL_SECONDS,
    preserve_historical_states: bool = False,
    new_key: Callable[[], bytes] = lambda: os.urandom(32),
    on_step: Callable[[StepDone], None] | None = None,
) -> EmbeddedChain:
    """Starts (or restarts) the embedded chain from `data_dir`. On the first start it deploys the co-op
    and writes the manifest there (an interrupted first deployment resumes); later starts load the
    manifest and check the code on chain against it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _stop_stale_node(data_dir)
    chain = start_anvil(port=port, chain_id=chain_id, state_path=data_dir / STATE_FILE,
                        state_interval=state_interval, preserve_historical_states=preserve_historical_states)
    (data_dir / PID_FILE).write_text(f"{chain.pid}\n")
    (data_dir / URL_FILE).write_text(f"{chain.w3.provider.endpoint_uri}\n")
    try:
        deployer, keys, guardian = _keys(data_dir / KEYS_FILE, new_key)
        manifest = data_dir / MANIFEST_FILE
        if _complete(manifest):
            contracts = load_manifest(chain.w3, manifest)
            deployed_now = False
        else:
            _fund(chain.w3, deployer.address)
            contracts = deploy(chain.w3, deployer, keys.roles(guardian.address), params, manifest, on_step)
            deployed_now = True
        for account in (*keys.accounts(), guardian):  # each pays its own gas
            _fund(chain.w3, account.address)
    except BaseException:
        chain.close()
        raise
    return EmbeddedChain(chain, contracts, deployer, keys, guardian, data_dir, deployed_now)


def _stop_stale_node(data_dir: Path, timeout: float = 15.0) -> None:
    """A node left running by a process that was killed (its parent died without stopping it) would keep
    dumping its older state over the file the new node uses: stop it first (SIGTERM: it dumps, then exits)."""
    try:
        pid = int((data_dir / PID_FILE).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return  # no record, or that process is gone
    if b"anvil" not in cmdline or str(data_dir / STATE_FILE).encode() not in cmdline:
        return  # the pid was reused by something else
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it has stopped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _complete(manifest: Path) -> bool:
    if not manifest.exists():
        return False
    try:
        return bool(json.loads(manifest.read_text()).get("complete"))
    except ValueError:
        return False  # deploy() reads it again and says what is wrong


def _keys(path: Path, new_key: Callable[[], bytes]) -> tuple[LocalAccount, RoleKeys, LocalAccount]:
    """The deployer's, each role's and the guardian's keys from the data dir, made on first use."""
    names = ("deployer", *KEY_SETTINGS, "guardian")
    if not path.exists():
        keys = {name: "0x" + new_key().hex() for name in names}
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f)
        os.replace(tmp, path)
    keys = json.loads(path.read_text())
    if "operator" in keys:  # its contracts gave every right to one account, and nobody can split them now
        raise ChainError(f"the embedded chain in {path.parent} was deployed with one operator key for every role; "
                         "remove the data dir holding it (chain and database) to start afresh with one key per role")
    accounts = {name: Account.from_key(keys[name]) for name in names}
    return accounts["deployer"], RoleKeys(**{role: accounts[role] for role in KEY_SETTINGS}), accounts["guardian"]


def _fund(w3: Web3, address: str) -> None:
    if w3.eth.get_balance(address) >= FUNDING_WEI // 2:
        return
    tx_hash = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": address, "value": FUNDING_WEI})
    w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.05)
