"""Gas figures of the co-op's contracts against stock OpenZeppelin anchors deployed in the same run.

Gas is deterministic, so each figure is the median over a few members doing the same thing in the
same situation. Anchors:
- castVote: a stock OZ Governor (GovernorCountingSimple + GovernorVotes) on an ERC20Votes token with
  a timestamp clock, each voter casting after others have (not the first vote of a proposal);
- join: a Food-USD transferFrom (the token a join moves, behind the same proxy) from a member with an
  allowance to an account that already holds Food-USD;
- createLock: an ERC20Votes self-delegate plus a transfer, the two steps that give votes there.
"""
import statistics
from collections.abc import Iterator

from eth_utils import keccak

from chain import DeployParams, deploy_contract, deploy_system, send, start_tester

GRO = 10**18
DAY = 24 * 3600
VOTERS = 7


def _ratio_line(name: str, ours: float, anchor: float, goal: str) -> str:
    return f"{name}: ratio {ours / anchor:.2f} (ours {ours:,.0f} gas vs anchor {anchor:,.0f} gas) goal {goal}"


def run() -> Iterator[str]:
    chain = start_tester()
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    params = DeployParams(voting_delay=60, voting_period=3600, timelock_delay=60)
    coop = deploy_system(chain.w3, deployer, keys.roles(guardian.address), params)
    members = [chain.new_account() for _ in range(VOTERS + 1)]
    for i, m in enumerate(members):
        send(chain.w3, coop.registry.functions.addMember(m.address, keccak(text=f"bench-{i}")), keys.registrar)

    def gas(call, sender) -> int:
        return send(chain.w3, call, sender)["gasUsed"]

    # ---- join vs transferFrom ----
    fusd, gb = coop.food_usd, coop.group_buy
    price = 18_500_000
    send(chain.w3, gb.functions.createOrder(supplier.address, keccak(text="rice"), price, 1000, 10, 50, 1,
                                            chain.now() + 7 * DAY), keys.treasurer)
    send(chain.w3, fusd.functions.recordDeposit(supplier.address, 1, keccak(text="seed")), keys.treasurer)
    joins, transfers = [], []
    for i, m in enumerate(members):
        # Balances and allowances stay above zero after both, so neither earns a storage-clearing refund.
        send(chain.w3, fusd.functions.recordDeposit(m.address, 20 * price, keccak(text=f"cash-{i}")), keys.treasurer)
        send(chain.w3, fusd.functions.approve(gb.address, 10 * price), m)
        joins.append(gas(gb.functions.join(1, 5), m))
        spender = members[(i + 1) % len(members)]
        send(chain.w3, fusd.functions.approve(spender.address, 10 * price), m)
        transfers.append(gas(fusd.functions.transferFrom(m.address, supplier.address, 5 * price), spender))
    # The first join of an order pays for first writes to the order's slots: typical joins come after.
    yield _ratio_line("gas.join", statistics.median(joins[1:]), statistics.median(transfers[1:]), "<= 2.0")

    # ---- createLock vs ERC20Votes delegate + transfer ----
    token, _ = deploy_contract(chain.w3, "AnchorVotesToken", deployer)
    locks, anchors = [], []
    for i, m in enumerate(members):
        send(chain.w3, coop.gro.functions.certify(m.address, keccak(text=f"batch-{i}"), 10_000 * (i + 1), 1),
             keys.certifier)
        amount = coop.gro.functions.balanceOf(m.address).call()
        send(chain.w3, coop.gro.functions.approve(coop.escrow.address, amount), m)
        locks.append(gas(coop.escrow.functions.createLock(amount, chain.now() + 4 * 365 * DAY), m))
        send(chain.w3, token.functions.mint(deployer.address, amount), deployer)
        anchors.append(gas(token.functions.delegate(m.address), m) + gas(token.functions.transfer(m.address, amount),
                                                                          deployer))
    yield _ratio_line("gas.createLock", statistics.median(locks[1:]), statistics.median(anchors[1:]),
                      "none (reported)")

    # ---- castVote: quadratic vs simple counting ----
    anchor_gov, _ = deploy_contract(chain.w3, "AnchorGovernor", deployer, token.address)
    chain.advance(2)
    gro = coop.gro
    target = [gro.address], [0], [gro.encode_abi("setRatePerKg", args=[11 * GRO])]
    send(chain.w3, coop.governor.functions.propose(*target, "bench"), members[0])
    send(chain.w3, anchor_gov.functions.propose(*target, "bench"), members[0])
    ours_id = coop.governor.functions.hashProposal(*target, keccak(text="bench")).call()
    anchor_id = anchor_gov.functions.hashProposal(*target, keccak(text="bench")).call()
    chain.advance(61)
    ours, anchor, chosen = [], [], []
    for i, m in enumerate(members[:VOTERS]):
        support = i % 2  # alternate against and for, so no super-quorum ends the vote early
        # castVote on both: ours casts the most votes the member's credits allow.
        ours.append(gas(coop.governor.functions.castVote(ours_id, support), m))
        anchor.append(gas(anchor_gov.functions.castVote(anchor_id, support), m))
    # Choosing the number of votes (castVoteWithReasonAndParams), on a second proposal.
    send(chain.w3, coop.governor.functions.propose(*target, "bench 2"), members[0])
    second_id = coop.governor.functions.hashProposal(*target, keccak(text="bench 2")).call()
    chain.advance(61)
    for i, m in enumerate(members[:VOTERS]):
        params = (1 + i % 3).to_bytes(32, "big")
        chosen.append(gas(coop.governor.functions.castVoteWithReasonAndParams(second_id, i % 2, "", params), m))
    yield _ratio_line("gas.castVote", statistics.median(ours[2:]), statistics.median(anchor[2:]), "<= 1.25")
    yield _ratio_line("gas.castVote.withParams", statistics.median(chosen[2:]), statistics.median(anchor[2:]),
                      "none (reported: the member chooses how many votes)")
    yield f"gas.castVote.first: ratio {ours[0] / anchor[0]:.2f} (ours {ours[0]:,} gas vs anchor {anchor[0]:,} gas) " \
          "goal none (reported: the first vote also records the veGRO supply at the snapshot)"

    yield f"gas.deploy: {coop.total_gas:,} gas (absolute) goal none (reported: the whole system, proxies included)"
