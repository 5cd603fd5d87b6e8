"""Pimlico's Alto (npm @pimlico/alto, installed in alto/ by `make setup`), a public ERC-4337 bundler, started
on a local node for the tests and figures that send member operations through a real one."""
import json
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from chain.deploy import ENTRY_POINT_ADDRESS

ALTO_BIN = Path(__file__).resolve().parents[2] / "alto" / "node_modules" / ".bin" / "alto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alto_or_skip() -> None:
    """Skips the calling test without Alto installed; under CI=true (where `make test` installs it) fails."""
    if not ALTO_BIN.exists():
        message = f"Alto is not installed at {ALTO_BIN}: run `make setup`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class Alto:
    """One Alto process bundling for the canonical EntryPoint v0.8 on the node at `rpc_url`; its executor and
    utility accounts are fresh keys funded from the node's first unlocked account."""

    def __init__(self, w3: Web3, port: int | None = None, log: Path | None = None):
        self.w3 = w3
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.executor, self.utility = Account.create(), Account.create()
        for account in (self.executor, self.utility):
            w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
                {"from": w3.eth.accounts[0], "to": account.address, "value": 100 * 10**18}))
        self._log = open(log, "ab") if log else subprocess.DEVNULL
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "Alto":
        self.process = subprocess.Popen(
            [str(ALTO_BIN), "--entrypoints", ENTRY_POINT_ADDRESS, "--rpc-url", self.w3.provider.endpoint_uri,
             "--port", str(self.port), "--executor-private-keys", self.executor.key.to_0x_hex(),
             "--utility-private-key", self.utility.key.to_0x_hex(),
             # anvil has no debug_traceCall tracer for the opcode rules; the rest of validation still runs
             "--safe-mode", "false", "--min-bundle-interval", "20", "--max-bundle-interval", "100",
             "--block-time", "100", "--block-number-cache-ttl", "100", "--log-level", "warn",
             "--enable-debug-endpoints", "true"],  # debug_bundler_setBundlingMode: the replacement test's
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                                    "params": []}, timeout=2).json()
                if "result" in answer:
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Alto did not start on port {self.port}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class BundlerProxy:
    """Stands between the assistant and the bundler on a port of its own, counting the requests by method, and
    on demand playing a bundler that is away (HTTP 503) or one whose estimates are wrong (a verificationGasLimit
    far too low: the bundler itself then refuses the operations signed with it, AA26)."""

    def __init__(self, upstream: str, port: int | None = None):
        self.upstream = upstream
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.counts: Counter[str] = Counter()
        self.away = False
        self.wrong_estimates = False
        self.sent: list[dict] = []  # the operations handed over (eth_sendUserOperation)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.counts[body.get("method")] += 1
                if proxy.away:
                    self.send_response(503)
                    self.end_headers()
                    return
                answer = httpx.post(proxy.upstream, json=body, timeout=30).content
                if body.get("method") == "eth_sendUserOperation":
                    proxy.sent.append(body["params"][0])  # once the bundler has answered
                if body.get("method") == "eth_estimateUserOperationGas" and proxy.wrong_estimates:
                    wrong = json.loads(answer)
                    wrong["result"]["verificationGasLimit"] = "0x2000"
                    answer = json.dumps(wrong).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def bundler_call(url: str, method: str, *params) -> object:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                        timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]
