"""`coop demo`: the pilot walkthrough on embedded defaults. For now it shows the on-chain layer."""
import math
from decimal import Decimal
from typing import TextIO

from eth_utils import keccak

from chain import DeployParams, deploy_system, send, start_tester
from chain.ledger import FOOD_USD as FUSD, GRO


def _usd(minor_units: int) -> str:
    return f"${Decimal(minor_units) / FUSD:,.2f}"


def run_demo(out: TextIO) -> int:
    say = lambda text="": print(text, file=out, flush=True)  # noqa: E731
    say("Co-op Assistant demo: the co-op's contracts on an in-process chain (nothing leaves this machine).")
    chain = start_tester()
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    params = DeployParams(voting_delay=60, voting_period=3600)
    coop = deploy_system(chain.w3, deployer, keys.roles(guardian.address), params)
    say(f"Deployed the co-op's contracts ({coop.total_gas:,} gas in all).")

    residents = {name: chain.new_account() for name in ("Ana", "Rahim", "Claire")}
    for name, account in residents.items():
        send(chain.w3, coop.registry.functions.addMember(account.address, keccak(text=name)), keys.registrar)
        send(chain.w3, coop.food_usd.functions.recordDeposit(account.address, 200 * FUSD, keccak(text=f"cash-{name}")),
             keys.treasurer)
    say(f"Registered {len(residents)} residents; each brought $200.00 in cash, now Food-USD.")

    price = 18_500_000  # $18.50 a bag
    deadline = chain.now() + 7 * 24 * 3600
    send(chain.w3, coop.group_buy.functions.createOrder(
        supplier.address, keccak(text="rice-20lb"), price, 9, 3, 4, 1, deadline), keys.treasurer)
    say(f"Opened order 1: 9 bags of rice at {_usd(price)} (at least 3, at most 4 per member).")
    for name, units in (("Ana", 4), ("Rahim", 3), ("Claire", 2)):
        account = residents[name]
        send(chain.w3, coop.food_usd.functions.approve(coop.group_buy.address, units * price), account)
        send(chain.w3, coop.group_buy.functions.join(1, units), account)
        say(f"  {name} joins with {units} bags ({_usd(units * price)}).")
    paid = coop.food_usd.functions.balanceOf(supplier.address).call()
    say(f"The order reached its target and executed by itself: the supplier was paid {_usd(paid)}.")
    for name, account in residents.items():
        say(f"  {name}'s Food-USD now: {_usd(coop.food_usd.functions.balanceOf(account.address).call())}")

    ana = residents["Ana"]
    send(chain.w3, coop.gro.functions.certify(ana.address, keccak(text="batch-lettuce-1"), 12_500, 1), keys.certifier)
    gro = coop.gro.functions.balanceOf(ana.address).call()
    say(f"Ana's 12.5 kg of lettuce was certified: she earned {gro / GRO:g} GRO.")
    send(chain.w3, coop.gro.functions.approve(coop.escrow.address, gro), ana)
    send(chain.w3, coop.escrow.functions.createLock(gro, chain.now() + 4 * 365 * 24 * 3600), ana)
    chain.advance(1)
    power = coop.escrow.functions.getVotes(ana.address).call()
    credits = power // GRO
    say(f"She locked it for four years: {credits} voting credits, enough for {math.isqrt(credits)} votes "
        f"(n votes cost n² credits).")
    say()
    say("To chat with the assistant yourself: .venv/bin/coop console --jsonl --admin you (one JSON line per "
        "message, see the README); the grow room's sensors with `coop simulate` beside it. Price and forecast "
        "digests come in a later issue.")
    return 0
