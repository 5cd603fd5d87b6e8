"""Amounts and counts, shown and read the way the member's language writes them (CLDR data through Babel)."""
import functools
import re
import unicodedata
from datetime import datetime
from decimal import Decimal

from babel import Locale, dates, lists, numbers

from locales.translator import match_language

FUSD_DECIMALS = 6  # Food-USD on chain
GRO_DECIMALS = 18  # GroToken on chain
MAX_AMOUNT = Decimal(1_000_000)  # more than the co-op ever moves at once: a typo, not a purchase
MAX_COUNT = 1_000_000

# Babel applies a numbering system's symbols but not its digits, so we substitute them ourselves.
_DIGITS = {"beng": "০১২৩৪৫৬৭৮৯"}
_TO_NATIVE = {ns: str.maketrans("0123456789", digits) for ns, digits in _DIGITS.items()}

_SPACES = "\u0020\u00a0\u202f\u2009\u2007"  # space, no-break, narrow no-break (fr), thin, figure space
_MINUS = "-\u2212\u2012\u2013"  # hyphen-minus, minus sign, figure dash, en dash
_CURRENCY = r"(?:US\s*\$|\$\s*US|USD|US|\$)"
_LEADING_CURRENCY = re.compile(rf"^{_CURRENCY}\s*", re.IGNORECASE)
_TRAILING_CURRENCY = re.compile(rf"\s*{_CURRENCY}$", re.IGNORECASE)
_MAX_DIGITS = 40  # before building a Decimal from what someone typed


class AmountError(ValueError):
    """What a member typed is not an acceptable amount; the chat layer words `code` in their language.

    code: empty | not_a_number | negative | too_many_decimals | zero | too_large
    example: a well-formed amount in the member's language ("12,50", "১২.৫০") to show them.
    """

    CODES = ("empty", "not_a_number", "negative", "too_many_decimals", "zero", "too_large")

    def __init__(self, code: str, example: str = "") -> None:
        assert code in self.CODES, code
        super().__init__(code)
        self.code = code
        self.example = example


@functools.cache
def _locale(lang: str) -> Locale:
    return Locale.parse(match_language(lang))


def _native(text: str, locale: Locale) -> str:
    table = _TO_NATIVE.get(locale.default_numbering_system)
    return text.translate(table) if table else text


def _fixed_pattern(locale: Locale, decimals: int) -> str:
    """The locale's decimal pattern (its grouping: "#,##0" or "#,##,##0") with exactly `decimals` decimals."""
    integer = locale.decimal_formats[None].pattern.split(";")[0].split(".")[0]
    return integer + ("." + "0" * decimals if decimals else "")


def format_money(minor_units: int, lang: str) -> str:
    """Food-USD (6 decimals on chain) as dollars and cents, as CLDR writes USD in lang: "$12.50", "12,50 US$".

    Cents are rounded down, never up (toward minus infinity): a balance is never shown larger than it is.
    """
    locale = _locale(lang)
    cents = minor_units // 10 ** (FUSD_DECIMALS - 2)
    return _native(numbers.format_currency(Decimal(cents).scaleb(-2), "USD", locale=locale), locale)


def format_gro(wei: int, lang: str) -> str:
    """GroToken (18 decimals on chain) with up to 2 decimals ("12.5", "12"), rounded down like money."""
    locale = _locale(lang)
    hundredths = wei // 10 ** (GRO_DECIMALS - 2)
    return _native(numbers.format_decimal(Decimal(hundredths).scaleb(-2), locale=locale), locale)


def format_number(value: int | Decimal | float, lang: str, decimals: int | None = None) -> str:
    """A number with the language's grouping, decimal sign and digits.

    decimals=None shows the value as it is (an int as an int); decimals=k shows exactly k decimals,
    rounded half to even (use format_money for money: it rounds down).
    """
    locale = _locale(lang)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if decimals is None:
        text = numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    else:
        text = numbers.format_decimal(value, format=_fixed_pattern(locale, decimals), locale=locale)
    return _native(text, locale)


def format_day(moment: datetime, lang: str) -> str:
    """A date as the language writes it, medium length: "Nov 25, 2026", "25 nov 2026", "২৫ নভে, ২০২৬"."""
    locale = _locale(lang)
    return _native(dates.format_date(moment, "medium", locale=locale), locale)


