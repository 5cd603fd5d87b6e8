"""Plain sentences as residents type them (typos, no accents, "pls", Bengali script and digits) and what each
asks for. bench/phrases.py measures the share understood on other sentences, held out from this table."""
import pytest

from handlers.phrases import addressed
from handlers.understand import Understanding, normalise, request_of, understand

PRODUCTS = ("rice", "beans", "lentils", "tomatoes")


def said(understanding: Understanding) -> str | None:
    """What a reading asks for, as a short string: "balance", "join rice 2", "explain gro", "ask" (asks back)."""
    if understanding.choices:
        return "ask"
    intent = understanding.intent
    if intent is None:
        return None
    if intent.name == "join":
        order = [f"#{intent.number_of}"] if intent.number_of else []
        return " ".join(["join", *order, *intent.products, *map(str, intent.numbers[:1])])
    command, args = request_of(intent)
    return " ".join([command, *args])


EN = [
    ("how much do I have?", "balance"),
    ("whats my balance", "balance"),
    ("balence pls", "balance"),
    ("how much money i got", "balance"),
    ("check my account", "balance"),
    ("what orders are open", "orders"),
    ("show me the orders", "orders"),
    ("anything for sale this week?", "orders"),
    ("i want to join the rice order", "join rice"),
    ("join rice 2", "join rice 2"),
    ("i want 3 kg of beans", "join beans 3"),
    ("put me down for two lentils", "join lentils 2"),
    ("can i get some tomatos", "join tomatoes"),
    ("join order 1 with 2", "join #1 2"),
    ("what did i spend", "history"),
    ("show my history", "history"),
    ("my transactions pls", "history"),
    ("any proposals?", "proposals"),
    ("what are we deciding", "proposals"),
    ("i vote yes on 2", "vote 2 yes"),
    ("vote no on proposal 1 with 2 votes", "vote 1 no 2"),
    ("turn off alerts", "alerts off"),
    ("alerts on please", "alerts on"),
    ("whats the temperature in the grow room", "readings"),
    ("show sensors", "readings"),
    ("help", "help"),
    ("what can you do?", "help"),
    ("speak spanish please", "lang es"),
    ("change language", "lang"),
    ("what is GroToken?", "explain gro"),
    ("what's food usd", "explain fusd"),
    ("explain vegro", "explain vegro"),
    ("how does quadratic voting work", "explain quadratic"),
    ("hi", "menu"),
]

ES = [
    ("cuanto tengo?", "balance"),
    ("¿Cuánto dinero tengo?", "balance"),
    ("mi saldo porfa", "balance"),
    ("slado", "balance"),
    ("cuanta plata me queda", "balance"),
    ("que pedidos hay", "orders"),
    ("ver pedidos abiertos", "orders"),
    ("quiero unirme al pedido de arroz", "join rice"),
    ("quiero 2 de arroz", "join rice 2"),
    ("apuntame para tres frijoles", "join beans 3"),
    ("quisiera lentejas, 4", "join lentils 4"),
    ("unirme al pedido 2 con 1", "join #2 1"),
    ("necesito tomates", "join tomatoes"),
    ("mi historial", "history"),
    ("en que gaste mi plata", "history"),
    ("movimientos", "history"),
    ("hay propuestas?", "proposals"),
    ("ver las propuestas", "proposals"),
    ("voto si a la propuesta 1", "vote 1 yes"),
    ("votar no en la 2 con 3 votos", "vote 2 no 3"),
    ("desactivar alertas", "alerts off"),
    ("activa las alertas", "alerts on"),
    ("que temperatura hace en el cuarto de cultivo", "readings"),
    ("sensores", "readings"),
    ("ayuda", "help"),
    ("que puedes hacer", "help"),
    ("hablame en ingles", "lang en"),
    ("cambiar idioma", "lang"),
    ("que es grotoken", "explain gro"),
    ("¿Qué es Food-USD?", "explain fusd"),
    ("explicame el voto cuadratico", "explain quadratic"),
    ("que significa vegro", "explain vegro"),
    ("hola", "menu"),
    ("como funciona el food usd", "explain fusd"),  # "como funciona" is also a call for help: both count
]

FR = [
    ("quel est mon solde ?", "balance"),
    ("combien j'ai", "balance"),
    ("combien d'argent il me reste", "balance"),
    ("mon sole svp", "balance"),
    ("les commandes", "orders"),
    ("quelles commandes sont ouvertes ?", "orders"),
    ("je veux rejoindre la commande de riz", "join rice"),
    ("je voudrais 2 kilos de riz", "join rice 2"),
    ("inscris-moi pour deux haricots", "join beans 2"),
    ("je veux des lentilles", "join lentils"),
    ("rejoindre la commande 1 avec 3", "join #1 3"),
    ("mon historique", "history"),
    ("mes depenses", "history"),
    ("voir mes operations", "history"),
    ("les propositions", "proposals"),
    ("il y a des propositions en cours ?", "proposals"),
    ("je vote oui pour la 1", "vote 1 yes"),
    ("voter contre la proposition 2 avec 2 voix", "vote 2 no 2"),
    ("desactiver les alertes", "alerts off"),
    ("active les alertes", "alerts on"),
    ("quelle est la température", "readings"),
    ("les capteurs", "readings"),
    ("aide", "help"),
    ("que peux-tu faire ?", "help"),
    ("parle moi en anglais", "lang en"),
    ("changer de langue", "lang"),
    ("c'est quoi le GroToken ?", "explain gro"),
    ("qu'est-ce que le food usd", "explain fusd"),
    ("explique le vote quadratique", "explain quadratic"),
    ("que veut dire vegro", "explain vegro"),
    ("bonjour", "menu"),
]

