"""/feedback SCORE [TEXT]: how satisfied a member is (1-5), with words if they like; /feedback list [PAGE]: what
the members said, newest first, for admins."""
from datetime import UTC
from zoneinfo import ZoneInfo

from core.members import leave_feedback, read_feedback
from core.results import Refused
from handlers.base import Context, Reply
from locales import AmountError, format_clock, format_day, format_number, parse_count

LIST = "list"


def _usage(ctx: Context) -> str:
    return ctx.t("Send a score from 1 (bad) to 5 (very good), and words if you like: /feedback {example} "
                 "The rice was great", example=format_number(5, ctx.lang))


async def feedback(ctx: Context, args: list[str]) -> list[Reply]:
    if args and args[0].lower() == LIST:  # never kept as feedback: a resident asked for the list
        if not await ctx.is_admin():
            return [ctx.reply(ctx.t("Only the co-op's admins can read the feedback.") + "\n" + _usage(ctx))]
        return await feedback_list(ctx, args[1:])
    try:
        score = parse_count(args[0], ctx.lang) if args else 0
    except AmountError:
        score = 0
    if await leave_feedback(ctx.services.core.uow, ctx.member.id, score, " ".join(args[1:])) is not None:
        return [ctx.reply(_usage(ctx))]
    return [ctx.reply(ctx.t("Thank you! The co-op reads every answer."))]


async def feedback_list(ctx: Context, args: list[str]) -> list[Reply]:
    """/feedback list [PAGE]: a page of answers, newest first, each with who and when (where the co-op is)."""
    try:
        page = parse_count(args[0], ctx.lang) if args else 1
    except AmountError:
        page = 0
    result = await read_feedback(ctx.services.core.uow, page) if page else Refused("no_page", {"pages": 0})
    if isinstance(result, Refused):
        return [ctx.reply(ctx.t("Send: /feedback list [PAGE], for example: /feedback list 2"))]
    if not result.total:
        return [ctx.reply(ctx.t("No feedback yet."))]
    zone = ZoneInfo(ctx.services.settings.timezone)
    lines = [ctx.tn("{count} answer, newest first:", "{count} answers, newest first:", result.total,
                    count=format_number(result.total, ctx.lang))]
    for answer in result.answers:
        at = answer.at.replace(tzinfo=UTC).astimezone(zone)
        said = dict(day=format_day(at, ctx.lang), clock=format_clock(at, ctx.lang), name=answer.name,
                    score=format_number(answer.score, ctx.lang))
        lines.append(ctx.t("{day} {clock} · {name} · {score} of 5: {text}", text=answer.text, **said) if answer.text
                     else ctx.t("{day} {clock} · {name} · {score} of 5", **said))
    page, pages = format_number(result.page, ctx.lang), format_number(result.pages, ctx.lang)
    if result.page < result.pages:
        lines.append(ctx.t("Page {page} of {pages}: /feedback list {next} shows the next.", page=page, pages=pages,
                           next=result.page + 1))
    elif result.pages > 1:
        lines.append(ctx.t("Page {page} of {pages}.", page=page, pages=pages))
    return [ctx.reply("\n".join(lines))]
