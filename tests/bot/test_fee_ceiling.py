"""Fees have a ceiling (COOP_MAX_FEE_GWEI): a transaction stuck at it is not bumped past it, and the admins
hear it once, in their language, through `coop console --jsonl` on the embedded chain."""
import time

from tests.bot.console import Chain, Console, button
from tests.bot.test_console import onboard

WAITING = "Las operaciones de la cooperativa están en espera"


def test_a_transaction_waiting_at_the_fee_ceiling_is_told_to_the_admins_once(tmp_path):
    # At 1 gwei the first fee offered is already the ceiling: nothing is left to bump.
    console = Console(tmp_path / "data", env={"COOP_MAX_FEE_GWEI": "1", "COOP_FEE_BUMP_AFTER": "0.3"})
    try:
        onboard(console, "admin", "es")
        chain = Chain(tmp_path / "data")
        chain.wait_member(chain.account("admin"))  # registered: nothing of the registrar's is in flight
        chain.w3.provider.make_request("evm_setAutomine", [False])  # the network does not take our fee
        try:
            console.send(**{"from": "admin", "text": "/deposit admin 5"})
            console.send(**{"from": "admin", "press": button(console.expect("admin", "admin"), 0)})
            assert "1 gwei" in console.heard("admin", WAITING)["text"]
            time.sleep(1.5)  # many more worker cycles find it still waiting
            fees = {tx["maxFeePerGas"] for tx in chain.w3.eth.get_block("pending", True)["transactions"]}
            assert fees == {10**9}  # one transaction, never bumped past the ceiling
        finally:
            chain.w3.provider.make_request("evm_setAutomine", [True])
            chain.w3.provider.make_request("evm_mine", [])
        balance = chain.contracts.food_usd.functions.balanceOf(chain.account("admin")).call
        deadline = time.monotonic() + 30
        while balance() != 5 * 10**6:  # the deposit goes through once the network takes the fee
            assert time.monotonic() < deadline, "the deposit was not mined"
            time.sleep(0.1)
        time.sleep(0.5)
        assert console.close() == 0
        told = [r for r in console.seen + console.rest() if WAITING in r["text"]]
        assert len(told) == 1
    finally:
        if console.process.poll() is None:
            console.process.kill()
