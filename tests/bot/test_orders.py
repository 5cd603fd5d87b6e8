"""Orders bought by the case, tolerance, and what happens at the deadline, through `coop console --jsonl`.

The test steps the console's chain clock past the deadlines; the keeper finalizes each order by itself,
and the group and every member who joined hear the outcome.
"""
import sqlite3
import time

from tests.bot.console import DAY, Chain, Console, button, open_order
from tests.bot.test_console import invite_code, onboard


def confirmed(console: Console, who: str, offer: dict) -> dict:
    """Presses confirm on `offer`; returns the outcome that follows."""
    console.send(**{"from": who, "press": button(offer, 0)})
    console.expect(who, "")  # on its way
    return console.expect(who, "")


def bob_and_ana_with_50(console: Console) -> None:
    """An English admin, then bob (English) and ana (Spanish), each with $50.00 of Food-USD."""
    onboard(console, "admin", "en")
    onboard(console, "bob", "en", invite_code(console))
    onboard(console, "ana", "es", invite_code(console))
    for who in ("bob", "ana"):
        console.send(**{"from": "admin", "text": f"/deposit {who} 50"})
        confirmed(console, "admin", console.expect("admin", who))


def test_cases_tolerance_and_what_the_deadline_does(console, tmp_path):
    bob_and_ana_with_50(console)

    # Eggs come in cases of 12: the target must be whole cases.
    console.send(**{"from": "admin", "text": "/neworder eggs 3 30 10 2 12"})
    assert "24 or 36" in console.expect("admin", "whole cases")["text"]
    assert "Bought in whole cases of 12" in open_order(console, "/neworder eggs 3 24 10 2 12")["text"]
    console.heard("group", "Order #1 is open")
    open_order(console, "/neworder rice 2 10 10 1")
    console.heard("group", "Order #2 is open")

    console.send(**{"from": "bob", "text": "/tolerance 1 2"})
    console.expect("bob", "Join order #1 first")
    console.send(**{"from": "bob", "text": "/join 1 5"})
    confirmed(console, "bob", console.expect("bob", "Join order #1 (eggs) with 5 units"))
    console.send(**{"from": "bob", "text": "/join 1 2"})  # raises his units
    confirmed(console, "bob", console.expect("bob", "You will have 7 units in all."))
    console.send(**{"from": "bob", "text": "/tolerance 2 1"})
    console.expect("bob", "Order #2 is bought by the unit")
    console.send(**{"from": "bob", "text": "/join 2 2"})
    confirmed(console, "bob", console.expect("bob", "#2"))

    # Ana joins with 4 (11 of 24: the second case would be one short) and would take 3 more to fill it.
    console.send(**{"from": "ana", "text": "/join 1 4"})
    confirmed(console, "ana", console.expect("ana", "#1"))
    console.send(**{"from": "ana", "text": "/tolerance 1 12"})
    console.expect("ana", "Como mucho 11 unidades extra")  # a whole case more could never be used
    console.send(**{"from": "ana", "text": "/tolerance 1 3"})
    offer = console.expect("ana", "cajas completas de 12")
    assert "Pagas 9,00\xa0US$ ahora" in offer["text"]  # CLDR: a no-break space before US$
    assert "29,00\xa0US$" in confirmed(console, "ana", offer)["text"]  # her balance after: 50 − 12 − 9
    console.send(**{"from": "ana", "text": "/orders"})
    assert "aceptarías 3 más" in console.expect("ana", "#1")["text"]

    # Past both deadlines: eggs buy one case of 12 (bob's 7, then ana's 4 and 1 of her 3 extra); rice,
    # 2 of a minimum of 10, is refunded. What is theirs comes back to them without asking.
    Chain(tmp_path / "data").advance(2 * DAY + 120)
    assert "12 units" in console.heard("group", "Order #1 reached its goal and was bought")["text"]
    console.heard("group", "Order #2 did not reach its minimum")
    console.heard("bob", "Order #1 was bought: 7 units are yours")
    ana = console.heard("ana", "El pedido #1")["text"]
    assert "5 unidades" in ana and "6,00\xa0US$" in ana  # 2 unused extra units come back
    assert "$4.00 comes back" in console.heard("bob", "Order #2 did not go ahead")["text"]
    assert console.close() == 0


def test_the_admins_hear_when_an_order_cannot_be_closed_by_itself(console, tmp_path):
    """The chain refused to close the order five times (seeded as failed attempts): the keeper stops trying
    and the admins are told, once, in their language."""
    onboard(console, "admin", "es")
    open_order(console, "/neworder rice 2 10 10 1", lang="es")
    console.heard("group", "Order #1 is open")
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        db.executemany("INSERT INTO chain_intents (idempotency_key, kind, params, state, reason, attempts, "
                       "created_at, updated_at) VALUES (?, 'finalize', '{\"order_id\": 1}', 'failed', "
                       "'deadline_passed', 1, ?, ?)", [(f"finalize:1:{n}", now, now) for n in range(1, 6)])
    Chain(tmp_path / "data").advance(DAY + 120)
    console.heard("admin", "El pedido #1 no pudo cerrarse solo: la cadena lo rechazó 5 veces")
    time.sleep(1)  # several more keeper ticks
    assert console.close() == 0
    told = [r for r in console.seen + console.rest() if "no pudo cerrarse" in r["text"]]
    assert len(told) == 1


