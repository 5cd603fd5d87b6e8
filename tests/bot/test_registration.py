"""A member's registration on chain (what lets them vote): one the chain refused is tried again by the keeper
until it is done; one it keeps refusing is told to the admins, once."""
import sqlite3
import time

from bot.keeper import ATTEMPTS
from tests.bot.console import Chain, Console
from tests.bot.test_console import invite_code, onboard


def registrations(chain: Chain, handle: str) -> list[tuple[str, str]]:
    """(key, state) of each registration intent of the member `handle`, in order."""
    with sqlite3.connect(chain.db) as db:
        return [(key.rsplit(":", 1)[-1] if key.count(":") == 2 else "", state) for key, state in db.execute(
            "SELECT i.idempotency_key, i.state FROM chain_intents i JOIN bot_members m ON m.member_id = i.member_id "
            "WHERE m.handle = ? AND i.kind = 'register' ORDER BY i.id", (handle,))]


def last_reason(chain: Chain, handle: str) -> str | None:
    """Why the member's latest registration intent failed (None while none has)."""
    with sqlite3.connect(chain.db) as db:
        row = db.execute("SELECT i.reason FROM chain_intents i JOIN bot_members m ON m.member_id = i.member_id "
                         "WHERE m.handle = ? AND i.kind = 'register' ORDER BY i.id DESC LIMIT 1", (handle,)).fetchone()
    return row and row[0]


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_refused_registration_is_retried_until_done_and_one_that_keeps_failing_is_told_once(tmp_path):
    # The keeper looks every second: the test grants the role back between two of its looks.
    console = Console(tmp_path / "data", env={"COOP_KEEPER_INTERVAL": "1"})
    try:
        onboard(console, "admin", "en")
        chain = Chain(tmp_path / "data")
        chain.registrar_may_register(False)
        onboard(console, "bea", "en", invite_code(console))
        wait_for(lambda: registrations(chain, "bea") == [("", "failed")])  # /start's own, refused
        chain.registrar_may_register(True)
        chain.wait_member(chain.account("bea"))
        wait_for(lambda: registrations(chain, "bea")[-1] == ("1", "confirmed"))  # a new key for the new attempt

        chain.registrar_may_register(False)
        onboard(console, "cy", "en", invite_code(console))
        console.heard("admin", "cy could not be registered on the chain by itself: the chain refused it 5 times")
        assert registrations(chain, "cy") == [("", "failed")] + [(str(n), "failed") for n in range(1, ATTEMPTS + 1)]
        time.sleep(3)  # the keeper's later looks neither try again nor tell the admins again
        console.send(**{"from": "admin", "text": "/help"})
        console.expect("admin", "/balance")
        assert len(registrations(chain, "cy")) == ATTEMPTS + 1
        assert sum("could not be registered" in reply["text"] for reply in console.seen) == 1
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()


def test_a_registration_refused_because_the_member_is_registered_already_is_done(tmp_path):
    console = Console(tmp_path / "data", env={"COOP_KEEPER_INTERVAL": "1"})
    try:
        onboard(console, "admin", "en")
        chain = Chain(tmp_path / "data")
        chain.registrar_may_register(False)
        onboard(console, "dan", "en", invite_code(console))
        wait_for(lambda: registrations(chain, "dan") == [("", "failed")])
        chain.register_by_hand(chain.account("dan"))  # (or an attempt that went through after all)
        chain.registrar_may_register(True)
        wait_for(lambda: last_reason(chain, "dan") == "already_member")
        tried = len(registrations(chain, "dan"))
        time.sleep(3)  # the keeper's later looks neither try again nor tell the admins
        console.send(**{"from": "admin", "text": "/help"})
        console.expect("admin", "/balance")
        assert len(registrations(chain, "dan")) == tried < ATTEMPTS + 1
        assert not any("could not be registered" in reply["text"] for reply in console.seen)
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()
