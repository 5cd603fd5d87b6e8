"""Onboarding is one transaction: a failed write or a kill -9 during `/start` never leaves a member who cannot vote."""
import sqlite3
import time

from tests.bot.console import Chain, Console, button
from tests.bot.test_console import invite_code, onboard


def test_a_crash_during_start_never_leaves_a_member_who_cannot_vote(tmp_path):
    data = tmp_path / "data"
    consoles = []

    def console() -> Console:
        consoles.append(Console(data))
        return consoles[-1]

    def crash(c: Console) -> None:
        c.process.kill()
        c.process.wait()

    try:
        first = console()
        onboard(first, "admin", "en")
        code = invite_code(first)
        # The database fails as the registration is written (the disk filled up): the member, their key and
        # account were written a moment before it in the same /start.
        with sqlite3.connect(data / "coop.db") as db:
            db.execute("CREATE TRIGGER full_disk BEFORE INSERT ON chain_intents WHEN NEW.kind = 'register' "
                       "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        first.send(**{"from": "ana", "text": f"/start {code}", "lang": "es"})
        assert "referencia" in first.expect("ana")["text"]  # an apology, in her language
        crash(first)
        with sqlite3.connect(data / "coop.db") as db:
            db.execute("DROP TRIGGER full_disk")
            assert db.execute("SELECT count(*) FROM bot_members WHERE handle = 'ana'").fetchone() == (0,)

        second = console()  # nothing was kept: the same invite works, and this time kill -9 right after it
        second.send(**{"from": "ana", "text": f"/start {code}", "lang": "es"})
        choice = second.expect("ana", "·")
        crash(second)

        third = console()
        third.send(**{"from": "ana", "press": button(choice, 0)})
        third.expect("ana", "Food-USD")  # the welcome, in Spanish
        chain = Chain(data)
        chain.wait_member(chain.account("ana"))  # registered on chain: she can vote once she holds GRO
        third.send(**{"from": "ana", "text": "/balance"})
        assert "0,00" in third.expect("ana", "Food-USD")["text"]
        assert third.close() == 0
    finally:
        for c in consoles:
            if c.process.poll() is None:
                c.process.kill()


def test_a_member_left_unregistered_by_an_older_crash_is_registered(console, tmp_path):
    """A member row with no key, account or registration (what a crash between /start's writes left
    before they were one transaction): the keeper registers them, and they can use their account."""
    onboard(console, "admin", "en")
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
        db.execute("INSERT INTO bot_members (channel, handle, chat_id, member_id, lang, invite_code, alerts, "
                   "blocked, joined_at) VALUES ('console', 'old', 'old', 'r_0123456789abcdef', 'fr', 'admin', 0, 0, "
                   "'2026-01-01 00:00:00')")
    chain = Chain(tmp_path / "data")
    deadline = time.monotonic() + 30
    while True:
        try:
            address = chain.account("old")
            break
        except TypeError:  # no account yet
            assert time.monotonic() < deadline, "no account was made"
            time.sleep(0.2)
    chain.wait_member(address)
    console.send(**{"from": "old", "text": "/balance"})
    assert "0,00" in console.expect("old", "Food-USD")["text"]
    assert console.close() == 0
