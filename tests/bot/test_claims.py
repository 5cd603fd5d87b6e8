"""What closed orders owe members comes back to them: claimed by the keeper from the history, retried until
done, and by the member with /claim; through `coop console --jsonl`."""
import sqlite3
import time

from tests.bot.console import DAY, Chain, Console, open_order
from tests.bot.test_console import invite_code, onboard
from tests.bot.test_orders import confirmed

# The first claim written for each member fails at once, as if the chain had refused it.
FIRST_CLAIM_FAILS = """CREATE TRIGGER first_claim_fails AFTER INSERT ON chain_intents
    WHEN NEW.kind = 'claim_for' AND NOT EXISTS (SELECT 1 FROM chain_intents i WHERE i.kind = 'claim_for'
                                                AND i.member_id = NEW.member_id AND i.id != NEW.id)
    BEGIN UPDATE chain_intents SET state = 'failed', reason = 'rejected' WHERE id = NEW.id; END"""
# Every claim the keeper writes fails.
CLAIMS_FAIL = """CREATE TRIGGER claims_fail AFTER INSERT ON chain_intents WHEN NEW.kind = 'claim_for'
    BEGIN UPDATE chain_intents SET state = 'failed', reason = 'rejected' WHERE id = NEW.id; END"""


def refunded_order(console: Console, tmp_path, members: dict[str, str], trigger: str) -> Chain:
    """`members` (name: language) each join order #1 with 3 units of $2 after a deposit of $50; the order
    misses its minimum and is refunded."""
    onboard(console, "admin", "en")
    for name, lang in members.items():
        onboard(console, name, lang, invite_code(console))
        console.send(**{"from": "admin", "text": f"/deposit {name} 50"})
        confirmed(console, "admin", console.expect("admin", name))
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
        db.execute(trigger)
    open_order(console, "/neworder rice 2 10 10 1")
    console.heard("group", "Order #1 is open")
    for name in members:
        console.send(**{"from": name, "text": "/join 1 3"})
        confirmed(console, name, console.expect(name, "rice"))
    chain = Chain(tmp_path / "data")
    chain.advance(DAY + 120)
    console.heard("group", "Order #1 did not reach its minimum")
    return chain


def claim_states(tmp_path) -> list[str]:
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:
        return sorted(state for (state,) in db.execute("SELECT state FROM chain_intents WHERE kind = 'claim_for'"))


def test_refunds_are_claimed_for_every_member_even_when_the_first_attempt_fails(console, tmp_path):
    chain = refunded_order(console, tmp_path, {"bob": "es", "raj": "bn"}, FIRST_CLAIM_FAILS)
    accounts = [chain.account(name) for name in ("bob", "raj")]
    deadline = time.monotonic() + 60
    while any(chain.contracts.group_buy.functions.claimable(1, a).call()[1] for a in accounts):
        assert time.monotonic() < deadline, "a refund was not claimed"
        time.sleep(0.2)
    console.send(**{"from": "bob", "text": "/balance"})
    assert "Food-USD" in console.expect("bob", "50,00")["text"]
    console.send(**{"from": "raj", "text": "/balance"})
    assert "Food-USD" in console.expect("raj", "৫০.০০")["text"]
    # The chain can show the claim a moment before the worker records its receipt.
    while (states := claim_states(tmp_path)) != ["confirmed", "confirmed", "failed", "failed"]:  # one retry each
        assert time.monotonic() < deadline, states
        time.sleep(0.2)
    assert console.close() == 0


def test_claim_gives_back_what_is_owed_and_says_when_there_is_nothing(console, tmp_path):
    """The chain keeps refusing the keeper's claims: the admins hear it once, and the member takes it back
    with /claim (Spanish); a member owed nothing is told so (French)."""
    refunded_order(console, tmp_path, {"bob": "es"}, CLAIMS_FAIL)
    console.heard("admin", "What order #1 owes bob could not be given back by itself: the chain refused it 5 times")
    console.send(**{"from": "bob", "text": "/claim"})
    offer = console.expect("bob", "#1")
    assert "6,00" in offer["text"] and "50,00" in offer["text"]
    assert confirmed(console, "bob", offer)["text"] == "Listo. Tu saldo de Food-USD ahora es 50,00\xa0US$."
    console.send(**{"from": "bob", "text": "/claim"})
    console.expect("bob", "No tienes nada")
    onboard(console, "zoe", "fr", invite_code(console))
    console.send(**{"from": "zoe", "text": "/claim"})
    console.expect("zoe", "Vous n'avez rien")
    time.sleep(1)  # more keeper ticks
    assert console.close() == 0
    told = [r for r in console.seen + console.rest() if "owes bob" in r["text"]]
    assert len(told) == 1
