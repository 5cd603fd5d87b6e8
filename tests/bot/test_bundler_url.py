"""COOP_BUNDLER_URL: with it set, the assistant's member operations go to that ERC-4337 bundler (here the
tests' own bundler server, with an operator of its own) instead of being bundled by the assistant — in
`coop console` and in `coop run`."""
import asyncio
import os
import signal
import subprocess
import sys
import time

from eth_account import Account

from tests.bot.console import ROOT, Chain, Console, button, open_order
from tests.bot.telegram_api import TelegramAPI
from tests.bot.test_console import onboard
from tests.bot.test_run import TELEGRAM, Running, clean_env, free_port
from tests.bot.test_telegram import ADMIN_ID, onboard_admin


def start_bundler(chain: Chain, port: int) -> tuple[subprocess.Popen, str]:
    """The tests' bundler server on `port`, sending bundles from an operator of its own: (process, operator)."""
    operator = Account.create()
    chain.w3.provider.make_request("anvil_setBalance", [operator.address, hex(10**20)])
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.chain.bundler_server", "--rpc-url", chain.w3.provider.endpoint_uri,
         "--entry-point", chain.contracts.entry_point.address, "--port", str(port), "--window", "0.05"],
        cwd=ROOT, env={**os.environ, "COOP_BUNDLER_KEY": operator.key.hex()},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, operator.address


def bundled_by(chain: Chain, account: str) -> list[str]:
    """Who sent each transaction that ran one of `account`'s operations."""
    ran = chain.contracts.entry_point.events.UserOperationEvent().get_logs(
        from_block=0, argument_filters={"sender": account})
    return [chain.w3.eth.get_transaction(e["transactionHash"])["from"] for e in ran]


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
        bundler, operator = start_bundler(chain, port)

        console.send(**{"from": "admin", "text": "/deposit admin 20"})
        confirmed(console, "admin", console.expect("admin", "admin"))
        open_order(console, "/neworder rice 2 10 10 1")
        console.heard("group", "Order #1 is open")
        console.send(**{"from": "admin", "text": "/join 1 2"})
        confirmed(console, "admin", console.expect("admin", "#1"))

        account = chain.account("admin")
        assert chain.contracts.group_buy.functions.getMember(1, account).call()[0] == 2
        assert bundled_by(chain, account) == [operator]
        assert console.close() == 0
    finally:
        for process in (console.process, bundler):
            if process is not None and process.poll() is None:
                process.kill()


async def test_coop_run_sends_member_operations_to_the_bundler_the_setting_names(tmp_path):
    api = TelegramAPI(token=TELEGRAM["TELEGRAM_BOT_TOKEN"])
    await api.start()
    port = free_port()
    bot = Running(["run", "--data-dir", str(tmp_path), "--admin", f"telegram:{ADMIN_ID}"],
                  clean_env(**TELEGRAM, TELEGRAM_API_BASE=api.base, COOP_DEV="1", COOP_HTTP_PORT=str(free_port()),
                            COOP_BUNDLER_URL=f"http://127.0.0.1:{port}/"))
    bundler = None

    async def said(contains: str, press: str | None = None, text: str | None = None) -> dict:
        """Sends the admin's `text` or presses `press`, then the next message to them containing `contains`."""
        mark = len(api.calls)
        await api.queue(api.message(ADMIN_ID, text, username="admin") if text else
                        api.press(ADMIN_ID, press, username="admin"))
        return await api.wait_for("sendMessage", ADMIN_ID, contains, after=mark, timeout=60)

    try:
        await onboard_admin(api, timeout=120)  # the embedded chain starts first
        chain = Chain(tmp_path)
        bundler, operator = start_bundler(chain, port)
        offer = await said("cash deposit", text=f"/deposit telegram:{ADMIN_ID} 20")
        await said("Food-USD balance is now", press=offer.buttons[0]["callback_data"])
        offer = await said("rice", text="/neworder rice 2 10 10 1")
        await said("Order #1 is open", press=offer.buttons[0]["callback_data"])
        offer = await said("#1", text="/join 1 2")
        account = chain.account(str(ADMIN_ID))
        await said("", press=offer.buttons[0]["callback_data"])
        deadline = time.monotonic() + 60
        while chain.contracts.group_buy.functions.getMember(1, account).call()[0] != 2:
            assert bot.process.poll() is None and time.monotonic() < deadline, bot.stderr[-3000:]
            await asyncio.sleep(0.2)
        assert bundled_by(chain, account) == [operator]  # not the assistant's gas payer

        bot.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(bot.process.wait, 60) == 0
    finally:
        bot.kill()
        if bundler is not None and bundler.poll() is None:
            bundler.kill()
        await api.close()
