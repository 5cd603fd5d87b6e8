"""The assistant end to end through `coop console --jsonl` (a subprocess on embedded defaults)."""
import re

import pytest

from tests.bot.console import Console, button


@pytest.fixture
def console(tmp_path):
    c = Console(tmp_path / "data")
    yield c
    if c.process.poll() is None:
        c.process.kill()


def onboard(console: Console, name: str, lang: str, code: str | None = None, language_button: int = 0) -> None:
    console.send(**{"from": name, "text": f"/start {code}" if code else "/start", "lang": lang})
    choice = console.expect(name, "·")
    console.send(**{"from": name, "press": button(choice, language_button)})
    console.expect(name)  # the welcome
    console.expect(name)  # the menu


def test_onboarding_a_deposit_and_a_join_with_confirmations(console):
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/invite 1"})
    code = re.search(r"\b([0-9A-F]{8})\b", console.expect("admin", "/start")["text"]).group(1)

    console.send(**{"from": "ana", "text": "/join 1 2", "lang": "es"})
    console.expect("ana", "/start")  # a stranger is told how to join
    console.send(**{"from": "ana", "text": f"/start {code}", "lang": "es-419"})
    choice = console.expect("ana", "·")
    assert button(choice, 0) == "lang:es"  # her phone's language first
    console.send(**{"from": "ana", "press": "lang:es"})
    console.expect("ana", "Food-USD")

    console.send(**{"from": "admin", "text": "/deposit ana 50"})
    offer = console.expect("admin", "ana")
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["ok:", "no:"]
    console.send(**{"from": "admin", "press": button(offer, 0)})
    console.expect("admin")
    console.expect("ana", "50,00")  # told of the deposit, in Spanish

    console.send(**{"from": "admin", "text": "/neworder rice 18.50 10 2 7"})
    console.expect("admin", "rice")
    console.expect("admin", "#1")  # open on chain
    console.expect("group", "#1")
    console.send(**{"from": "ana", "text": "/join 1 2"})
    offer = console.expect("ana", "#1")
    console.send(**{"from": "ana", "press": button(offer, 0)})
    console.expect("ana")  # on its way
    console.send(**{"from": "ana", "press": button(offer, 0)})  # a double tap
    console.expect("ana", "")
    outcome = console.expect("ana", "$")
    assert console.close() == 0
