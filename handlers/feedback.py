"""/feedback SCORE [TEXT]: how satisfied a member is (1-5), with words if they like."""
from core.members import leave_feedback
from handlers.base import Context, Reply
from locales import AmountError, format_number, parse_count


async def feedback(ctx: Context, args: list[str]) -> list[Reply]:
    usage = ctx.t("Send a score from 1 (bad) to 5 (very good), and words if you like: /feedback {example} "
                  "The rice was great", example=format_number(5, ctx.lang))
    try:
        score = parse_count(args[0], ctx.lang) if args else 0
    except AmountError:
        score = 0
    if await leave_feedback(ctx.services.core.uow, ctx.member.id, score, " ".join(args[1:])) is not None:
        return [ctx.reply(usage)]
    return [ctx.reply(ctx.t("Thank you! The co-op reads every answer."))]
