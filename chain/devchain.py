"""Local development chains: py-evm in process (eth-tester), or an anvil node from contracts/node_modules."""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from chain.roles import RoleKeys

_NODE_MODULES = Path(__file__).resolve().parent.parent / "contracts" / "node_modules"
ANVIL_BIN = _NODE_MODULES / ".bin" / "anvil"
PR_SET_PDEATHSIG = 1  # prctl(2)


@dataclass
class DevChain:
    """A local chain with time control and snapshots, the same for both backends."""

    w3: Web3
    kind: str
    _advance: Callable[[int], None]
    _snapshot: Callable[[], object]
    _revert: Callable[[object], None]
    _close: Callable[[], None] = lambda: None
    _accounts_made: int = field(default=0)
    pid: int | None = None  # the node's process, when this code started one

    def now(self) -> int:
        """Timestamp of the latest block."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance(self, seconds: int) -> None:
        """Moves time forward by `seconds` and mines a block there."""
        self._advance(seconds)

    def snapshot(self) -> object:
        return self._snapshot()

    def revert(self, snapshot_id: object) -> None:
        self._revert(snapshot_id)

    def new_account(self, ether: int = 100) -> LocalAccount:
        """A fresh key with `ether` ETH for gas; keys are derived from a counter so runs repeat."""
        self._accounts_made += 1
        account = Account.from_key(keccak(text=f"coop-devchain-{self._accounts_made}"))
        if ether:
            funder = self.w3.eth.accounts[0]
            tx_hash = self.w3.eth.send_transaction({"from": funder, "to": account.address, "value": ether * 10**18})
            self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.05)
        return account

    def new_role_keys(self) -> RoleKeys:
        """A fresh funded account for each of the backend's roles (tests, benchmarks, the demo)."""
        return RoleKeys(*(self.new_account() for _ in range(4)))

    def close(self) -> None:
        self._close()


def start_tester() -> DevChain:
    """py-evm in this process through eth-tester (needs the `devchain` extra)."""
    from eth_tester import EthereumTester, PyEVMBackend

    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(Web3.EthereumTesterProvider(tester))

    def advance(seconds: int) -> None:
        tester.time_travel(tester.get_block_by_number("latest")["timestamp"] + seconds)
        tester.mine_blocks(1)

    return DevChain(w3, "tester", advance, tester.take_snapshot, tester.revert_to_snapshot)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_anvil() -> str | None:
    """The anvil binary from @foundry-rs/anvil's platform package, not the .bin/anvil node wrapper: the
    wrapper exits as soon as it has forwarded SIGTERM, so waiting on it would not wait for anvil to
    finish dumping its state file, and a quick restart would read a missing or half-written one."""
    for native in sorted(_NODE_MODULES.glob("@foundry-rs/anvil-*/bin/anvil*")):
        if os.access(native, os.X_OK):
            return str(native)
    if ANVIL_BIN.exists():
        return str(ANVIL_BIN)
    return shutil.which("anvil")


def _someone_listens(port: int) -> bool:
    # A connect, not a bind: a port whose last node just stopped stays unbindable (TIME_WAIT) without
    # SO_REUSEADDR, which anvil sets, yet nothing answers there.
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop_with(parent: int):
    """For the node's child process: SIGTERM when the thread that started it ends (Linux's parent-death signal),
    so a console killed outright (kill -9, a test's kill) still stops its node, which dumps its state as on close."""
    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)
    return arm


def start_anvil(
    anvil_bin: str | None = None,
    startup_timeout: float = 30.0,
    *,
    port: int | None = None,
    chain_id: int | None = None,
    state_path: Path | None = None,
    state_interval: int | None = None,
    preserve_historical_states: bool = False,
) -> DevChain:
    """An anvil node on loopback (a free port unless `port` is given), stopped by close(). With
    `state_path` it loads the chain from that file if it exists and dumps it there on close (SIGTERM),
    and every `state_interval` seconds too; `preserve_historical_states` keeps state at old blocks, so
    calls at a past block still work after a restart."""
    binary = anvil_bin or find_anvil()
    if binary is None:
        raise FileNotFoundError("anvil not found: run `npm ci` in contracts/")
    if port is None:
        port = _free_port()
    elif _someone_listens(port):  # else we would talk to whatever already listens there
        raise RuntimeError(f"port {port} is in use: another node is running there")
    command = [binary, "--host", "127.0.0.1", "--port", str(port), "--silent", "--hardfork", "cancun",
               "--code-size-limit", "24576"]
    if chain_id is not None:
        command += ["--chain-id", str(chain_id)]
    if state_path is not None:
        command += ["--state", str(state_path)]
        if state_interval is not None:
            command += ["--state-interval", str(state_interval)]
        if preserve_historical_states:
            command.append("--preserve-historical-states")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=_stop_with(os.getpid()) if sys.platform == "linux" else None)
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + startup_timeout
    while not w3.is_connected():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"anvil did not start on port {port}")
        time.sleep(0.1)

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    def snapshot() -> object:
        return w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(snapshot_id: object) -> None:
        w3.provider.make_request("evm_revert", [snapshot_id])

    def close() -> None:
        if process.poll() is not None:
            return
        process.terminate()  # SIGTERM: anvil dumps its state file, if it has one, before exiting
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    return DevChain(w3, "anvil", advance, snapshot, revert, close, pid=process.pid)
