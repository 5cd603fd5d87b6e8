"""/neworder in the chat: the product and the numbers read from the admin's words, the order offered (core/admin.py)
with its terms in plain words and two buttons; the group hears of it only once the admin confirms."""
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from chain.ledger import FOOD_USD
from core import admin as use
from core.admin import DEFAULT_ORDER_DAYS, OrderTerms
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.numbers import number_problem
from locales import AmountError, format_clock, format_day, format_money, format_number, parse_amount, parse_count

# What each number after the product is, in the order they are typed.
NUMBERS = ("price", "target", "minimum", "days", "case_size")
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "'": "'", "‘": "’"}


def _usage(ctx: Context) -> str:
    return ctx.t("Send: /neworder PRODUCT UNIT_PRICE TARGET_UNITS [MIN_UNITS] [DAYS] [CASE_SIZE], for example: "
                 "/neworder rice {price} 20 10 7 5", price=format_number(Decimal("18.50"), ctx.lang, decimals=2))


def _which(ctx: Context, which: str) -> str:
    return {"price": ctx.t("The price each"), "target": ctx.t("The target (units)"),
            "minimum": ctx.t("The minimum (units)"), "days": ctx.t("The days it stays open"),
            "case_size": ctx.t("The case size")}[which]


def _is_number(word: str, lang: str) -> bool:
    """Whether `word` was meant as a number (even a mistyped one: "-5", "2.505"), not a word of the product."""
    try:
        parse_amount(word, lang)
    except AmountError as e:
        return e.code not in ("empty", "not_a_number")
    return True


def product_and_numbers(args: list[str], lang: str) -> tuple[str, list[str]]:
    """PRODUCT as typed — in quotes, or every word before the first number — and the words after it."""
    text = " ".join(args)
    closing = QUOTES.get(text[:1])
    if closing is not None and closing in text[1:]:
        end = text.index(closing, 1)
        return text[1:end].strip(), text[end + 1:].split()
    first = next((i for i, word in enumerate(args) if _is_number(word, lang)), len(args))
    return " ".join(args[:first]), args[first:]


def _wrong(ctx: Context, which: str, typed: str, error: AmountError) -> list[Reply]:
    """Which number is wrong and why, then how to send it."""
    return [ctx.reply(ctx.t("{which}: {problem}", which=_which(ctx, which), problem=number_problem(ctx, error, typed))
                      + "\n" + _usage(ctx))]


async def new_order(ctx: Context, args: list[str]) -> list[Reply]:
    """/neworder PRODUCT UNIT_PRICE TARGET_UNITS [MIN_UNITS] [DAYS] [CASE_SIZE] (confirmed first)"""
    product, words = product_and_numbers(args, ctx.lang)
    if not product or not 2 <= len(words) <= len(NUMBERS):
        return [ctx.reply(_usage(ctx))]
    typed = dict(zip(NUMBERS, words))
    try:
        price = int(parse_amount(typed["price"], ctx.lang) * FOOD_USD)
    except AmountError as e:
        return _wrong(ctx, "price", typed["price"], e)
    counts = {}
    for which, word in list(typed.items())[1:]:
        try:
            counts[which] = parse_count(word, ctx.lang)
        except AmountError as e:
            return _wrong(ctx, which, word, e)
    result = await use.new_order(ctx.services.core, ctx.member.id, ctx.services.treasurer_address,
                                 (ctx.inbound.channel, ctx.inbound.user), product, price, counts["target"],
                                 counts.get("minimum"), counts.get("days", DEFAULT_ORDER_DAYS),
                                 counts.get("case_size", 1))
    if isinstance(result, Refused):
        return _refusal(ctx, result, typed)
    return confirm.buttons(ctx, result.token, summary(ctx, result.terms))


def _refusal(ctx: Context, refused: Refused, typed: dict[str, str]) -> list[Reply]:
    f = refused.facts

    def n(value: int) -> str:
        return format_number(value, ctx.lang)

    match refused.reason:
        case "price":  # zero: said like any other bad number
            return _wrong(ctx, "price", typed["price"],
                          AmountError("zero", format_number(Decimal("18.50"), ctx.lang, decimals=2)))
        case "units":
            return _wrong(ctx, f["which"], typed.get(f["which"], "0"), AmountError("zero", n(12)))
        case "product":
            text = ctx.tn("A product's name is at most {count} character.",
                          "A product's name is at most {count} characters.", f["most"], count=n(f["most"]))
        case "minimum_over_target":
            text = ctx.t("The minimum ({minimum}) is more than the target ({target}): an order goes ahead once its "
                         "minimum is joined, so the minimum can be at most the target.",
                         minimum=n(f["minimum"]), target=n(f["target"]))
        case "days":
            text = ctx.tn("An order stays open from 1 to {count} day.", "An order stays open from 1 to {count} days.",
                          f["most"], count=n(f["most"]))
        case "whole_cases":
            return [ctx.reply(ctx.t("The supplier sells cases of {case}, so the target must be whole cases: {lower} "
                                    "or {higher}, for example.", case=n(f["case"]), lower=n(f["lower"]),
                                    higher=n(f["higher"])))]
        case _:
            raise ValueError(f"no wording for the refusal {refused.reason!r}")
    return [ctx.reply(text + "\n" + _usage(ctx))]


def summary(ctx: Context, terms: OrderTerms) -> str:
    """The order as it will open, each term on its line, the deadline where the co-op is."""
    def n(value: int) -> str:
        return format_number(value, ctx.lang)

    closes = datetime.fromtimestamp(terms.deadline, ZoneInfo(ctx.services.settings.timezone))
    lines = [ctx.t("Open this order? The group hears of it once you confirm."),
             ctx.t("Product: {product}", product=terms.product),
             ctx.t("Price: {price} each", price=format_money(terms.unit_price, ctx.lang)),
             ctx.tn("Target: {count} unit", "Target: {count} units", terms.target_units, count=n(terms.target_units)),
             ctx.tn("Goes ahead with at least {count} unit", "Goes ahead with at least {count} units",
                    terms.min_units, count=n(terms.min_units)),
             ctx.tn("Open until {day} at {clock} ({count} day)", "Open until {day} at {clock} ({count} days)",
                    terms.days, day=format_day(closes, ctx.lang), clock=format_clock(closes, ctx.lang),
                    count=n(terms.days))]
    if terms.case_size > 1:
        lines.append(ctx.t("Bought in whole cases of {case}.", case=n(terms.case_size)))
    return "\n".join(lines)
