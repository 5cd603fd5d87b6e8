"""Numbers a member mistyped, worded the same way by every command that reads one: one sentence per kind of
mistake (not a number, negative, zero, too many decimals, too large), with an example written their way."""
from handlers.base import Context, Reply
from locales import AmountError


def number_problem(ctx: Context, error: AmountError, typed: str) -> str:
    """What was wrong with a number the member typed, with an example written their way."""
    texts = {
        "negative": ctx.t("“{typed}” is negative; it must be more than zero. For example: {example}",
                          typed=typed, example=error.example),
        "too_many_decimals": ctx.t("“{typed}” has too many decimals. For example: {example}",
                                   typed=typed, example=error.example),
        "zero": ctx.t("“{typed}” is zero; it must be more than zero. For example: {example}",
                      typed=typed, example=error.example),
        "too_large": ctx.t("“{typed}” is too large. For example: {example}", typed=typed, example=error.example),
    }
    return texts.get(error.code, ctx.t("“{typed}” is not a number I can read. For example: {example}",
                                       typed=typed, example=error.example))


def bad_number(ctx: Context, error: AmountError, typed: str, usage: str) -> list[Reply]:
    """The reply to a mistyped number: what was wrong with it, then how the command is written."""
    return [ctx.reply(number_problem(ctx, error, typed) + "\n" + usage)]
