"""A member's money and voting power."""
from handlers.base import Context, Reply, Services
from locales import format_gro, format_money


async def balances(services: Services, member_id: str) -> tuple[int, int, int]:
    """Food-USD (6 decimals), GRO and veGRO (18 decimals) of the member's account."""
    address = await services.wallet(member_id)
    c = services.contracts
    return (await services.read(c.food_usd.functions.balanceOf(address).call),
            await services.read(c.gro.functions.balanceOf(address).call),
            await services.read(c.escrow.functions.getVotes(address).call))


async def balance(ctx: Context, args: list[str]) -> list[Reply]:
    """/balance: Food-USD, GRO and voting power."""
    fusd, gro, power = await balances(ctx.services, ctx.member.member_id)
    return [ctx.reply("\n".join([
        ctx.t("Your Food-USD balance is {amount}.", amount=format_money(fusd, ctx.lang)),
        ctx.t("GroToken: {amount} GRO.", amount=format_gro(gro, ctx.lang)),
        ctx.t("Voting power: {amount}.", amount=format_gro(power, ctx.lang)),
    ]))]
