"""The member's language: gettext catalogs (locales/<lang>/LC_MESSAGES/messages.po) and numbers as each language writes them.

What others may use is exported here; see locales/README.md for adding messages.
"""
from locales.amounts import (
    MAX_AMOUNT,
    MAX_COUNT,
    AmountError,
    format_clock,
    format_day,
    format_gro,
    format_list,
    format_money,
    format_number,
    parse_amount,
    parse_count,
)
from locales.translator import DEFAULT, LANGUAGES, Translator, match_language

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "AmountError",
    "Translator",
    "format_clock",
    "format_day",
    "format_gro",
    "format_list",
    "format_money",
    "format_number",
    "match_language",
    "parse_amount",
    "parse_count",
]
