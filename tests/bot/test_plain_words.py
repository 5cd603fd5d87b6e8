"""Issue 15's wording, through `coop console --jsonl`: a bad amount says what is wrong with it, a confirmed
deposit or certification says what was recorded for whom, /help lists /tolerance — in English and Spanish."""
from locales import Translator
from tests.bot.console import Console, button
from tests.bot.test_console import invite_code, onboard

EN, ES = Translator("en"), Translator("es")


def started(tmp_path) -> Console:
    """An English admin, a Spanish one (luz) and a Spanish resident (ana)."""
    console = Console(tmp_path / "data", admins=("admin", "luz"))
    onboard(console, "admin", "en")
    onboard(console, "luz", "es")
    onboard(console, "ana", "es", invite_code(console))
    return console


def test_a_bad_amount_says_what_is_wrong_with_it_then_the_usage(tmp_path):
    console = started(tmp_path)
    try:
        usage = EN.t("Send: /deposit MEMBER AMOUNT, for example: /deposit ana {amount}", amount="20.00")
        console.send(**{"from": "admin", "text": "/deposit ana -5"})
        assert console.expect("admin", "")["text"] == EN.t(
            "“{typed}” is negative; it must be more than zero. For example: {example}",
            typed="-5", example="12.50") + "\n" + usage
        console.send(**{"from": "admin", "text": "/deposit ana 0"})
        assert console.expect("admin", "")["text"] == EN.t(
            "“{typed}” is zero; it must be more than zero. For example: {example}",
            typed="0", example="12.50") + "\n" + usage

        usage = ES.t("Send: /withdraw MEMBER AMOUNT, for example: /withdraw ana {amount}", amount="20,00")
        console.send(**{"from": "luz", "text": "/withdraw ana 3,505"})
        refusal = console.expect("luz", "")
        assert refusal["text"] == ES.t("“{typed}” has too many decimals. For example: {example}",
                                       typed="3,505", example="12,50") + "\n" + usage
        assert "(12,50)" not in refusal["text"] and "buttons" not in refusal
        console.send(**{"from": "luz", "text": "/certify ana lote-1 dos"})
        assert console.expect("luz", "")["text"] == ES.t(
            "“{typed}” is not a number I can read. For example: {example}", typed="dos", example="12,50") + "\n" + \
            ES.t("Send: /certify MEMBER BATCH KG [GRADE], for example: /certify ana lettuce-0412 {kg}", kg="2,5")
        assert console.close() == 0
    finally:
        console.process.kill()


def test_a_confirmed_deposit_or_certification_says_what_was_recorded_for_whom(tmp_path):
    console = started(tmp_path)
    try:
        console.send(**{"from": "admin", "text": "/deposit ana 20"})
        console.send(**{"from": "admin", "press": button(console.expect("admin", "ana"), 0)})
        console.heard("admin", "Recorded: $20.00 cash from ana (deposit #1).")
        console.send(**{"from": "luz", "text": "/deposit ana 5"})
        console.send(**{"from": "luz", "press": button(console.expect("luz", "ana"), 0)})
        console.heard("luz", "Registrado: 5,00\u00a0US$ en efectivo de ana (depósito n.º 2).")
        console.send(**{"from": "luz", "text": "/certify ana lote-1 2,5"})
        console.send(**{"from": "luz", "press": button(console.expect("luz", "lote-1"), 0)})
        console.heard("luz", ES.t("Recorded: batch {batch}, {kg} kg grown by {name}, earning {gro} GRO.",
                                  batch="lote-1", kg="2,5", name="ana", gro="25"))
        console.heard("ana", "lote-1")  # and she hears it too
        assert console.close() == 0
        everything = console.seen + console.rest()
        assert not [r for r in everything if "Done. It is recorded." in r["text"]]
    finally:
        console.process.kill()


def test_help_lists_tolerance(tmp_path):
    console = started(tmp_path)
    try:
        for who, line in (("admin", "/tolerance ORDER UNITS – extra units you would take so the last case is "
                                     "bought whole"),
                          ("ana", "/tolerance PEDIDO UNIDADES – unidades extra que aceptarías para que la última "
                                  "caja se compre completa")):
            console.send(**{"from": who, "text": "/help"})
            assert line in console.expect(who, "/balance")["text"].splitlines()
        assert console.close() == 0
    finally:
        console.process.kill()
