"""A member's money and voting power."""
from functools import lru_cache

from chain import rpc
from chain.artifacts import function
from chain.rpc import Read
from handlers.base import Context, Reply, Services
from locales import format_gro, format_money


async def balances(services: Services, member_id: str) -> tuple[int, int, int]:
    """Food-USD (6 decimals), GRO and veGRO (18 decimals) of the member's account, in one node round trip."""
    address = await services.wallet(member_id)
    c = services.contracts
    reads, requests = _reads(c.food_usd.address, c.gro.address, c.escrow.address, address)
    # Fresh copies of the cached requests, so nothing downstream can alter the cache.
    responses = await services.batch([(m, [dict(p[0]), *p[1:]]) for m, p in requests])
    return tuple(read.result(response) for read, response in zip(reads, responses))


@lru_cache(maxsize=4096)
def _reads(food_usd: str, gro: str, escrow: str, address: str) -> tuple[tuple[Read, ...], tuple[rpc.Request, ...]]:
    """The three reads and their encoded requests for one account: the ABI encoding is done once per
    account; the chain is still asked on every call."""
    reads = (Read(food_usd, function("FoodUSD", "balanceOf"), (address,)),
             Read(gro, function("GroToken", "balanceOf"), (address,)),
             Read(escrow, function("VotingEscrow", "getVotes"), (address,)))
    return reads, tuple(r.request() for r in reads)


async def balance(ctx: Context, args: list[str]) -> list[Reply]:
    """/balance: Food-USD, GRO and voting power."""
    fusd, gro, power = await balances(ctx.services, ctx.member.member_id)
    return [ctx.reply("\n".join([
        ctx.t("Your Food-USD balance is {amount}.", amount=format_money(fusd, ctx.lang)),
        ctx.t("GroToken: {amount} GRO.", amount=format_gro(gro, ctx.lang)),
        ctx.t("Voting power: {amount}.", amount=format_gro(power, ctx.lang)),
    ]))]