def format_clock(moment: datetime, lang: str) -> str:
    """A time of day on the 24-hour clock with the language's digits: "14:30", "১৪:৩০"."""
    locale = _locale(lang)
    return _native(dates.format_time(moment, "HH:mm", locale=locale), locale)


def format_list(items: list[str], lang: str) -> str:
    """Names joined the language's way (CLDR): "tank1, tank2, and tank3", "tank1, tank2 y tank3"."""
    return lists.format_list(items, locale=_locale(lang))


def _example(lang: str, decimals: int) -> str:
    return format_number(Decimal("12.50"), lang, decimals=min(decimals, 2))


def parse_amount(text: str, lang: str, decimals: int = 2, *, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """What a member typed as an amount: "12.50", "12,50", "$12.50", "12,50 $", "1.234,50", "1 234,50", "১২.৫০".

    ASCII and Bengali digits are read in every language. With a single "." or ",", it is the decimal
    sign unless it is lang's grouping sign followed by exactly three digits ("1.234" is 1234 in es,
    "1,234" is 1234 in en, "12,50" is 12.50 everywhere). Raises AmountError.
    """
    try:
        return _parse(text, lang, decimals, maximum)
    except AmountError as e:
        e.example = _example(lang, decimals)
        raise


def parse_count(text: str, lang: str, *, maximum: int = MAX_COUNT) -> int:
    """A whole number greater than zero (units, days, an order's number), read like parse_amount."""
    try:
        value = _parse(text, lang, 0, Decimal(maximum))
        if value == 0:
            raise AmountError("zero")
    except AmountError as e:
        e.example = format_number(12, lang)
        raise
    return int(value)


def _parse(text: str, lang: str, decimals: int, maximum: Decimal) -> Decimal:
    s = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in (text or "").strip())
    if not s:
        raise AmountError("empty")
    negative = False
    for _ in range(2):  # "-$5" and "$-5"
        if s[0] in _MINUS:
            negative, s = True, s[1:].lstrip()
        elif s[0] == "+":
            s = s[1:].lstrip()
        s = _LEADING_CURRENCY.sub("", s)
        if not s:
            raise AmountError("not_a_number")
    s = _TRAILING_CURRENCY.sub("", s)
    for space in _SPACES:
        s = s.replace(space, " ")
    whole, fraction = _split(s, _locale(lang))
    if len(whole) > _MAX_DIGITS or len(fraction) > _MAX_DIGITS:
        raise AmountError("too_large")
    value = Decimal(f"{whole or '0'}.{fraction or '0'}")
    if negative and value:
        raise AmountError("negative")
    if len(fraction.rstrip("0")) > decimals:
        raise AmountError("too_many_decimals")
    if value > maximum:
        raise AmountError("too_large")
    return value.quantize(Decimal(1).scaleb(-decimals)) if decimals else Decimal(int(value))


def _split(s: str, locale: Locale) -> tuple[str, str]:
    """Digits before and after the decimal sign, the grouping checked and removed."""
    if not re.fullmatch(r"[0-9]*(?:[., ][0-9]+)*[.,]?[0-9]*", s) or not re.search(r"[0-9]", s):
        raise AmountError("not_a_number")
    separators = [c for c in s if c in ". ,"]
    if not separators:
        return s, ""
    last = separators[-1]
    if last == " ":
        decimal_at = None  # a space only ever groups
    elif separators.count(last) > 1:
        decimal_at = None  # "1.234.567", "1,234,567"
    elif len(set(separators)) > 1:
        decimal_at = s.rindex(last)  # "1.234,50", "1 234,50", "1,234.50"
    else:
        after = s[s.rindex(last) + 1:]
        groups = last == numbers.get_group_symbol(locale) and len(after) == 3
        decimal_at = None if groups else s.rindex(last)
    whole, fraction = (s, "") if decimal_at is None else (s[:decimal_at], s[decimal_at + 1:])
    return _ungroup(whole), fraction


def _ungroup(whole: str) -> str:
    seps = {c for c in whole if not c.isdigit()}
    if not seps:
        return whole
    if len(seps) > 1:
        raise AmountError("not_a_number")
    groups = whole.split(seps.pop())
    # Thousands (1,234,567) or the lakh grouping Bengali uses (12,34,567): 1-3 digits, then 2-3, then 3.
    if not (1 <= len(groups[0]) <= 3 and all(len(g) in (2, 3) for g in groups[1:-1]) and len(groups[-1]) == 3):
        raise AmountError("not_a_number")
    return "".join(groups)
