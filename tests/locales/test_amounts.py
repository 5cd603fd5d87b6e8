"""Amounts shown and read the way each language writes them."""
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locales import LANGUAGES, MAX_AMOUNT, AmountError, format_gro, format_money, format_number, parse_amount, parse_count

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize("lang, twelve_fifty, thousands, zero", [
    ("en", "$12.50", "$1,234,567.89", "$0.00"),
    ("es", f"12,50{NBSP}US$", f"1.234.567,89{NBSP}US$", f"0,00{NBSP}US$"),
    # CLDR bn: Bengali digits, lakh grouping (12,34,567), "US$" right after the number.
    ("bn", "১২.৫০US$", "১২,৩৪,৫৬৭.৮৯US$", "০.০০US$"),
    ("fr", f"12,50{NBSP}$US", f"1{NNBSP}234{NNBSP}567,89{NBSP}$US", f"0,00{NBSP}$US"),
])
def test_format_money_as_cldr_writes_usd(lang, twelve_fifty, thousands, zero):
    assert format_money(12_500_000, lang) == twelve_fifty
    assert format_money(1_234_567_890_000, lang) == thousands
    assert format_money(0, lang) == zero


def test_format_money_rounds_cents_down_never_up():
    assert format_money(12_509_999, "en") == "$12.50"
    assert format_money(9_999, "en") == "$0.00"
    assert format_money(-12_500_001, "en") == "-$12.51"  # down is toward minus infinity: never shows more than there is


@pytest.mark.parametrize("lang, expected", [
    ("en", ["12.5", "12", "1,234.56", "0.01"]),
    ("es", ["12,5", "12", "1.234,56", "0,01"]),
    ("bn", ["১২.৫", "১২", "১,২৩৪.৫৬", "০.০১"]),
    ("fr", ["12,5", "12", f"1{NNBSP}234,56", "0,01"]),
])
def test_format_gro_with_up_to_two_decimals_rounded_down(lang, expected):
    wei = [12_500_000_000_000_000_000, 12 * 10**18, 1_234_569_999_999_999_999_999, 10**16 + 1]
    assert [format_gro(w, lang) for w in wei] == expected


@pytest.mark.parametrize("lang, expected", [
    ("en", ["7", "1,234", "18.50", "21.96", "0.5"]),
    ("es", ["7", "1.234", "18,50", "21,96", "0,5"]),
    ("bn", ["৭", "১,২৩৪", "১৮.৫০", "২১.৯৬", "০.৫"]),
    ("fr", ["7", f"1{NNBSP}234", "18,50", "21,96", "0,5"]),
])
def test_format_number(lang, expected):
    got = [format_number(7, lang), format_number(1234, lang), format_number(Decimal("18.5"), lang, decimals=2),
           format_number(21.96, lang), format_number(Decimal("0.5"), lang)]
    assert got == expected


VALID = [
    ("en", "12.50", "12.50"), ("en", "12", "12.00"), ("en", "$12.50", "12.50"), ("en", "$ 12.50", "12.50"),
    ("en", "12.50 USD", "12.50"), ("en", "1,234.50", "1234.50"), ("en", "1,234", "1234.00"),
    ("en", "12,50", "12.50"), ("en", ".5", "0.50"), ("en", " 12.5 ", "12.50"), ("en", "১২.৫০", "12.50"),
    ("en", "12.500", "12.50"), ("en", "+3", "3.00"),
    ("es", "12,50", "12.50"), ("es", "12.50", "12.50"), ("es", "1.234,50", "1234.50"), ("es", "1.234", "1234.00"),
    ("es", "12,50 US$", "12.50"), ("es", f"12,50{NBSP}US$", "12.50"), ("es", "$12,50", "12.50"),
    ("bn", "১২.৫০", "12.50"), ("bn", "১২", "12.00"), ("bn", "12.50", "12.50"), ("bn", "১,২৩৪.৫০", "1234.50"),
    ("bn", "১২,৩৪৫.৬", "12345.60"), ("bn", "১২.৫০US$", "12.50"),
    ("fr", "12,50", "12.50"), ("fr", "12,50 $", "12.50"), ("fr", "1 234,50", "1234.50"),
    ("fr", f"1{NNBSP}234,50", "1234.50"), ("fr", f"1{NBSP}234,50{NBSP}$US", "1234.50"), ("fr", "12.50", "12.50"),
]


