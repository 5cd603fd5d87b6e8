"""A member's money and voting power."""
from chain.ledger import Balances
from handlers.base import Context, Reply, Services
from locales import format_gro, format_money


async def balances(services: Services, member_id: str) -> Balances:
    """The member's account's Food-USD, GRO, veGRO and lock, in one node round trip."""
    return await services.ledger.balances(await services.wallet(member_id))


async def balance(ctx: Context, args: list[str]) -> list[Reply]:
    """/balance: Food-USD, GRO and voting power."""
    held = await balances(ctx.services, ctx.member.member_id)
    return [ctx.reply("\n".join([
        ctx.t("Your Food-USD balance is {amount}.", amount=format_money(held.food_usd, ctx.lang)),
        ctx.t("GroToken: {amount} GRO.", amount=format_gro(held.gro, ctx.lang)),
        ctx.t("Voting power: {amount}.", amount=format_gro(held.voting_power, ctx.lang)),
    ]))]