def test_an_order_still_open_two_weeks_after_its_deadline_is_refunded(console, tmp_path):
    """The co-op was down past the deadline and two more weeks (or finalizing kept failing): the keeper
    takes the members' way out, a refund anyone may ask for by then, and everyone hears it, even though
    the order had reached its minimum."""
    onboard(console, "admin", "en")
    onboard(console, "bob", "es", invite_code(console))
    console.send(**{"from": "admin", "text": "/deposit bob 50"})
    confirmed(console, "admin", console.expect("admin", "bob"))
    open_order(console, "/neworder rice 2 10 1 1")
    console.heard("group", "Order #1 is open")
    console.send(**{"from": "bob", "text": "/join 1 3"})
    confirmed(console, "bob", console.expect("bob", "#1"))
    Chain(tmp_path / "data").advance(15 * DAY + 120)  # one tick sees it past the deadline and stale at once
    console.heard("group", "Order #1 could not be closed in time; everyone gets their Food-USD back.")
    assert "6,00" in console.heard("bob", "El pedido #1 no se realizó.")["text"]
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
        kinds = {k for (k,) in db.execute("SELECT kind FROM chain_intents WHERE params LIKE '%\"order_id\": 1%'")}
    assert "refund_stale" in kinds and "finalize" not in kinds
    assert console.close() == 0


def test_an_order_runs_at_most_ninety_days(console):
    """The chain refuses a deadline more than 90 days ahead; the admin hears it at once, not a silent failure."""
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/neworder rice 2 10 10 91"})
    assert "/neworder" in console.expect("admin", "An order stays open from 1 to 90 days.")["text"]
    assert "(90 days)" in open_order(console, "/neworder rice 2 10 10 90")["text"]
    console.heard("group", "Order #1 is open")
    assert console.close() == 0


def test_a_second_join_counts_the_first_still_on_its_way(console, tmp_path):
    """Two joins confirmed before the first is mined: the second summary's balance after counts the first, and a
    third is refused for the money the first two take (English and Spanish)."""
    bob_and_ana_with_50(console)
    console.send(**{"from": "admin", "text": "/neworder rice 25 10"})
    console.heard("group", "Order #1 is open")
    chain = Chain(tmp_path / "data")
    chain.w3.provider.make_request("evm_setAutomine", [False])  # nothing is mined until the test says
    try:
        console.send(**{"from": "bob", "text": "/join 1 1"})
        first = console.expect("bob", "Your Food-USD after: $25.00.")
        assert "on its way" not in first["text"]
        console.send(**{"from": "bob", "press": button(first, 0)})
        console.expect("bob", "On its way.")
        console.send(**{"from": "bob", "text": "/join 1 1"})
        second = console.expect("bob", "Your Food-USD after: $0.00. That counts $25.00 already on its way from "
                                       "earlier confirmations.")
        console.send(**{"from": "bob", "press": button(second, 0)})
        console.expect("bob", "On its way.")
        console.send(**{"from": "bob", "text": "/join 1 1"})
        console.expect("bob", "Joining costs $25.00 but you have $0.00: $25.00 is missing. To top up, give an admin "
                              "cash and they will record a deposit for you. That counts $50.00 already on its way")

        console.send(**{"from": "ana", "text": "/join 1 1"})
        first = console.expect("ana", "Tu Food-USD después: 25,00\u00a0US$.")
        console.send(**{"from": "ana", "press": button(first, 0)})
        console.expect("ana", "En camino.")
        console.send(**{"from": "ana", "text": "/join 1 1"})
        second = console.expect("ana", "Tu Food-USD después: 0,00\u00a0US$. Eso ya descuenta 25,00\u00a0US$ en "
                                       "camino por confirmaciones anteriores.")
        console.send(**{"from": "ana", "press": button(second, 0)})
        console.expect("ana", "En camino.")
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])
        chain.w3.provider.make_request("evm_mine", [])
    group_buy = chain.contracts.group_buy.functions
    for who in ("bob", "ana"):
        account = chain.account(who)
        deadline = time.monotonic() + 60
        while group_buy.getMember(1, account).call()[0] != 2:  # each second join is sent once the first is mined
            assert time.monotonic() < deadline, f"{who}'s joins were not mined"
            time.sleep(0.2)
        assert chain.contracts.food_usd.functions.balanceOf(account).call() == 0
