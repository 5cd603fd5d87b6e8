"""A resident's money end to end through `coop console --jsonl`: Food-USD sent to a neighbour (both told, each in
their language, once), GRO redeemed for produce (and its /history line), a lock added to, extended, and taken
back once the test has stepped the chain's clock past its end."""
from tests.bot.console import DAY, Chain, Console, button
from tests.bot.test_console import invite_code, onboard

WEEK = 7 * DAY


def confirmed(console: Console, who: str, offer: dict, outcome: str) -> dict:
    """Presses confirm on `offer` (its two buttons, confirm first); returns the outcome containing `outcome`."""
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["ok:", "no:"]
    console.send(**{"from": who, "press": button(offer, 0)})
    return console.expect(who, outcome)


def test_send_redeem_lock_and_unlock(console, tmp_path):
    onboard(console, "admin", "en")
    onboard(console, "bob", "en", invite_code(console))
    onboard(console, "ana", "es", invite_code(console))
    chain = Chain(tmp_path / "data")
    bob, ana = chain.account("bob"), chain.account("ana")
    chain.wait_member(bob)
    chain.wait_member(ana)
    console.send(**{"from": "admin", "text": "/deposit bob 20"})
    confirmed(console, "admin", console.expect("admin", "bob"), "Recorded:")
    console.expect("bob", "$20.00")

    # /send: each refusal says why; then a confirmed send, told to both in their own language.
    console.send(**{"from": "bob", "text": "/send ana 50"})
    console.expect("bob", "You have $20.00, so you cannot send $50.00.")
    console.send(**{"from": "bob", "text": "/send bob 5"})
    console.expect("bob", "That is you.")
    console.send(**{"from": "bob", "text": "/send nobody 5"})
    console.expect("bob", "There is no member called nobody.")
    console.send(**{"from": "bob", "text": "/send ana 0"})
    console.expect("bob", "more than zero")
    console.send(**{"from": "bob", "text": "/send ana 5"})
    offer = console.expect("bob", "Send $5.00 to ana? Your Food-USD after: $15.00.")
    confirmed(console, "bob", offer, "Done: you sent $5.00 to ana. Your Food-USD balance is now $15.00.")
    console.heard("ana", "bob te envió 5,00\u00a0US$. Tu saldo de Food-USD ahora es 5,00\u00a0US$.")
    assert chain.contracts.food_usd.functions.balanceOf(ana).call() == 5 * 10**6

    # /redeem: only GRO held; the redemption and its item show in /history.
    chain.certify(bob, "bob-kale", 2000)  # 20 GRO
    chain.certify(ana, "ana-beans", 1000)  # 10 GRO
    console.send(**{"from": "bob", "text": "/redeem 30 kale"})
    console.expect("bob", "You have 20 GRO to spend, so you cannot redeem 30 GRO.")
    console.send(**{"from": "bob", "text": "/redeem 2.5 lettuce"})
    offer = console.expect("bob", "Redeem 2.5 GRO for lettuce? It is spent for good. Your GRO after: 17.5.")
    confirmed(console, "bob", offer, "Done: 2.5 GRO redeemed. You have 17.5 GRO left.")
    console.send(**{"from": "bob", "text": "/history"})
    assert "Redeemed 2.5 GRO for lettuce." in console.expect("bob", "Your recent history")["text"]

    # Locks in English: a new one, more GRO in it, a later end; it cannot be taken back before its end.
    console.send(**{"from": "bob", "text": "/lock add 5"})
    console.expect("bob", "You have no GRO locked.")
    console.send(**{"from": "bob", "text": "/lock 10 2"})
    confirmed(console, "bob", console.expect("bob", "Lock 10 GRO until"), "Done: 10 GRO locked.")
    console.send(**{"from": "bob", "text": "/lock add 5"})
    confirmed(console, "bob", console.expect("bob", "Add 5 GRO to your lock"), "Done: 5 GRO locked.")
    console.send(**{"from": "bob", "text": "/unlock"})
    console.expect("bob", "Your lock ends on")
    console.send(**{"from": "bob", "text": "/lock extend 4"})
    offer = console.expect("bob", "Keep your 15 GRO locked until")
    confirmed(console, "bob", offer, "Done: your lock lasts longer now.")
    assert chain.contracts.escrow.functions.locked(bob).call()[0] == 15 * 10**18

    # And in Spanish, with the locked GRO said when a redemption asks for more than is held.
    console.send(**{"from": "ana", "text": "/lock 4 10"})
    confirmed(console, "ana", console.expect("ana", "Bloquear 4 GRO hasta el"), "Listo: 4 GRO bloqueados.")
    console.send(**{"from": "ana", "text": "/lock add 2"})
    confirmed(console, "ana", console.expect("ana", "Añadir 2 GRO a tu bloqueo"), "Listo: 2 GRO bloqueados.")
    console.send(**{"from": "ana", "text": "/lock extend 20"})
    offer = console.expect("ana", "Mantener tus 6 GRO bloqueados hasta el")
    confirmed(console, "ana", offer, "Listo: tu bloqueo ahora dura más.")
    console.send(**{"from": "ana", "text": "/lock extend 5"})
    console.expect("ana", "Tu bloqueo ya dura hasta el")
    console.send(**{"from": "ana", "text": "/redeem 5"})
    assert "Tus 6 GRO bloqueados para votar no se pueden gastar hasta el" in console.expect(
        "ana", "Tienes 4 GRO para gastar")["text"]

    # Five weeks on, bob's lock has ended and he takes his GRO back; ana's runs on.
    chain.advance(5 * WEEK)
    console.send(**{"from": "bob", "text": "/lock add 1"})
    console.expect("bob", "Take that GRO back first with /unlock")
    console.send(**{"from": "bob", "text": "/unlock"})
    offer = console.expect("bob", "Take back the 15 GRO from your lock?")
    confirmed(console, "bob", offer, "Done: your GRO is back from your lock. You have 17.5 GRO.")
    console.send(**{"from": "bob", "text": "/unlock"})
    console.expect("bob", "You have no GRO locked.")
    console.send(**{"from": "ana", "text": "/unlock"})
    console.expect("ana", "Tu bloqueo termina el")
    console.send(**{"from": "bob", "text": "/history"})
    assert "Took back 15 GRO from your lock." in console.expect("bob", "Your recent history")["text"]

    assert console.close() == 0
    told = console.seen + console.rest()
    assert sum("te envió" in r["text"] for r in told if r["to"] == "ana") == 1
    assert sum("Done: you sent" in r["text"] for r in told if r["to"] == "bob") == 1
