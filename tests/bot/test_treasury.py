"""An admin's /closeorder, /withdraw and /members through `coop console --jsonl`: an order closed before its
deadline is bought or refunded and everyone hears it; cash paid out is burned from the member's Food-USD and
both hear it, each in their language; the members listed in the admin's language."""
import sqlite3
import time

from tests.bot.console import Console, open_order
from tests.bot.test_console import invite_code, onboard
from tests.bot.test_orders import bob_and_ana_with_50, confirmed


def close(console: Console, order: int) -> dict:
    """/closeorder's summary, once the history has every join of the order (it is read from there)."""
    for _ in range(60):
        console.send(**{"from": "admin", "text": f"/closeorder {order}"})
        reply = console.expect("admin")
        if "still being recorded" not in reply["text"]:
            return reply
        time.sleep(0.25)
    raise AssertionError("the history never caught up")


def balance(console: Console, who: str, contains: str) -> None:
    """Asks `who`'s /balance until it shows `contains` (a refund the keeper claims comes a moment later)."""
    for _ in range(60):
        console.send(**{"from": who, "text": "/balance"})
        if contains in console.expect(who, "Food-USD")["text"]:
            return
        time.sleep(0.25)
    raise AssertionError(f"{who}'s balance never showed {contains}")


def test_orders_closed_early_are_bought_or_refunded_and_everyone_hears_it(console):
    bob_and_ana_with_50(console)
    open_order(console, "/neworder eggs 3 24 10 7 12")
    console.heard("group", "Order #1 is open")
    open_order(console, "/neworder rice 2 10 10 7")
    console.heard("group", "Order #2 is open")
    console.send(**{"from": "bob", "text": "/join 1 7"})
    confirmed(console, "bob", console.expect("bob", "#1"))
    console.send(**{"from": "ana", "text": "/join 1 4"})
    confirmed(console, "ana", console.expect("ana", "#1"))
    console.send(**{"from": "ana", "text": "/tolerance 1 3"})
    confirmed(console, "ana", console.expect("ana", "#1"))
    console.send(**{"from": "bob", "text": "/join 2 2"})
    confirmed(console, "bob", console.expect("bob", "#2"))

    # Eggs, a week early: 11 units and 3 extra make one case of 12 (bob's 7, ana's 4 and 1 of her extra).
    summary = close(console, 1)
    assert summary["text"] == ("Close order #1 (eggs) now? 11 units joined by 2 members. It buys 12 units and pays "
                               "the supplier $36.00. $6.00 goes back to the members.")
    assert "Done: order #1 is closed." in confirmed(console, "admin", summary)["text"]
    console.heard("group", "Order #1 was closed early by an admin and bought: 12 units.")
    console.heard("bob", "Order #1 was bought: 7 units are yours.")
    ana = console.heard("ana", "El pedido #1")["text"]
    assert "5 unidades" in ana and "6,00\xa0US$" in ana

    # Rice: 2 of a minimum of 10, refunded; bob's money comes back without asking.
    summary = close(console, 2)
    assert "below its minimum of 10: nothing is bought and $4.00 goes back" in summary["text"]
    confirmed(console, "admin", summary)
    console.heard("group", "Order #2 was closed early by an admin below its minimum")
    console.heard("bob", "Order #2 did not go ahead. $4.00 comes back")
    balance(console, "bob", "$29.00")  # 50 − 21 for eggs − 4 for rice + 4 back
    balance(console, "ana", "35,00")  # 50 − 12 − 9 extra + 6 back
    assert close(console, 2)["text"] == "Order #2 is closed. Send /orders to see the open ones."
    assert console.close() == 0