BN = [
    ("আমার ব্যালেন্স কত?", "balance"),
    ("আমার কত টাকা আছে", "balance"),
    ("ব্যালান্স", "balance"),
    ("আমার একাউন্টে কত আছে", "balance"),
    ("অর্ডারগুলো দেখাও", "orders"),
    ("কী কেনা যায়", "orders"),
    ("খোলা অর্ডার", "orders"),
    ("চালের অর্ডারে যোগ দিতে চাই", "join rice"),
    ("চাল ২ কেজি চাই", "join rice 2"),
    ("আমি দুইটা ডাল নিতে চাই", "join lentils 2"),
    ("অর্ডার ১ এ ৩ টা যোগ দিন", "join #1 3"),
    ("টমেটো লাগবে", "join tomatoes"),
    ("আমার লেনদেন", "history"),
    ("ইতিহাস দেখাও", "history"),
    ("আমি কী খরচ করেছি", "history"),
    ("প্রস্তাবগুলো", "proposals"),
    ("কী প্রস্তাব আছে", "proposals"),
    ("১ নম্বর প্রস্তাবে হ্যাঁ ভোট", "vote 1 yes"),
    ("প্রস্তাব ২ এ না ভোট দেব ৩টা", "vote 2 no 3"),
    ("সতর্কতা বন্ধ করো", "alerts off"),
    ("এলার্ট চালু করো", "alerts on"),
    ("তাপমাত্রা কত", "readings"),
    ("সেন্সর দেখাও", "readings"),
    ("সাহায্য", "help"),
    ("তুমি কী করতে পারো", "help"),
    ("ইংরেজিতে কথা বলো", "lang en"),
    ("ভাষা বদলাও", "lang"),
    ("GroToken কী?", "explain gro"),
    ("ফুড ডলার মানে কি", "explain fusd"),
    ("veGRO কাকে বলে", "explain vegro"),
    ("দ্বিঘাত ভোট বুঝিয়ে বলো", "explain quadratic"),
    ("হ্যালো", "menu"),
]

TABLE = [(lang, text, expected) for lang, rows in (("en", EN), ("es", ES), ("fr", FR), ("bn", BN))
         for text, expected in rows]


def test_the_table_has_thirty_phrasings_per_language():
    for rows in (EN, ES, FR, BN):
        assert len({text for text, _ in rows}) >= 30


@pytest.mark.parametrize("lang,text,expected", TABLE, ids=[f"{lang}:{text}" for lang, text, _ in TABLE])
def test_a_resident_sentence_is_read_as_its_request(lang, text, expected):
    assert said(understand(text, PRODUCTS)) == expected


@pytest.mark.parametrize("text", ["", "   ", "ok", "lol", "bla bla bla", "the weather is nice today",
                                  "গতকাল বৃষ্টি হয়েছিল", "nos vemos mañana", "à demain tout le monde"])
def test_chatter_is_not_understood(text):
    assert said(understand(text, PRODUCTS)) is None


def test_a_product_on_two_orders_is_asked_back_not_guessed():
    reading = understand("quiero arroz", ("rice", "rice", "beans"))
    assert reading.intent.products == ("rice",)  # one name: the chat finds its open orders and asks which
    assert understand("join brown rice 2", ("rice", "brown rice")).intent.products == ("brown rice",)
    assert understand("arroz", ("white rice", "brown rice")).intent.products == ("white rice", "brown rice")


def test_two_close_readings_ask_back():
    assert said(understand("balance history", PRODUCTS)) == "ask"


def test_accents_case_digits_and_joiners_are_normalised():
    assert normalise("¿Cuánto TENGO?") == "? cuanto tengo ?"
    assert normalise("চাল ২ কেজি") == "চাল 2 কেজি"
    assert normalise("j’ai") == "j ai"
    assert normalise("ব্যা\u200cলেন্স") == "ব্যালেন্স"


def test_a_group_message_is_for_the_bot_only_when_it_mentions_it():
    assert addressed("@coop_bot ¿cuánto tengo?", "coop_bot") == "¿cuánto tengo?"
    assert addressed("what is gro, @Coop_Bot", "coop_bot") == "what is gro"
    assert addressed("@bot saldo", None) == "saldo"
    assert addressed("ask @botanist about the plants", None) is None
    assert addressed("¿cuánto tengo que llevar?", "coop_bot") is None
