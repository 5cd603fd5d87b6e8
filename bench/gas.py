"""Gas figures of the co-op's contracts against stock OpenZeppelin anchors deployed in the same run.

Gas is deterministic, so each figure is the median over several members doing the same thing in the
same situation, ours and the anchor's side by side (contracts/src/anchors):
- gas.join: a member's first join of an order others already joined (GroupBuy.join, which pulls the
  Food-USD with transferFrom) vs a spender's transferFrom on a plain stock ERC-20 (AnchorToken). On
  both sides the payer starts with 20 units' worth and an allowance for 10 and pays 5 to an account
  that already holds some: no balance or allowance reaches zero, so neither earns a storage refund.
  A join does more than the transfer by nature: it also writes the member's record in a fresh slot
  (22,100 gas) and the order's running totals, through GroupBuy's and Food-USD's proxies.
- gas.createLock: two transactions each. GRO approve + VotingEscrow.createLock vs GRO approve +
  depositFor on a stock ERC20Wrapper+ERC20Votes of GRO (AnchorVotesWrapper) the member self-delegated
  on once beforehand. Each moves a quarter of the member's GRO with an exact allowance: the allowance
  is used up on both sides (the same refund) and the balance stays non-zero on both.
- gas.castVote.first / gas.castVote.later: the app's call, castVoteWithReasonAndParams with params
  abi.encode(votes), vs a stock Governor (GovernorCountingSimple + GovernorVotes over the wrapper
  above) called with castVoteWithReasonAndParams and empty params; the first vote of a fresh
  proposal, and a vote after others have voted both for and against.
"""
import statistics
from collections.abc import Iterator

from eth_utils import keccak

from chain import DeployParams, deploy_contract, deploy_system, send, start_tester

GRO = 10**18
DAY = 24 * 3600
MEMBERS = 8
ROUNDS = 3  # proposals voted on, each with a different first voter


def _ratio_line(name: str, ours: list[int], anchor: list[int], goal: str, what: str) -> str:
    a, b = statistics.median(ours), statistics.median(anchor)
    return f"{name}: ratio {a / b:.2f} (ours {a:,.0f} gas vs anchor {b:,.0f} gas) goal {goal} ({what})"


