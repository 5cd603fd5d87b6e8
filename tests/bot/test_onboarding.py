"""Onboarding is one transaction: a failed write or a kill -9 during `/start` never leaves a member who cannot vote."""
import sqlite3

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
