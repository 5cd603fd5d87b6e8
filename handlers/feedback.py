"""/feedback SCORE [TEXT]: how satisfied a member is (1-5), with words if they like."""
from bot.store import Feedback
from handlers.base import Context, Reply
from locales import AmountError, format_number, parse_count

MAX_TEXT = 1000


async def feedback(ctx: Context, args: list[str]) -> list[Reply]:
    usage = ctx.t("Send a score from 1 (bad) to 5 (very good), and words if you like: /feedback {example} "
                  "The rice was great", example=format_number(5, ctx.lang))
    try:
        score = parse_count(args[0], ctx.lang) if args else 0
    except AmountError:
        score = 0
    if not 1 <= score <= 5:
        return [ctx.reply(usage)]
    text = " ".join(args[1:]).strip()[:MAX_TEXT] or None
    async with ctx.services.sessions() as session, session.begin():
        session.add(Feedback(member=ctx.member.id, score=score, text=text))
    return [ctx.reply(ctx.t("Thank you! The co-op reads every answer."))]
