"""Drives `coop console --jsonl` as a subprocess: send protocol lines, wait for the replies."""
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3

from chain import send
from chain.deploy import load_manifest
from chain.embedded import KEYS_FILE, MANIFEST_FILE, URL_FILE
from handlers.neworder import product_and_numbers
from locales import Translator

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400
# Tests step the chain's clock past deadlines; the keepers look this often (default 30 s).
KEEPER_INTERVAL = "0.3"


class Console:
    def __init__(self, data_dir: Path, admins: tuple[str, ...] = ("admin",), env: dict | None = None):
        command = [sys.executable, "-m", "bot.cli", "console", "--jsonl", "--data-dir", str(data_dir)]
        for admin in admins:
            command += ["--admin", admin]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                        env={**os.environ, "COOP_KEEPER_INTERVAL": KEEPER_INTERVAL,
                                             **(env or {})})
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self.seen: list[dict] = []  # every reply so far, in order
        self._taken: set[int] = set()  # indexes into seen of replies an expect returned
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, **message) -> None:
        self.process.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.process.stdin.flush()

    def expect(self, to: str, contains: str = "", timeout: float = 60.0) -> dict:
        """The next reply to `to` whose text contains `contains` (replies to others are kept in `seen`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"console exited; stderr:\n{''.join(self.stderr)[-3000:]}")
            reply = json.loads(line)  # every stdout line must be protocol JSON
            self.seen.append(reply)
            if reply["to"] == to and contains in reply["text"]:
                self._taken.add(len(self.seen) - 1)
                return reply
        raise AssertionError(f"no reply to {to} containing {contains!r}; seen {self.seen[-5:]}\n"
                             f"stderr:\n{''.join(self.stderr)[-3000:]}")

    def heard(self, to: str, contains: str, timeout: float = 60.0) -> dict:
        """Like expect, for a message pushed at its own time (an announcement): it may have arrived while
        the test waited for another reply."""
        for index, reply in enumerate(self.seen):
            if index not in self._taken and reply["to"] == to and contains in reply["text"]:
                self._taken.add(index)
                return reply
        return self.expect(to, contains, timeout)

    def close(self, timeout: float = 120.0) -> int:
        self.process.stdin.close()
        code = self.process.wait(timeout=timeout)
        return code

    def rest(self) -> list[dict]:
        """Replies written after the last expect (call after close)."""
        out = []
        while (line := self.lines.get(timeout=5)) is not None:
            out.append(json.loads(line))
        return out


def button(reply: dict, index: int) -> str:
    return [b for row in reply["buttons"] for b in row][index]["data"]


def open_order(console: Console, text: str, who: str = "admin", lang: str = "en") -> dict:
    """Sends `text` (a /neworder) as admin `who`, who speaks `lang`, and confirms its summary, which it returns; the
    order's number is told when it is open (to `who` and the group: "Order #1 is open")."""
    console.send(**{"from": who, "text": text})
    summary = console.expect(who, product_and_numbers(text.split()[1:], lang)[0])
    assert [b["data"][:3] for row in summary["buttons"] for b in row] == ["ok:", "no:"], summary
    console.send(**{"from": who, "press": button(summary, 0)})
    console.expect(who, Translator(lang).t("On its way. I will tell you when it is done."))
    return summary


class Chain:
    """The console's embedded chain, seen from the test (its node's URL and keys are in the data dir)."""

    def __init__(self, data_dir: Path):
        chain_dir = data_dir / "chain"
        self.w3 = Web3(Web3.HTTPProvider((chain_dir / URL_FILE).read_text().strip()))
        self.contracts = load_manifest(self.w3, chain_dir / MANIFEST_FILE)
        self.keys = json.loads((chain_dir / KEYS_FILE).read_text())  # the embedded chain's, by role
        self.db = data_dir / "coop.db"

    def account(self, handle: str) -> str:
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT a.address FROM chain_accounts a JOIN bot_members m ON m.member_id = a.member_id "
                              "WHERE m.handle = ?", (handle,)).fetchone()[0]

    def wait_member(self, address: str) -> None:
        deadline = time.monotonic() + 30
        while not self.contracts.registry.functions.isMember(address).call():
            assert time.monotonic() < deadline, "registration did not happen"
            time.sleep(0.1)

    def certify(self, address: str, batch: str, grams: int) -> None:
        """GRO for a batch of produce (10 GRO a kilogram)."""
        send(self.w3, self.contracts.gro.functions.certify(address, Web3.keccak(text=batch), grams, 1),
             Account.from_key(self.keys["certifier"]))

    def registrar_may_register(self, allowed: bool) -> None:
        """The co-op's governance (the timelock, impersonated) grants or revokes the registrar's role."""
        registry = self.contracts.registry
        role = registry.functions.REGISTRAR_ROLE().call()
        registrar = Account.from_key(self.keys["registrar"]).address
        change = registry.functions.grantRole if allowed else registry.functions.revokeRole
        self._as_governance(change(role, registrar))

    def register_by_hand(self, address: str) -> None:
        """The account is made a member on chain past the assistant (the timelock, taking the registrar's role)."""
        registry, timelock = self.contracts.registry, self.contracts.timelock.address
        self._as_governance(registry.functions.grantRole(registry.functions.REGISTRAR_ROLE().call(), timelock))
        self._as_governance(registry.functions.addMember(address, Web3.keccak(text=f"by hand {address}")))

    def _as_governance(self, call) -> None:
        timelock = self.contracts.timelock.address
        self.w3.provider.make_request("anvil_impersonateAccount", [timelock])
        self.w3.provider.make_request("anvil_setBalance", [timelock, hex(10**18)])
        self.w3.eth.wait_for_transaction_receipt(call.transact({"from": timelock}))
        self.w3.provider.make_request("anvil_stopImpersonatingAccount", [timelock])

    def advance(self, seconds: int) -> None:
        """The chain's clock jumps ahead (a block is mined at the new time)."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])
