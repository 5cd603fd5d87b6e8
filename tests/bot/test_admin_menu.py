"""What admins have of their own, through `coop console --jsonl`: their help and menu (/admin), an order opened only
once confirmed (its terms in plain words, the product in several words, a wrong number named), and the members'
feedback to read (/feedback list); residents keep their help and are told politely what is for admins.

One console for the module (its start-up is the embedded chain's): admins in English (admin), Spanish (luz) and
French (mo); residents Bob in English and Ana in Spanish. The co-op's time zone is Madrid's."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from locales import Translator, format_clock, format_day, format_money
from tests.bot.console import Console, button, open_order
from tests.bot.test_console import invite_code, onboard

EN, ES, FR = (Translator(lang).t for lang in ("en", "es", "fr"))
ZONE = "Europe/Madrid"
RESIDENT_HELP_END = "You can also just write, for example: how much do I have?"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    c = Console(tmp_path_factory.mktemp("admins") / "data", admins=("admin", "luz", "mo"),
                env={"COOP_TIMEZONE": ZONE})
    onboard(c, "admin", "en")
    onboard(c, "luz", "es")
    onboard(c, "mo", "fr")
    onboard(c, "bob", "en", invite_code(c))
    onboard(c, "ana", "es", invite_code(c))
    yield c
    if c.process.poll() is None:
        c.close()  # a clean stop also stops its embedded chain


def datas(reply: dict) -> list[str]:
    return [b["data"] for row in reply.get("buttons", []) for b in row]


def said(console: Console, who: str, text: str) -> dict:
    console.send(**{"from": who, "text": text})
    return console.expect(who)


def test_an_admins_help_adds_the_admin_commands_and_a_residents_stays_as_it_was(console):
    bob = said(console, "bob", "/help")["text"]
    assert bob.endswith(RESIDENT_HELP_END) and "/admin" not in bob and "/neworder" not in bob
    ana = said(console, "ana", "/help")["text"]
    assert ana.endswith(ES(RESIDENT_HELP_END)) and "/admin" not in ana

    admin = said(console, "admin", "/help")["text"]
    assert admin.startswith(bob)  # the residents' help, then the admins'
    assert "For admins (/admin – their menu):" in admin
    for command in ("/invite", "/neworder", "/deposit", "/withdraw", "/certify", "/closeorder", "/members",
                    "/broadcast", "/stats", "/feedback list", "/link", "/device", "/threshold"):
        assert command in admin, command
    luz = said(console, "luz", "/help")["text"]
    assert luz.startswith(ana) and "Para administradores (/admin – su menú):" in luz
    assert "/feedback list – lo que dijeron los miembros, lo más reciente primero" in luz

    # In the group chat everyone reads the same help: the residents'.
    console.send(**{"from": "admin", "chat": "group", "text": "/help"})
    assert console.expect("group")["text"] == bob


def test_admin_opens_the_admins_menu_and_residents_are_told_it_is_for_admins(console):
    menu = said(console, "admin", "/admin")
    assert menu["text"].startswith("What would you like to do as an admin?\n/invite [COUNT]")
    assert datas(menu) == ["cmd:invite", "cmd:members", "cmd:neworder", "cmd:orders", "cmd:deposit",
                           "cmd:withdraw", "cmd:feedback list", "cmd:stats", "cmd:device", "cmd:help"]
    console.send(**{"from": "admin", "press": "cmd:members"})
    assert console.expect("admin")["text"].startswith("5 members:")
    console.send(**{"from": "admin", "press": "cmd:neworder"})  # a button without the words says what to add
    assert console.expect("admin")["text"].startswith("Send: /neworder PRODUCT UNIT_PRICE TARGET_UNITS")
    assert said(console, "luz", "/admin")["text"].startswith("¿Qué quieres hacer como administrador o administradora?")
    assert "cmd:admin" in datas(said(console, "luz", "/menu"))  # the residents' menu leads to it too

    assert said(console, "bob", "/admin")["text"] == "Sorry, only the co-op's admins can do that."
    assert said(console, "ana", "/admin")["text"] == ES("Sorry, only the co-op's admins can do that.")
    console.send(**{"from": "ana", "press": "cmd:admin"})
    assert "buttons" not in console.expect("ana", ES("Sorry, only the co-op's admins can do that."))
    assert "cmd:admin" not in datas(said(console, "ana", "/menu"))


def closes(lang: str, days: int) -> list[str]:
    """'{day} at {clock}' as the summary may show it (the minute may turn while it is written), in Madrid."""
    now = datetime.now(ZoneInfo(ZONE)) + timedelta(days=days)
    return [(format_day(at, lang), format_clock(at, lang)) for at in (now - timedelta(minutes=1), now,
                                                                        now + timedelta(minutes=1))]


def test_a_new_order_is_announced_only_once_confirmed_and_cancel_takes_it_back(console):
    console.send(**{"from": "admin", "text": "/neworder flour 1,850 5"})
    summary = console.expect("admin", "flour")
    lines = summary["text"].splitlines()
    assert lines[:5] == ["Open this order? The group hears of it once you confirm.", "Product: flour",
                         "Price: $1,850.00 each", "Target: 5 units", "Goes ahead with at least 5 units"]
    assert any(lines[5] == f"Open until {day} at {clock} (7 days)" for day, clock in closes("en", 7)), lines[5]
    assert [d[:3] for d in datas(summary)] == ["ok:", "no:"]
    console.send(**{"from": "admin", "press": button(summary, 1)})
    console.expect("admin", "Cancelled. Nothing was done.")

    console.send(**{"from": "luz", "text": "/neworder harina 18,50 20 10 3 5"})
    summary = console.expect("luz", "harina")
    lines = summary["text"].splitlines()
    assert lines[:5] == ["¿Abrir este pedido? El grupo se entera cuando confirmes.", "Producto: harina",
                         f"Precio: {format_money(18_500_000, 'es')} cada unidad", "Meta: 20 unidades",
                         "Sale adelante con al menos 10 unidades"]
    assert any(lines[5] == f"Abierto hasta el {day} a las {clock} (3 días)" for day, clock in closes("es", 3))
    assert lines[6] == "Se compra en cajas completas de 5."
    console.send(**{"from": "luz", "press": button(summary, 0)})
    console.expect("luz", ES("On its way. I will tell you when it is done."))
    # The cancelled flour never opened: the first order the group hears of is the flour Luz confirmed.
    assert console.heard("group", "Order #1 is open")["text"].startswith("Order #1 is open: harina,")
    console.heard("luz", "El pedido #1 está abierto")
    assert not [r for r in console.seen if r["to"] == "group" and "flour" in r["text"]]


def test_a_product_of_several_words_is_read_whole(console):
    console.send(**{"from": "admin", "text": "/neworder black beans 12 10"})
    summary = console.expect("admin", "black beans")["text"].splitlines()
    assert summary[1:5] == ["Product: black beans", "Price: $12.00 each", "Target: 10 units",
                            "Goes ahead with at least 10 units"]
    console.send(**{"from": "mo", "text": "/neworder « riz noir » 2,50 12 6"})
    summary = console.expect("mo", "riz noir")["text"].splitlines()
    assert summary[1:5] == ["Produit : riz noir", f"Prix : {format_money(2_500_000, 'fr')} l’unité",
                            "Cible : 12 unités", "Se fait avec au moins 6 unités"]
    console.send(**{"from": "mo", "text": '/neworder "pain de mie" 3 10'})
    assert console.expect("mo", "pain de mie")["text"].splitlines()[1] == "Produit : pain de mie"


@pytest.mark.parametrize("who, text, says", [
    ("admin", "/neworder oil 10 7 9", "The minimum (9) is more than the target (7): an order goes ahead once its "
                                      "minimum is joined, so the minimum can be at most the target."),
    ("admin", "/neworder oil 0 7", "The price each: “0” is zero; it must be more than zero. For example: 18.50"),
    ("admin", "/neworder oil 10 0", "The target (units): “0” is zero; it must be more than zero. For example: 12"),
    ("admin", "/neworder olive oil 10 7 5 0", "The days it stays open: “0” is zero; it must be more than zero."),
    ("admin", "/neworder oil 10 7 5 91", "An order stays open from 1 to 90 days."),
    ("admin", "/neworder oil 10 7 x", "The minimum (units): “x” is not a number I can read."),
    ("luz", "/neworder aceite 10 7 9", "El mínimo (9) es mayor que la meta (7): un pedido sale adelante cuando se "
                                       "alcanza su mínimo, así que el mínimo puede ser como mucho la meta."),
    ("luz", "/neworder aceite -3 7", "El precio por unidad: «-3» es negativo; debe ser mayor que cero."),
    ("luz", "/neworder aceite 10 7 5 0", "Los días que queda abierto: «0» es cero; debe ser mayor que cero."),
    ("mo", "/neworder huile 10 7 6 2 4", "Le fournisseur vend des cartons de 4"),
])
def test_a_wrong_number_is_named_with_why(console, who, text, says):
    reply = said(console, who, text)
    assert reply["text"].startswith(says) and "buttons" not in reply
    if "cartons" not in says:  # then how to send it
        assert "/neworder" in reply["text"].splitlines()[-1]


def test_admins_read_the_feedback_newest_first_and_residents_cannot(console):
    assert said(console, "admin", "/feedback list")["text"] == "No feedback yet."
    said(console, "ana", "/feedback 4 El arroz llegó tarde")
    said(console, "bob", "/feedback 5 great")
    said(console, "bob", "/feedback 3")
    bob = said(console, "bob", "/feedback list")["text"]
    assert bob.startswith("Only the co-op's admins can read the feedback.\nSend a score from 1 (bad) to 5")
    assert said(console, "ana", "/feedback list")["text"].startswith(
        "Solo los administradores de la cooperativa pueden leer las opiniones.")

    listed = said(console, "admin", "/feedback list")["text"].splitlines()
    assert listed[0] == "3 answers, newest first:"  # the residents' /feedback list was not kept as an answer
    assert [re.sub(r"^.* · (\w+ · )", r"\1", line) for line in listed[1:]] == [
        "bob · 3 of 5", "bob · 5 of 5: great", "ana · 4 of 5: El arroz llegó tarde"]
    today = datetime.now(ZoneInfo(ZONE))
    assert listed[1].startswith(format_day(today, "en"))  # when, where the co-op is
    console.send(**{"from": "luz", "press": "cmd:feedback list"})  # the admin menu's Feedback button
    listed = console.expect("luz")["text"].splitlines()
    assert listed[0] == "3 respuestas, las más recientes primero:"
    assert listed[2].endswith(" · bob · 5 de 5: great")
    assert said(console, "admin", "/feedback list 2")["text"].startswith("Send: /feedback list [PAGE]")
