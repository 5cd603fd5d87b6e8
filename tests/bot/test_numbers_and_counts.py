"""Numbers as members read and type them, through `coop console --jsonl`: what /balance and /vote say of locked GRO
and voting power (and the votes it buys: v votes cost v² credits), one wording for each kind of mistyped number in
every command, and counts in each language's plural forms."""
import re

from handlers.numbers import number_problem
from locales import AmountError, Translator
from tests.bot.console import Chain, Console, button, open_order
from tests.bot.test_console import invite_code, onboard

EN, FR = Translator("en"), Translator("fr")


def confirmed(console: Console, who: str, offer: dict, outcome: str) -> dict:
    console.send(**{"from": who, "press": button(offer, 0)})
    return console.expect(who, outcome)


def ask(console: Console, who: str, text: str) -> str:
    console.send(**{"from": who, "text": text})
    return console.expect(who)["text"]


def test_balance_and_vote_say_the_locked_gro_and_the_votes_the_power_buys(console, tmp_path):
    onboard(console, "admin", "en")
    onboard(console, "bob", "en", invite_code(console))
    onboard(console, "zoe", "fr", invite_code(console))
    chain = Chain(tmp_path / "data")
    bob, zoe = chain.account("bob"), chain.account("zoe")
    chain.wait_member(bob)
    chain.wait_member(zoe)
    chain.certify(bob, "bob-kale", 4000)  # 40 GRO
    chain.certify(zoe, "zoe-beans", 1000)  # 10 GRO

    # No power yet: /vote says how to get some, in each language.
    assert "Your voting power is 0, not enough for one vote. Lock GRO to get some: /lock AMOUNT WEEKS" in ask(
        console, "bob", "/vote")
    assert "Votre poids de vote est de 0, pas assez pour une voix. Bloquez des GRO" in ask(console, "zoe", "/vote")

    console.send(**{"from": "bob", "text": "/lock 40 208"})
    confirmed(console, "bob", console.expect("bob", "Lock 40 GRO"), "Done: 40 GRO locked.")
    balance = ask(console, "bob", "/balance")
    assert "GroToken: 0 GRO." in balance
    assert re.search(r"Locked for voting: 40 GRO until [A-Z][a-z]{2} \d{1,2}, 20\d\d \(/unlock gives it back", balance)
    assert re.search(r"Your voting power is 39\.\d\d, enough for 6 votes\.", balance)  # 6² = 36 ≤ 39 < 49
    assert "Your voting power is 39." in ask(console, "bob", "/vote")  # the usage says it too

    # A proposal not open yet: when it opens, and the power each member has for it.
    console.send(**{"from": "bob", "text": "/propose Paint the lobby"})
    confirmed(console, "bob", console.expect("bob", "Paint the lobby"), "is filed")
    not_open = ask(console, "bob", "/vote 1 yes 2")
    assert "Voting on #1 has not opened yet: it opens in" in not_open and "enough for 6 votes" in not_open
    not_open = ask(console, "admin", "/vote 1 yes 2")  # no GRO at all
    assert "has not opened yet" in not_open and "not enough for one vote. Lock GRO" in not_open
    not_open = ask(console, "zoe", "/vote 1 oui 2")
    assert "Le vote sur la n°1 n’est pas encore ouvert : il ouvre dans" in not_open
    assert "pas assez pour une voix. Bloquez des GRO" in not_open

    console.send(**{"from": "zoe", "text": "/lock 10 208"})
    confirmed(console, "zoe", console.expect("zoe", "10 GRO"), "10 GRO")
    balance = ask(console, "zoe", "/balance")
    assert "GroToken : 0 GRO." in balance
    assert re.search(r"Bloqués pour voter : 10 GRO jusqu’au \d{1,2} \w+\.? 20\d\d", balance), balance
    assert re.search(r"Votre poids de vote est de 9,\d\d : assez pour 3 voix\.", balance), balance
    assert console.close() == 0


def problem(tr: Translator, code: str, typed: str, example: str) -> str:
    """The sentence for one kind of bad number (number_problem words it with the member's translator only)."""
    return number_problem(tr, AmountError(code, example), typed)


def test_each_kind_of_bad_number_is_worded_alike_and_counts_take_their_plural(console):
    onboard(console, "admin", "en")
    onboard(console, "bob", "en", invite_code(console))
    onboard(console, "zoe", "fr", invite_code(console))
    onboard(console, "ana", "es", invite_code(console))

    # "/join 1 -3" is told what "/lock -3 10" is told: the same sentence for a negative number, everywhere.
    for who, tr, twelve, amount in (("bob", EN, "12", "12.50"), ("zoe", FR, "12", "12,50")):
        negative_count, negative_amount = (problem(tr, "negative", "-3", twelve),
                                           problem(tr, "negative", "-3", amount))
        for command in ("/join 1 -3", "/tolerance 1 -3", "/vote 1 yes -3", "/lock 10 -3"):
            assert ask(console, who, command).split("\n")[0] == negative_count, (who, command)
        for command in ("/lock -3 10", "/send admin -3", "/redeem -3"):
            assert ask(console, who, command).split("\n")[0] == negative_amount, (who, command)
        assert ask(console, who, "/join x 2").split("\n")[0] == problem(tr, "not_a_number", "x", twelve)
        assert ask(console, who, "/join 1 0").split("\n")[0] == problem(tr, "zero", "0", twelve)
        assert ask(console, who, "/join 1 2,5").split("\n")[0] == problem(tr, "too_many_decimals", "2,5", twelve)
    for command, typed, example in (("/deposit bob -3", "-3", "12.50"), ("/withdraw bob -3", "-3", "12.50"),
                                    ("/invite -3", "-3", "12"), ("/closeorder -3", "-3", "12"),
                                    ("/members -3", "-3", "12"), ("/threshold temp_c -3 20", "-3", "12.50"),
                                    ("/certify bob lot-1 -3", "-3", "12.50")):
        assert ask(console, "admin", command).split("\n")[0] == problem(EN, "negative", typed, example), command

    # Counts in the plural forms: French takes the singular for 0; "from 1 answer" in English.
    assert "Goes ahead with at least 1 unit\n" in open_order(console, "/neworder rice 2 10 1 7")["text"]
    console.heard("group", "Order #1 is open")
    assert "0 unité prise sur 10" in ask(console, "zoe", "/orders")
    assert "0 units of 10 joined" in ask(console, "bob", "/orders")
    console.send(**{"from": "bob", "text": "/feedback 4 Good rice"})
    console.expect("bob", "Thank you")
    assert "Satisfaction: 4.0 of 5 from 1 answer." in ask(console, "admin", "/stats")

    # Spanish without gender: whoever takes the cash records it.
    assert "da el efectivo al equipo de administración, que registrará el depósito" in ask(console, "ana", "/join 1 2")
    assert console.close() == 0
