"""Choosing the language and translating with it."""
import pytest

from locales import DEFAULT, LANGUAGES, Translator, format_money, format_number, match_language


@pytest.mark.parametrize("hint, lang", [
    ("es-419", "es"), ("es", "es"), ("ES", "es"), ("bn-BD", "bn"), ("bn_IN", "bn"), ("fr_CA", "fr"),
    ("fr-FR", "fr"), ("en-US", "en"), ("de", "en"), ("zh-hans", "en"), ("", "en"), (None, "en"),
    (" es ", "es"), ("ben", "bn"), ("spa", "es"),
])
def test_match_language_picks_the_closest_or_english(hint, lang):
    assert match_language(hint) == lang


def test_languages_and_default():
    assert LANGUAGES == ("en", "es", "bn", "fr") and DEFAULT == "en"


def test_translator_is_shared_per_language():
    assert Translator("es") is Translator("es-419")
    assert Translator("xx") is Translator("en")
    assert Translator("bn").lang == "bn"


@pytest.mark.parametrize("lang, expected", [
    ("en", "Your Food-USD balance is $12.50."),
    ("es", "Tu saldo de Food-USD es 12,50\xa0US$."),
    ("bn", "আপনার Food-USD ব্যালেন্স ১২.৫০US$।"),
    ("fr", "Votre solde Food-USD est de 12,50\xa0$US."),
])
def test_t_translates_then_fills_fields(lang, expected):
    assert Translator(lang).t("Your Food-USD balance is {amount}.", amount=format_money(12_500_000, lang)) == expected


def test_unknown_message_falls_back_to_the_source():
    assert Translator("fr").t("Not in any catalog {x}", x=1) == "Not in any catalog 1"


@pytest.mark.parametrize("lang, n, expected", [
    ("en", 0, "0 units"), ("en", 1, "1 unit"), ("en", 2, "2 units"),
    # CLDR: Bengali "one" is 0 and 1; the noun does not change, but the form chosen must be the right one.
    ("bn", 0, "০ ইউনিট"), ("bn", 1, "১ ইউনিট"), ("bn", 5, "৫ ইউনিট"),
    ("es", 0, "0 unidades"), ("es", 1, "1 unidad"), ("es", 2, "2 unidades"),
    ("es", 1_000_000, "1.000.000 de unidades"),
    ("fr", 0, "0 unité"), ("fr", 1, "1 unité"), ("fr", 2, "2 unités"),
    ("fr", 1_000_000, "1\u202f000\u202f000 d’unités"),
])
def test_tn_selects_the_plural_form_of_the_language(lang, n, expected):
    assert Translator(lang).tn("{count} unit", "{count} units", n, count=format_number(n, lang)) == expected


def test_plural_index_per_language():
    # Which msgstr[i] gettext picks: bn and fr put 0 with 1; es and fr have CLDR's "many" for millions.
    picks = {lang: [Translator(lang)._catalog.plural(n) for n in (0, 1, 2, 1_000_000)] for lang in LANGUAGES}
    assert picks == {"en": [1, 0, 1, 1], "es": [2, 0, 2, 1], "bn": [0, 0, 1, 1], "fr": [0, 0, 2, 1]}


def test_a_broken_translation_falls_back_to_english(caplog):
    tr = Translator("es")
    assert tr._fill("Saldo {cantidad}", "Balance {amount}", {"amount": "1"}) == "Balance 1"
    assert "translation_format_failed" in caplog.text
