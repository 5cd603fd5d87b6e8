"""Plain sentences end to end through `coop console --jsonl`: each runs what its command runs (a join still ends
in its confirmation), asks back when unsure, and the group's own talk gets no answer.

One console for the module (its start-up is the embedded chain's): an admin in English, Ana in Spanish,
Raj in Bengali and Zoé in French."""
import re

import pytest

from locales import Translator
from tests.bot.console import Console, button, open_order
from tests.bot.test_console import confirm, invite_code, onboard

ES, FR, BN, EN = (Translator(lang).t for lang in ("es", "fr", "bn", "en"))
QUADRATIC = ("In quadratic voting each extra vote costs more: 1 vote costs 1 credit, 2 votes cost 4, 3 votes cost 9. "
             "Your credits are your veGRO when voting opens. You can show how much you care, but nobody can decide "
             "alone just by holding much more. See /proposals.")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = Console(tmp_path_factory.mktemp("phrases") / "data")
    onboard(c, "admin", "en")
    onboard(c, "ana", "es", invite_code(c))
    onboard(c, "raj", "bn", invite_code(c))
    onboard(c, "zoe", "fr", invite_code(c))
    c.send(**{"from": "admin", "text": "/deposit ana 50"})
    confirm(c, "admin", c.expect("admin", "ana"))
    c.expect("ana", "50,00")
    yield c
    if c.process.poll() is None:
        c.close()  # a clean stop also stops its embedded chain (a kill would leave anvil running)


def datas(reply: dict) -> list[str]:
    return [b["data"] for row in reply.get("buttons", []) for b in row]


@pytest.mark.parametrize("who, text, answer", [
    ("admin", "how much do I have?", EN("Your Food-USD balance is {amount}.", amount="$0.00")),
    ("zoe", "quel est mon solde ?", FR("Your Food-USD balance is {amount}.", amount="")[:20]),
    ("raj", "আমার ব্যালেন্স কত?", BN("Your Food-USD balance is {amount}.", amount="")[:10]),
    ("ana", "cuanto tengo", ES("Your Food-USD balance is {amount}.", amount="50,00")[:-1]),
], ids=["en", "fr", "bn", "es"])
def test_asking_for_the_balance_in_a_sentence_gets_the_balance(console, who, text, answer):
    console.send(**{"from": who, "text": text})
    assert answer in console.expect(who)["text"]


def test_what_is_grotoken_gets_the_explainer(console):
    console.send(**{"from": "admin", "text": "what is GroToken?"})
    assert console.expect("admin")["text"].startswith("GroToken (GRO) is earned by growing food")
    console.send(**{"from": "raj", "text": "veGRO কী?"})
    assert console.expect("raj")["text"] == BN(
        "veGRO is your voting power. You get it by locking GRO for some weeks with /lock AMOUNT WEEKS: more GRO and "
        "a longer lock give more veGRO. It shrinks as the end of the lock comes near, and then your GRO is yours to "
        "take back. /balance shows it as voting power.")


def test_the_menu_has_the_explainers(console):
    console.send(**{"from": "zoe", "text": "/menu"})
    assert "cmd:explain" in datas(console.expect("zoe"))
    console.send(**{"from": "zoe", "press": "cmd:explain"})
    topics = console.expect("zoe", FR("What would you like explained?"))
    assert datas(topics) == ["cmd:explain fusd", "cmd:explain gro", "cmd:explain vegro", "cmd:explain quadratic"]
    console.send(**{"from": "zoe", "press": datas(topics)[3]})
    assert console.expect("zoe")["text"] == FR(QUADRATIC)
    console.send(**{"from": "zoe", "text": "/explain food-usd"})
    assert "Food-USD" in console.expect("zoe")["text"]


def test_joining_by_product_asks_how_many_then_offers_the_usual_confirmation(console):
    open_order(console, "/neworder rice 2.50 10 2 7")
    console.heard("group", "#1")
    console.send(**{"from": "ana", "text": "quiero unirme al pedido de arroz"})
    question = console.expect("ana", ES("How many units of order #{id} would you like? Or send /join {id} UNITS.",
                                        id="1")[:20])
    assert datas(question)[:2] == ["cmd:join 1 1", "cmd:join 1 2"]
    console.send(**{"from": "ana", "press": "cmd:join 1 2"})
    offer = console.expect("ana", "#1")
    assert [d[:3] for d in datas(offer)] == ["ok:", "no:"]  # nothing moves before she confirms
    assert "5,00" in offer["text"]
    confirm(console, "ana", offer)
    console.heard("ana", "Listo. Tu saldo de Food-USD ahora es 45,00")
    console.send(**{"from": "ana", "text": "apuntame 1 de arroz porfa"})  # product and quantity at once
    offer = console.expect("ana", "#1")
    assert [d[:3] for d in datas(offer)] == ["ok:", "no:"]
    console.send(**{"from": "ana", "press": button(offer, 1)})  # cancelled
    console.expect("ana")


def test_a_product_on_two_open_orders_is_asked_back(console):
    open_order(console, "/neworder beans 1 10 2 7")
    console.heard("group", "#2")
    open_order(console, "/neworder beans 1.50 10 2 7")
    console.heard("group", "#3")
    console.send(**{"from": "raj", "text": "beans ৩ টা চাই"})
    which = console.expect("raj", BN("Which order do you mean?"))
    assert len(datas(which)) == 2 and all(re.fullmatch(r"cmd:join \d+ 3", d) for d in datas(which))
    console.send(**{"from": "raj", "text": "আমি beans নিতে চাই"})  # no quantity: the orders, then how many
    which = console.expect("raj", BN("Which order do you mean?"))
    assert datas(which) == ["units:2", "units:3"]
    console.send(**{"from": "raj", "press": "units:3"})
    assert datas(console.expect("raj", "৩"))[:2] == ["cmd:join 3 1", "cmd:join 3 2"]


def test_a_stranger_may_ask_what_things_are_but_nothing_else(console):
    console.send(**{"from": "stranger", "text": "what is food usd?", "lang": "en"})
    assert console.expect("stranger")["text"].startswith("Food-USD is the co-op's money")
    console.send(**{"from": "stranger", "text": "how much do i have", "lang": "en"})
    assert console.expect("stranger")["text"] == EN(
        "You are not a member yet. Ask an admin for an invite code and send /start CODE.")


def test_close_readings_are_asked_back_and_nonsense_gets_the_hint(console):
    console.send(**{"from": "admin", "text": "balance history"})
    asked = console.expect("admin", "Did you mean")
    assert set(datas(asked)) == {"cmd:balance", "cmd:history"}
    console.send(**{"from": "admin", "text": "vote proposals"})  # two readings that run the same command
    assert console.expect("admin")["text"] == EN("There are no proposals yet. To make one: /propose TITLE")
    console.send(**{"from": "admin", "text": "blorp zzz"})
    assert console.expect("admin")["text"] == EN("Sorry, I did not understand. Send /help to see what I can do.")


def test_the_group_hears_nothing_unless_the_bot_is_mentioned(console):
    before = len(console.seen)
    console.send(**{"from": "ana", "chat": "group", "text": "¿cuánto tengo que llevar mañana?"})
    console.send(**{"from": "ana", "chat": "group", "text": "quiero arroz para la fiesta"})
    console.send(**{"from": "ana", "chat": "group", "text": "@bot ¿qué es el voto cuadrático?"})  # the same for all
    explainer = console.expect("group")
    assert explainer["text"] == ES(QUADRATIC)
    assert [r for r in console.seen[before:] if r["to"] == "ana"] == []  # nothing private, no join offered
