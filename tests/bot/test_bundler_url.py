"""COOP_BUNDLER_URL: with it set, the assistant's member operations go to that ERC-4337 bundler (here the
tests' own bundler server, with an operator of its own) instead of being bundled by the assistant."""
import os
import socket
import subprocess
import sys

from eth_account import Account

from tests.bot.console import ROOT, Chain, Console, button
from tests.bot.test_console import onboard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def confirmed(console: Console, who: str, offer: dict) -> dict:
    console.send(**{"from": who, "press": button(offer, 0)})
    console.expect(who, "")  # on its way
    return console.expect(who, "")


def test_member_operations_go_to_the_bundler_the_setting_names(tmp_path):
    port = free_port()
    console = Console(tmp_path / "data", env={"COOP_BUNDLER_URL": f"http://127.0.0.1:{port}/"})
    bundler = None
    try:
        onboard(console, "admin", "en")
        chain = Chain(tmp_path / "data")
        bundler_operator = Account.create()
        chain.w3.provider.make_request("anvil_setBalance", [bundler_operator.address, hex(10**20)])
        bundler = subprocess.Popen(
            [sys.executable, "-m", "tests.chain.bundler_server", "--rpc-url", chain.w3.provider.endpoint_uri,
             "--entry-point", chain.contracts.entry_point.address, "--port", str(port), "--window", "0.05"],
            cwd=ROOT, env={**os.environ, "COOP_BUNDLER_KEY": bundler_operator.key.hex()},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        console.send(**{"from": "admin", "text": "/deposit admin 20"})
        confirmed(console, "admin", console.expect("admin", "admin"))
        console.send(**{"from": "admin", "text": "/neworder rice 2 10 10 1"})
        console.heard("group", "Order #1 is open")
        console.send(**{"from": "admin", "text": "/join 1 2"})
        confirmed(console, "admin", console.expect("admin", "#1"))

        account = chain.account("admin")
        assert chain.contracts.group_buy.functions.getMember(1, account).call()[0] == 2
        ran = chain.contracts.entry_point.events.UserOperationEvent().get_logs(
            from_block=0, argument_filters={"sender": account})
        assert [chain.w3.eth.get_transaction(e["transactionHash"])["from"] for e in ran] == [bundler_operator.address]
        assert console.close() == 0
    finally:
        for process in (console.process, bundler):
            if process is not None and process.poll() is None:
                process.kill()
