"""Locking GRO into the vote escrow for voting power (veGRO), after a confirmation.

Power follows Curve's model, as VotingEscrow computes it: amount / MAXTIME per second left until the
unlock time, which the escrow rounds down to a whole week and caps at four years. The preview uses the
chain's clock and the same integer arithmetic, so it shows what the member will get at the moment the
lock is confirmed (it then shrinks week by week as the unlock time nears).
"""
from decimal import Decimal

from chain.ledger import GRO_DECIMALS
from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import chain_now, exported, exported_reply, number_problem
from handlers.history import day
from locales import AmountError, format_gro, format_number, parse_amount, parse_count

WEEK = 7 * 86400
MAXTIME = 4 * 365 * 86400  # VotingEscrow.MAXTIME
MAX_WEEKS = MAXTIME // WEEK  # 208: the longest whole-week lock


def voting_power(amount: int, unlock_time: int, now: int) -> int:
    """veGRO for `amount` GRO (18 decimals) locked until `unlock_time` (VotingEscrow's arithmetic)."""
    return (amount // MAXTIME) * max(unlock_time - now, 0)


async def lock(ctx: Context, args: list[str]) -> list[Reply]:
    """/lock AMOUNT WEEKS: previews the voting power, then offers the lock for confirmation. With a lock
    already running, the amount is added to it and its unlock time stays."""
    usage = ctx.t("Send how much GRO and for how many weeks (at most {max}), for example: /lock {example}",
                  max=format_number(MAX_WEEKS, ctx.lang),
                  example=f"{format_number(Decimal('12.5'), ctx.lang)} {format_number(52, ctx.lang)}")
    if len(args) != 2:
        return [ctx.reply(usage)]
    try:
        amount = int(parse_amount(args[0], ctx.lang, decimals=2).scaleb(GRO_DECIMALS))
    except AmountError as e:
        return [ctx.reply(number_problem(ctx, e, args[0]) + "\n" + usage)]
    try:
        weeks = parse_count(args[1], ctx.lang)
    except AmountError as e:
        return [ctx.reply(number_problem(ctx, e, args[1]) + "\n" + usage)]
    if weeks > MAX_WEEKS:
        return [ctx.reply(ctx.t("GRO can be locked for at most {max} weeks (four years).",
                                max=format_number(MAX_WEEKS, ctx.lang)) + "\n" + usage)]
    if await exported(ctx):
        return exported_reply(ctx)
    account = await ctx.services.wallet(ctx.member.member_id)
    balances = await ctx.services.ledger.balances(account)
    held = balances.gro
    if amount > held:
        return [ctx.reply(ctx.t("You have {held} GRO, so you cannot lock {amount} GRO. GRO comes from certified "
                                "produce.", held=format_gro(held, ctx.lang), amount=format_gro(amount, ctx.lang)))]
    now = await chain_now(ctx)
    locked, end = balances.locked, balances.unlock_time
    if locked and end <= now:
        return [ctx.reply(ctx.t("Your earlier lock ended on {date}. Take that GRO back first; then you can lock "
                                "again.", date=day(ctx, end)))]
    if locked:
        power = voting_power(locked + amount, end, now)
        summary = ctx.t("Add {amount} GRO to your lock, which ends on {date}. Your voting power will be about "
                        "{power}. The GRO stays locked until then.", amount=format_gro(amount, ctx.lang),
                        date=day(ctx, end), power=format_gro(power, ctx.lang))
        return await confirm.offer(ctx, "increase_lock", {"intent": {"amount": str(amount)}, "until": end}, summary)
    unlock = (now + weeks * WEEK) // WEEK * WEEK
    power = voting_power(amount, unlock, now)
    summary = ctx.t("Lock {amount} GRO until {date}. It gives you about {power} voting power, which shrinks as the "
                    "date nears. You cannot take the GRO back before then.", amount=format_gro(amount, ctx.lang),
                    date=day(ctx, unlock), power=format_gro(power, ctx.lang))
    return await confirm.offer(ctx, "lock", {"intent": {"amount": str(amount), "unlock_time": unlock},
                                             "until": unlock}, summary)