def test_cash_paid_out_is_told_to_the_admin_and_the_member_and_members_are_listed(tmp_path):
    console = Console(tmp_path / "data", admins=("admin", "luz"))
    try:
        onboard(console, "admin", "es")
        onboard(console, "ana", "en", invite_code(console))
        console.send(**{"from": "admin", "text": "/deposit ana 20"})
        confirmed(console, "admin", console.expect("admin", "ana"))

        console.send(**{"from": "admin", "text": "/withdraw ana 30"})
        assert console.expect("admin")["text"] == "ana tiene 20,00\xa0US$ en Food-USD, menos de 30,00\xa0US$."
        console.send(**{"from": "admin", "text": "/withdraw ana 15"})
        offer = console.expect("admin", "¿Registrar")
        assert offer["text"] == ("¿Registrar que pagas 15,00\xa0US$ en efectivo a ana? Se descuentan 15,00\xa0US$ de "
                                 "su Food-USD; le quedarán 5,00\xa0US$. Entrega el efectivo solo cuando te diga que "
                                 "está registrado.")
        assert confirmed(console, "admin", offer)["text"] == (
            "Registrado: entrega ahora 15,00\xa0US$ en efectivo a ana. Ahora tiene 5,00\xa0US$ en Food-USD.")
        console.heard("ana", "You were paid $15.00 in cash from your Food-USD. Your Food-USD balance is now $5.00.")
        console.send(**{"from": "ana", "text": "/history"})
        console.expect("ana", "Cash withdrawal of $15.00 recorded.")

        # Ana sends her money away between the offer and the press: the burn fails, and the admin is told not to pay.
        console.send(**{"from": "admin", "text": "/withdraw ana 5"})
        offer = console.expect("admin", "¿Registrar")
        console.send(**{"from": "ana", "text": "/send admin 3"})
        confirmed(console, "ana", console.expect("ana", "Send $3.00 to admin?"))
        console.heard("admin", "ana te envió 3,00\xa0US$.")
        assert confirmed(console, "admin", offer)["text"] == (
            "El pago en efectivo de 5,00\xa0US$ a ana no se registró, así que no pagues el efectivo. ana tiene "
            "2,00\xa0US$ en Food-USD ahora.")

        console.send(**{"from": "admin", "text": "/members"})
        lines = console.expect("admin", "miembros:")["text"].splitlines()
        assert lines[0] == "2 miembros:"
        assert lines[1].startswith("admin (console) · Español · se unió el ")
        assert lines[2].startswith("ana (console) · English · se unió el ")

        # Another admin, in English: her first message is /members, and she is on the list at once.
        console.send(**{"from": "luz", "text": "/members", "lang": "en"})
        lines = console.expect("luz", "members:")["text"].splitlines()
        assert lines[0] == "3 members:" and lines[3].startswith("luz (console) · English · joined ")

        # Ana on Telegram too (where she blocked the bot), and twenty residents more: two pages.
        with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
            (ana,) = db.execute("SELECT member_id FROM bot_members WHERE handle = 'ana'").fetchone()
            rows = [("telegram", "111", "ana_t", ana, None, True)]
            rows += [("console", f"m{n:02}", None, f"r_m{n:02}", "bn", False) for n in range(20)]
            db.executemany("INSERT INTO bot_members (channel, handle, alias, chat_id, member_id, lang, invite_code, "
                           "alerts, blocked, joined_at) VALUES (?, ?, ?, ?, ?, ?, 'test', 0, ?, '2099-01-01')",
                           [(c, h, a, h, m, lang, b) for c, h, a, m, lang, b in rows])
        console.send(**{"from": "admin", "text": "/members"})
        lines = console.expect("admin", "miembros:")["text"].splitlines()
        assert lines[0] == "23 miembros:" and len(lines) == 22
        assert lines[2].startswith("ana (console), @ana_t (Telegram, nos bloqueó) · English · se unió el ")
        # Midnight UTC on 1 January is still 31 December in the co-op's time zone (New York by default).
        assert lines[4].startswith("m00 (console) · ") and lines[4].endswith(" · se unió el 31 dic 2098")
        assert lines[-1] == "Página 1 de 2: /members 2 muestra la siguiente."
        console.send(**{"from": "admin", "text": "/members 2"})
        lines = console.expect("admin", "miembros:")["text"].splitlines()
        assert [line.split(" ·")[0] for line in lines[1:-1]] == ["m17 (console)", "m18 (console)", "m19 (console)"]
        assert lines[1].startswith("m17 (console) · বাংলা · se unió el ") and lines[-1] == "Página 2 de 2."
        assert console.close() == 0
    finally:
        if console.process.poll() is None:
            console.process.kill()
