"""A member's money and voting power."""

from chain.artifacts import function
from chain.rpc import Read
from handlers.base import Context, Reply, Services
from locales import format_gro, format_money


async def balances(services: Services, member_id: str) -> tuple[int, int, int]:
    """Food-USD (6 decimals), GRO and veGRO (18 decimals) of the member's account, in one node round trip."""
    address = await services.wallet(member_id)
    c = services.contracts
    reads = [Read(c.food_usd.address, function("FoodUSD", "balanceOf"), (address,)),
             Read(c.gro.address, function("GroToken", "balanceOf"), (address,)),
             Read(c.escrow.address, function("VotingEscrow", "getVotes"), (address,))]
    responses = await services.batch([read.request() for read in reads])
    return tuple(read.result(response) for read, response in zip(reads, responses))


async def balance(ctx: Context, args: list[str]) -> list[Reply]:
    """/balance: Food-USD, GRO and voting power."""
    fusd, gro, power = await balances(ctx.services, ctx.member.member_id)
    return [ctx.reply("\n".join([
        ctx.t("Your Food-USD balance is {amount}.", amount=format_money(fusd, ctx.lang)),
        ctx.t("GroToken: {amount} GRO.", amount=format_gro(gro, ctx.lang)),
        ctx.t("Voting power: {amount}.", amount=format_gro(power, ctx.lang)),
    ]))]