@pytest.mark.parametrize("lang, text, expected", VALID)
def test_parse_amount_reads_what_members_type(lang, text, expected):
    assert parse_amount(text, lang) == Decimal(expected)


@pytest.mark.parametrize("lang, text, code", [
    ("en", "", "empty"), ("en", "   ", "empty"), ("en", "abc", "not_a_number"), ("en", "$", "not_a_number"),
    ("en", "12..5", "not_a_number"), ("en", "1,2,3", "not_a_number"), ("fr", "12 50", "not_a_number"),
    ("en", "12.5.0", "not_a_number"), ("en", "1.234,567,89", "not_a_number"), ("bn", "৳", "not_a_number"),
    ("en", "twelve", "not_a_number"), ("en", "12abc", "not_a_number"), ("en", "0x10", "not_a_number"),
    ("en", "-5", "negative"), ("en", "−5", "negative"), ("en", "-$5", "negative"), ("es", "-12,50", "negative"),
    ("en", "12.345", "too_many_decimals"), ("es", "12,345", "too_many_decimals"), ("bn", "১২.৩৪৫", "too_many_decimals"),
    ("en", "2000000", "too_large"), ("en", "9" * 60, "too_large"),
])
def test_parse_amount_names_what_is_wrong(lang, text, code):
    with pytest.raises(AmountError) as e:
        parse_amount(text, lang)
    assert e.value.code == code


@pytest.mark.parametrize("lang, example", [("en", "12.50"), ("es", "12,50"), ("bn", "১২.৫০"), ("fr", "12,50")])
def test_amount_error_carries_an_example_in_the_language(lang, example):
    with pytest.raises(AmountError) as e:
        parse_amount("abc", lang)
    assert e.value.example == example
    assert parse_amount(example, lang) == Decimal("12.50")


def test_parse_amount_with_other_decimals():
    assert parse_amount("0.000001", "en", decimals=6) == Decimal("0.000001")
    assert parse_amount("5", "en", decimals=0) == Decimal(5)
    with pytest.raises(AmountError, match="too_many_decimals"):
        parse_amount("5.5", "en", decimals=0)


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "3", 3), ("bn", "৩", 3), ("bn", "১২", 12), ("es", "1.000", 1000), ("en", "1,000", 1000), ("fr", "1 000", 1000),
])
def test_parse_count(lang, text, expected):
    assert parse_count(text, lang) == expected


@pytest.mark.parametrize("lang, text, code", [
    ("en", "0", "zero"), ("bn", "০", "zero"), ("en", "-1", "negative"), ("en", "2.5", "too_many_decimals"),
    ("es", "2,5", "too_many_decimals"), ("en", "", "empty"), ("en", "two", "not_a_number"),
    ("en", "10000000", "too_large"),
])
def test_parse_count_names_what_is_wrong(lang, text, code):
    with pytest.raises(AmountError) as e:
        parse_count(text, lang)
    assert e.value.code == code
    assert e.value.example == {"en": "12", "es": "12", "bn": "১২", "fr": "12"}[lang]


@settings(max_examples=200, deadline=None)
@given(minor=st.integers(0, int(MAX_AMOUNT) * 10**6), lang=st.sampled_from(LANGUAGES))
def test_format_money_then_parse_gives_the_cents_back(minor, lang):
    assert parse_amount(format_money(minor, lang), lang) == Decimal(minor // 10**4).scaleb(-2)


@settings(max_examples=200, deadline=None)
@given(cents=st.integers(0, int(MAX_AMOUNT) * 100), lang=st.sampled_from(LANGUAGES))
def test_format_number_then_parse_round_trips(cents, lang):
    amount = Decimal(cents).scaleb(-2)
    assert parse_amount(format_number(amount, lang, decimals=2), lang) == amount
    assert parse_amount(format_gro(cents * 10**16, lang), lang) == amount
    if cents:
        assert parse_count(format_number(cents, lang), lang, maximum=10**8) == cents


def test_a_time_of_day_is_written_with_the_languages_digits():
    from datetime import datetime

    from locales import format_clock

    moment = datetime(2026, 11, 25, 14, 5)
    assert [format_clock(moment, lang) for lang in ("en", "es", "fr", "bn")] == ["14:05", "14:05", "14:05", "১৪:০৫"]
