"""Member operations through a real ERC-4337 bundler: Pimlico's Alto (alto/, installed by `make setup`) on the
console's own anvil, named by COOP_BUNDLER_URL. Between them a proxy of the test's counts the requests and can
play a bundler that is away or spoil an operation's fees. One console, one anvil and one Alto for the whole
module (Alto takes seconds to start); its tests run in order, on the members the first one sets up."""
import json
import re
import sqlite3
import time
from types import SimpleNamespace

import pytest

from chain.embedded import _stop_stale_node
from tests.bot.console import DAY, Chain, Console, open_order
from tests.bot.test_bundler_url import bundled_by
from tests.bot.test_console import onboard
from tests.bot.test_orders import confirmed
from tests.bot.test_run import free_port
from tests.chain.alto import Alto, BundlerProxy, alto_or_skip, bundler_call


@pytest.fixture(scope="module")
def coop(tmp_path_factory):
    alto_or_skip()
    data = tmp_path_factory.mktemp("alto") / "data"
    alto_port = free_port()
    proxy = BundlerProxy(f"http://127.0.0.1:{alto_port}/")
    console = Console(data, env={"COOP_BUNDLER_URL": proxy.url, "COOP_FEE_BUMP_AFTER": "2"})
    alto = None
    try:
        onboard(console, "admin", "en")
        console.send(**{"from": "admin", "text": "/invite 2"})
        codes = re.findall(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", console.expect("admin", "/start")["text"])
        onboard(console, "bob", "en", codes[0])
        onboard(console, "ana", "es", codes[1])
        chain = Chain(data)
        alto = Alto(chain.w3, alto_port, log=data / "alto.log").start()
        bob, ana = chain.account("bob"), chain.account("ana")
        chain.wait_member(bob)
        chain.wait_member(ana)
        yield SimpleNamespace(console=console, chain=chain, alto=alto, proxy=proxy, bob=bob, ana=ana, data=data)
        assert console.close() == 0
    finally:
        if console.process.poll() is None:  # a test failed: the console, then the node it leaves behind
            console.process.kill()
            _stop_stale_node(data / "chain")
        if alto is not None:
            alto.stop()
        proxy.close()


def offer(console: Console, who: str, contains: str) -> dict:
    """The next offer (a message with buttons) to `who` containing `contains`; announcements are passed over."""
    while "buttons" not in (reply := console.expect(who, contains)):
        pass
    return reply


def test_deposit_join_send_lock_propose_and_vote_go_through_alto(coop):
    console, chain = coop.console, coop.chain
    for who in ("bob", "ana"):
        console.send(**{"from": "admin", "text": f"/deposit {who} 50"})
        assert "Recorded" in confirmed(console, "admin", offer(console, "admin", who))["text"]
    open_order(console, "/neworder rice 2.50 10 1 14")
    console.heard("group", "Order #1 is open")

    console.send(**{"from": "bob", "text": "/join 1 2"})
    assert "did not go through" not in confirmed(console, "bob", offer(console, "bob", "#1"))["text"]
    assert chain.contracts.group_buy.functions.getMember(1, coop.bob).call()[0] == 2
    console.send(**{"from": "ana", "text": "/join 1 1"})
    confirmed(console, "ana", offer(console, "ana", "#1"))
    console.send(**{"from": "bob", "text": "/send ana 5"})
    sent = confirmed(console, "bob", offer(console, "bob", "Send $5.00 to ana?"))
    assert "you sent $5.00 to ana" in sent["text"]
    console.heard("ana", "bob te envió 5,00\u00a0US$")

    chain.certify(coop.bob, "bob-kale", 2000)  # 20 GRO
    chain.certify(coop.ana, "ana-beans", 1000)  # 10 GRO
    console.send(**{"from": "bob", "text": "/lock 20 208"})
    assert "20 GRO locked" in confirmed(console, "bob", offer(console, "bob", "Lock 20 GRO"))["text"]
    console.send(**{"from": "ana", "text": "/lock 10 208"})
    confirmed(console, "ana", offer(console, "ana", "10 GRO"))
    console.send(**{"from": "bob", "text": "/propose Paint the lobby green"})
    confirmed(console, "bob", offer(console, "bob", "Paint the lobby green"))
    chain.advance(DAY + 60)
    console.send(**{"from": "bob", "text": "/vote 1 yes 3"})
    confirmed(console, "bob", offer(console, "bob", "3 votes cost 9 credits"))
    console.send(**{"from": "ana", "text": "/vote 1 sí 2"})
    confirmed(console, "ana", offer(console, "ana", "2 votos cuestan 4 créditos"))
    console.send(**{"from": "ana", "text": "propuestas"})
    assert "Sí 5" in console.expect("ana", "#1 Paint the lobby green:")["text"]

    # Every one of the members' operations was bundled by Alto's executor; each was paid from the member's
    # EntryPoint deposit, which the gas payer tops up (the deposits hold what is left).
    assert set(bundled_by(chain, coop.bob) + bundled_by(chain, coop.ana)) == {coop.alto.executor.address}
    assert len(bundled_by(chain, coop.bob)) == 5 and len(bundled_by(chain, coop.ana)) == 3
    for account in (coop.bob, coop.ana):
        assert chain.contracts.entry_point.functions.balanceOf(account).call() > 0
    assert coop.proxy.counts["eth_sendUserOperation"] >= 8


def _refused(coop, who: str, recipient: str, said: str) -> None:
    """`who` sends $1 to `recipient`; Alto refuses the operation (signed with a verificationGasLimit far too low,
    the estimate spoiled on its way); `who` hears `said`."""
    console = coop.console
    console.send(**{"from": who, "text": f"/send {recipient} 1"})
    assert said in confirmed(console, who, offer(console, who, recipient))["text"]


def test_an_operation_alto_refuses_fails_the_member_hears_why_and_it_is_not_sent_again(coop):
    coop.proxy.wrong_estimates = True
    try:
        _refused(coop, "bob", "ana", "That did not go through: The service that carries the co-op's operations "
                                     "to the ledger refused this one, so nothing was taken from you.")
        _refused(coop, "ana", "bob", "No se pudo hacer: El servicio que lleva las operaciones de la cooperativa "
                                     "al registro rechazó esta, así que no se te cobró nada.")
        counted = sum(coop.proxy.counts.values())
        time.sleep(3)  # the worker is idle: it asks the bundler nothing more (not ~40 requests a second)
        assert sum(coop.proxy.counts.values()) - counted <= 1
    finally:
        coop.proxy.wrong_estimates = False
    assert coop.chain.contracts.food_usd.functions.balanceOf(coop.ana).call() == 50 * 10**6 - 25 * 10**5 + 5 * 10**6


def test_a_bundler_that_is_away_is_asked_less_and_less_then_gets_the_operation(coop):
    console = coop.console
    coop.proxy.away = True
    try:
        before = sum(coop.proxy.counts.values())
        console.send(**{"from": "bob", "text": "/send ana 1"})
        press = offer(console, "bob", "Send $1.00 to ana?")["buttons"][0][0]["data"]
        console.send(**{"from": "bob", "press": press})
        console.expect("bob", "")  # on its way
        time.sleep(6)
        # Backing off 0.5, 1, 2, 4 s…: a handful of requests in six seconds, not hundreds.
        assert sum(coop.proxy.counts.values()) - before <= 8
    finally:
        coop.proxy.away = False
    assert "you sent $1.00 to ana" in console.expect("bob", "", timeout=60)["text"]


def test_an_operation_left_waiting_is_repriced_signed_again_and_the_replacement_is_mined(coop):
    console, proxy = coop.console, coop.proxy
    bundler_call(coop.alto.url, "debug_bundler_setBundlingMode", "manual")  # Alto holds operations in its mempool
    try:
        handed = len(proxy.sent)
        console.send(**{"from": "ana", "text": "/send bob 1"})
        console.send(**{"from": "ana", "press": offer(console, "ana", "bob")["buttons"][0][0]["data"]})
        console.expect("ana", "")  # on its way
        deadline = time.monotonic() + 30
        while len(proxy.sent) < handed + 2:  # COOP_FEE_BUMP_AFTER=2: replaced after two seconds unmined
            assert time.monotonic() < deadline, "the waiting operation was not replaced"
            time.sleep(0.2)
        bundler_call(coop.alto.url, "debug_bundler_sendBundleNow")
    finally:
        bundler_call(coop.alto.url, "debug_bundler_setBundlingMode", "auto")
    assert "Listo" in console.expect("ana", "", timeout=60)["text"]
    first, second = proxy.sent[handed:handed + 2]
    assert first["nonce"] == second["nonce"] and first["signature"] != second["signature"]
    assert int(second["maxFeePerGas"], 16) * 10 >= int(first["maxFeePerGas"], 16) * 11  # what a bundler requires

    with sqlite3.connect(coop.data / "coop.db") as db:
        op_hash, user_op = db.execute("SELECT user_op_hash, user_op FROM chain_intents WHERE kind = 'transfer' "
                                      "ORDER BY id DESC LIMIT 1").fetchone()
    mined = coop.chain.contracts.entry_point.events.UserOperationEvent().get_logs(
        from_block=0, argument_filters={"sender": coop.ana})[-1]
    assert "0x" + mined["args"]["userOpHash"].hex() == op_hash  # the replacement, not the first
    assert len(json.loads(user_op)["replaces"]) >= 1


def test_alto_restarted_with_an_operation_in_its_mempool_gets_it_again(coop):
    console, proxy = coop.console, coop.proxy
    bundler_call(coop.alto.url, "debug_bundler_setBundlingMode", "manual")
    handed = len(proxy.sent)
    console.send(**{"from": "bob", "text": "/send ana 1"})
    console.send(**{"from": "bob", "press": offer(console, "bob", "Send $1.00 to ana?")["buttons"][0][0]["data"]})
    console.expect("bob", "")  # on its way
    deadline = time.monotonic() + 30
    while len(proxy.sent) == handed:
        assert time.monotonic() < deadline, "the operation was not handed to Alto"
        time.sleep(0.1)
    coop.alto.stop()  # its mempool, and the operation in it, are gone
    coop.alto.start()  # bundling by itself again
    assert "you sent $1.00 to ana" in console.expect("bob", "", timeout=90)["text"]
