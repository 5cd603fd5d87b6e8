"""The router through `coop console --jsonl`: odd command text gets the hint, and in the group chat a private
answer goes to the member's private chat while the group hears only a pointer (in the member's language).

One console process for the module (its start-up is the embedded chain's): the admin, onboarded in Spanish,
is the member who writes."""
import time

import pytest

from locales import Translator
from tests.bot.console import Console, button

ES = Translator("es").t
HINT = ES("Sorry, I did not understand. Send /help to see what I can do.")
POINTER = ES("I sent you the answer in a private chat.")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = Console(tmp_path_factory.mktemp("router") / "data", admins=("ana",))
    c.send(**{"from": "ana", "text": "/start", "lang": "es"})
    choice = c.expect("ana", "·")
    assert button(choice, 0) == "lang:es"
    c.send(**{"from": "ana", "press": "lang:es"})
    c.expect("ana", ES("What would you like to do?"))  # after the welcome
    # Her registration reaches her history in its own time: wait for it, so /history answers the same below.
    deadline = time.monotonic() + 60
    while ES("Your recent history:") not in history(c):
        assert time.monotonic() < deadline, "the registration never reached the history"
        time.sleep(0.5)
    yield c
    if c.process.poll() is None:
        c.close()  # a clean stop also stops its embedded chain (a kill would leave anvil running)


def history(console: Console) -> str:
    console.send(**{"from": "ana", "text": "/history"})
    return console.expect("ana", "")["text"]


def no_traceback(console: Console) -> None:
    assert "Traceback" not in "".join(console.stderr), "".join(console.stderr)[-3000:]


@pytest.mark.parametrize("text", ["/", "/ ", "//", "/@coop_test_bot", "/@", "/\t/", "/ @"])
def test_odd_command_text_gets_the_hint(console, text):
    console.send(**{"from": "ana", "text": text})
    assert console.expect("ana", HINT)["text"] == HINT
    no_traceback(console)


def group_heard(console: Console) -> list[str]:
    return [r["text"] for r in console.seen if r["to"] == "group"]


@pytest.mark.parametrize("message, private", [
    ({"text": "/balance"}, ES("Your Food-USD balance is {amount}.", amount="0,00")[:20]),
    ({"text": "@bot ¿cuánto tengo?"}, ES("GroToken: {amount} GRO.", amount="0")[:10]),  # a sentence to the bot
    ({"press": "cmd:balance"}, ES("Your voting power is {power}, not enough for one vote. Lock GRO to get some: "
                                  "/lock AMOUNT WEEKS; it counts on the proposals whose voting opens after you lock.",
                                  power="0")[:20]),  # a menu button in the group
    ({"text": "/invite 1"}, "/start"),  # an admin's invite code
    ({"text": "/history"}, ES("Your recent history:")),
], ids=["balance", "phrase", "button", "invite", "history"])
def test_a_private_answer_asked_in_the_group_goes_to_the_members_private_chat(console, message, private):
    before = len(console.seen)
    console.send(**{"from": "ana", "chat": "group", **message})
    answer = console.expect("ana", private)
    assert console.expect("group", POINTER)["text"] == POINTER  # in her language
    heard = [r["text"] for r in console.seen[before:] if r["to"] == "group"]
    assert heard == [POINTER], heard
    assert answer["text"] not in heard
    no_traceback(console)


def test_a_confirmation_asked_in_the_group_has_its_buttons_in_private(console):
    before = len(console.seen)
    console.send(**{"from": "ana", "chat": "group", "text": "/deposit ana 5"})
    offer = console.expect("ana", "ana")
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["ok:", "no:"]
    console.expect("group", POINTER)
    assert not [r for r in console.seen[before:] if r["to"] == "group" and "buttons" in r]
    console.send(**{"from": "ana", "press": button(offer, 1)})  # cancelled: nothing minted
    console.expect("ana")


def test_help_asked_in_the_group_stays_in_the_group(console):
    before = len(console.seen)
    console.send(**{"from": "ana", "chat": "group", "text": "/help"})
    console.expect("group", "/balance")
    console.send(**{"from": "ana", "chat": "group", "text": "hola a todos"})  # the group's own talk
    console.send(**{"from": "ana", "chat": "group", "text": "¿cuánto tengo que pagar?"})  # not said to the bot
    console.send(**{"from": "ana", "chat": "group", "text": "/help@coop_test_bot"})
    console.expect("group", "/balance")
    assert POINTER not in [r["text"] for r in console.seen[before:]]
    assert not [r for r in console.seen[before:] if r["to"] == "ana"]


@pytest.mark.parametrize("text", ["/digest on", "/dashboard"])
def test_a_command_that_is_not_built_yet_says_it_is_coming(console, text):
    console.send(**{"from": "ana", "text": text})
    assert console.expect("ana")["text"] == ES("This is coming soon. For now, /menu shows what I can do.")