def run() -> Iterator[str]:
    chain = start_tester()
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    # Certification caps above the pilot's: the escrow figures lock up to 800 GRO each.
    params = DeployParams(voting_delay=60, voting_period=3600, timelock_delay=60, gro_max_per_batch=10**6 * GRO,
                          gro_max_per_period=10**6 * GRO)
    coop = deploy_system(chain.w3, deployer, keys.roles(guardian.address), params)
    members = [chain.new_account() for _ in range(MEMBERS)]
    for i, m in enumerate(members):
        send(chain.w3, coop.registry.functions.addMember(m.address, keccak(text=f"bench-{i}")), keys.registrar)

    def gas(call, sender) -> int:
        return send(chain.w3, call, sender)["gasUsed"]

    # ---- join vs a stock ERC-20 transferFrom ----
    fusd, gb = coop.food_usd, coop.group_buy
    token, _ = deploy_contract(chain.w3, "AnchorToken", deployer)
    price = 18_500_000
    send(chain.w3, gb.functions.createOrder(supplier.address, keccak(text="rice"), price, 1000, 10, 50, 1,
                                            chain.now() + 7 * DAY), keys.treasurer)
    send(chain.w3, token.functions.mint(supplier.address, 1), deployer)
    joins, transfers = [], []
    for i, m in enumerate(members):
        spender = members[(i + 1) % len(members)]
        send(chain.w3, fusd.functions.recordDeposit(m.address, 20 * price, keccak(text=f"cash-{i}")), keys.treasurer)
        send(chain.w3, fusd.functions.approve(gb.address, 10 * price), m)
        joins.append(gas(gb.functions.join(1, 5), m))
        send(chain.w3, token.functions.mint(m.address, 20 * price), deployer)
        send(chain.w3, token.functions.approve(spender.address, 10 * price), m)
        transfers.append(gas(token.functions.transferFrom(m.address, supplier.address, 5 * price), spender))
    # The first join also makes the order's first writes and GroupBuy's first Food-USD: typical joins come after.
    yield _ratio_line("gas.join", joins[1:], transfers[1:], "<= 2.0",
                      "ours: GroupBuy.join of 5 units, Food-USD transferFrom inside; anchor: stock ERC-20 "
                      "transferFrom; no refunds on either side")

    # ---- approve + createLock vs approve + depositFor on a stock voting wrapper ----
    gro, escrow = coop.gro, coop.escrow
    wrapper, _ = deploy_contract(chain.w3, "AnchorVotesWrapper", deployer, gro.address)
    locks, deposits = [], []
    for i, m in enumerate(members):
        send(chain.w3, gro.functions.certify(m.address, keccak(text=f"batch-{i}"), 20_000 * (i + 1), 1), keys.certifier)
        share = gro.functions.balanceOf(m.address).call() // 4  # one for each side, half the GRO stays
        send(chain.w3, wrapper.functions.delegate(m.address), m)
        chain.advance(3600)  # members lock at different times, as they would
        locks.append(gas(gro.functions.approve(escrow.address, share), m)
                     + gas(escrow.functions.createLock(share, chain.now() + 4 * 365 * DAY), m))
        deposits.append(gas(gro.functions.approve(wrapper.address, share), m)
                        + gas(wrapper.functions.depositFor(m.address, share), m))
        assert gro.functions.balanceOf(m.address).call() > 0, "no side may empty the member's GRO"
    # The first of each also makes the contract's first GRO balance and first supply checkpoint.
    yield _ratio_line("gas.createLock", locks[1:], deposits[1:], "<= 1.3",
                      "ours: GRO approve + VotingEscrow.createLock; anchor: GRO approve + depositFor on a stock "
                      "ERC20Wrapper+ERC20Votes, self-delegated before; same GRO amount, allowance used up on both")

    # ---- castVoteWithReasonAndParams: quadratic vs a stock governor ----
    anchor_gov, _ = deploy_contract(chain.w3, "AnchorGovernor", deployer, wrapper.address)
    chain.advance(2)
    target = [gro.address], [0], [gro.encode_abi("setRatePerKg", args=[11 * GRO])]
    first, later = ([], []), ([], [])
    for r in range(ROUNDS):
        description = f"bench {r}"
        ids = []
        for governor in (coop.governor, anchor_gov):
            send(chain.w3, governor.functions.propose(*target, description), members[0])
            ids.append(governor.functions.hashProposal(*target, keccak(text=description)).call())
        chain.advance(61)
        voters = members[r:] + members[:r]
        for n, m in enumerate(voters):
            support = n % 2  # against and for in turn
            votes = (1 + n % 3).to_bytes(32, "big")
            ours = gas(coop.governor.functions.castVoteWithReasonAndParams(ids[0], support, "", votes), m)
            anchor = gas(anchor_gov.functions.castVoteWithReasonAndParams(ids[1], support, "", b""), m)
            # The second voter is the anchor's first against: from the third on, both sides have each.
            sample = first if n == 0 else later if n >= 2 else None
            if sample:
                sample[0].append(ours)
                sample[1].append(anchor)
    what = "ours: castVoteWithReasonAndParams with abi.encode(votes), quadratic; anchor: stock Governor's " \
           "castVoteWithReasonAndParams with empty params, simple counting;"
    yield _ratio_line("gas.castVote.first", *first, "<= 1.25", f"{what} the first vote of a proposal")
    yield _ratio_line("gas.castVote.later", *later, "<= 1.25", f"{what} votes after others voted for and against")

    yield f"gas.deploy: {coop.total_gas:,} gas (absolute) goal none (reported: the whole system, proxies included)"
