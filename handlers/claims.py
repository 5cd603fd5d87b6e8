"""/claim in the chat: what closed orders still owe the member (core/claims.py), given back in one confirmed
step, worded in the member's language."""
from core import claims as use
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import exported_reply
from locales import format_money, format_number


async def claim(ctx: Context, args: list[str]) -> list[Reply]:
    """/claim: everything closed orders owe the member, given back in one confirmed step."""
    result = await use.claim(ctx.services.core, ctx.member.id, ctx.member.member_id)
    if isinstance(result, Refused):
        match result.reason:
            case "exported":
                return exported_reply(ctx)
            case "nothing_owed":
                return [ctx.reply(ctx.t("You have nothing to get back right now. What a closed order owes you comes "
                                        "back to you by itself; /balance shows it."))]
            case _:
                raise ValueError(f"no wording for the refusal {result.reason!r}")
    terms = result.terms
    orders = ", ".join("#" + format_number(order_id, ctx.lang) for order_id, _ in terms.owed)
    summary = ctx.tn("Get back {amount} from order {orders}. Your Food-USD after: {after}.",
                     "Get back {amount} from orders {orders}. Your Food-USD after: {after}.", len(terms.owed),
                     amount=format_money(terms.total, ctx.lang), orders=orders,
                     after=format_money(terms.balance_after, ctx.lang))
    return confirm.buttons(ctx, result.token, summary)
