"""A resident's money in the chat: /balance, /send to a neighbour, /redeem GRO for produce (core/wallet.py)."""
from decimal import Decimal

from chain.ledger import FOOD_USD_DECIMALS, GRO_DECIMALS
from core import wallet as use
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import exported_reply, power_text
from handlers.history import day
from handlers.numbers import bad_number
from handlers.residents import find_member
from locales import AmountError, format_gro, format_money, format_number, parse_amount


async def balance(ctx: Context, args: list[str]) -> list[Reply]:
    """/balance: Food-USD, GRO (held, and locked until when) and voting power with the votes it buys."""
    held = await use.balances(ctx.services.core, ctx.member.member_id)
    lines = [ctx.t("Your Food-USD balance is {amount}.", amount=format_money(held.food_usd, ctx.lang)),
             ctx.t("GroToken: {amount} GRO.", amount=format_gro(held.gro, ctx.lang))]
    if held.locked:  # not spendable, yet the member's: said, so it does not look gone
        lines.append(ctx.t("Locked for voting: {amount} GRO until {date} (/unlock gives it back from then).",
                           amount=format_gro(held.locked, ctx.lang), date=day(ctx, held.unlock_time)))
    lines.append(power_text(ctx, held.voting_power))
    return [ctx.reply("\n".join(lines))]


def refusal(ctx: Context, refused: Refused, typed_member: str = "") -> list[Reply]:
    """A wallet use case's refusal (core/wallet.py) in the member's words."""
    f = refused.facts
    match refused.reason:
        case "exported":
            return exported_reply(ctx)
        case "no_member":
            text = ctx.t("There is no member called {name}.", name=typed_member)
        case "to_self":
            text = ctx.t("That is you. To send Food-USD to a neighbour, name them: /send MEMBER AMOUNT.")
        case "not_positive":
            text = ctx.t("The amount must be more than zero.")
        case "over_balance":
            text = ctx.t("You have {balance}, so you cannot send {amount}. To top up, give an admin cash and they "
                         "will record a deposit for you.", balance=format_money(f["balance"], ctx.lang),
                         amount=format_money(f["amount"], ctx.lang)) + confirm.on_its_way(ctx, f["on_its_way"])
        case "over_held":
            text = ctx.t("You have {held} GRO to spend, so you cannot redeem {amount} GRO.",
                         held=format_gro(f["held"], ctx.lang), amount=format_gro(f["amount"], ctx.lang)) \
                + confirm.on_its_way(ctx, gro=f["on_its_way"])
            if f["locked"]:
                text += " " + ctx.t("Your {locked} GRO locked for voting cannot be spent until {date}.",
                                    locked=format_gro(f["locked"], ctx.lang), date=day(ctx, f["unlock_time"]))
        case _:
            raise ValueError(f"no wording for the refusal {refused.reason!r}")
    return [ctx.reply(text)]


async def send(ctx: Context, args: list[str]) -> list[Reply]:
    """/send MEMBER AMOUNT: Food-USD to a neighbour, after a confirmation. MEMBER is named as admins name
    members (handlers/residents.py): their @username, their phone number with its +, or `channel:id` — never
    a display name, which anyone could take."""
    usage = ctx.t("Send who and how much, for example: /send @ana {amount}. Name them by their @username, or by "
                  "their phone number with its + if they use WhatsApp.",
                  amount=format_number(Decimal("5.00"), ctx.lang, decimals=2))
    if len(args) != 2:
        return [ctx.reply(usage)]
    try:
        amount = int(parse_amount(args[1], ctx.lang).scaleb(FOOD_USD_DECIMALS))
    except AmountError as e:
        return bad_number(ctx, e, args[1], usage)
    recipient, unknown = await find_member(ctx, args[0])
    if unknown is not None:
        return [unknown]
    result = await use.send(ctx.services.core, ctx.member.id, ctx.member.member_id, recipient.id, amount)
    if isinstance(result, Refused):
        return refusal(ctx, result, args[0])
    terms = result.terms
    summary = ctx.t("Send {amount} to {name}? Your Food-USD after: {after}. It cannot be taken back.",
                    amount=format_money(terms.amount, ctx.lang), name=terms.to_name,
                    after=format_money(terms.balance_after, ctx.lang)) + confirm.on_its_way(ctx, terms.on_its_way)
    return confirm.buttons(ctx, result.token, summary)


async def redeem(ctx: Context, args: list[str]) -> list[Reply]:
    """/redeem AMOUNT [ITEM]: GRO spent (burned) on produce taken from the grow room, after a confirmation."""
    usage = ctx.t("Send how much GRO and, if you like, what you took, for example: /redeem {amount} lettuce",
                  amount=format_number(Decimal("2.5"), ctx.lang))
    if not args:
        return [ctx.reply(usage)]
    try:
        amount = int(parse_amount(args[0], ctx.lang).scaleb(GRO_DECIMALS))
    except AmountError as e:
        return bad_number(ctx, e, args[0], usage)
    result = await use.redeem(ctx.services.core, ctx.member.id, ctx.member.member_id, amount, " ".join(args[1:]))
    if isinstance(result, Refused):
        return refusal(ctx, result)
    terms = result.terms
    what = dict(amount=format_gro(terms.amount, ctx.lang), after=format_gro(terms.gro_after, ctx.lang))
    if terms.item:
        summary = ctx.t("Redeem {amount} GRO for {item}? It is spent for good. Your GRO after: {after}.",
                        item=terms.item, **what)
    else:
        summary = ctx.t("Redeem {amount} GRO for produce from the grow room? It is spent for good. Your GRO "
                        "after: {after}.", **what)
    summary += confirm.on_its_way(ctx, gro=terms.on_its_way)
    return confirm.buttons(ctx, result.token, summary)
