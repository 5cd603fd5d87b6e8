"""Proposals, proposing and quadratic voting as use cases (core/governance.py) over the in-memory ledger:
every refusal decided before anything is offered, and what is offered. The chat's paths over a real chain are
in tests/bot/test_governance.py and tests/bot/test_proposal_actions.py."""
from eth_utils import keccak
from sqlalchemy import select

from bot.store import PendingAction
from chain.artifacts import function
from chain.ledger import GRO, Balances, ProposalStatus
from core import governance
from core.governance import (ACTIVE, DEFEATED, FOR, AGAINST, PENDING, TITLE_MAX, ProposalView, ProposeTerms,
                             VoteTerms, signal_action)
from core.results import Offered, Refused
from tests.core.conftest import account
from tests.fakes import CONTRACTS

NOW = 1_800_000_000  # the in-memory chain's clock


async def offered(world) -> list[PendingAction]:
    async with world.ports.uow.read() as session:
        return list((await session.execute(select(PendingAction))).scalars())


async def a_proposal(world, proposal_id: int, title: str, state: int = ACTIVE, snapshot: int = NOW - 10,
                     deadline: int = NOW + 3600, tally: tuple[int, int, int] = (0, 0, 0)) -> None:
    """A signal proposal the governor made (in the history) in `state`."""
    targets, values, calldatas = signal_action(CONTRACTS.registry.address)
    await world.indexed("governor", "ProposalCreated", proposalId=str(proposal_id), description=title,
                        targets=targets, values=values, calldatas=calldatas)
    world.ledger.statuses[proposal_id] = ProposalStatus(state, snapshot, deadline, *tally, eta=0)


# ---- the list ----

async def test_no_proposals_lists_nothing(world):
    assert await governance.proposals(world.ports, "r_ana") == []


async def test_proposals_are_listed_with_their_state_tallies_and_times_on_the_chains_clock(world):
    await a_proposal(world, 11, "Paint the lobby\nin green", state=DEFEATED, tally=(4, 1, 0))
    await a_proposal(world, 12, "Buy a fan", snapshot=NOW + 59, deadline=NOW + 3 * 86400, state=PENDING)
    world.clock.at += 86400  # the wall clock says nothing about the governor's times
    first, second = await governance.proposals(world.ports)
    assert first == ProposalView(1, 11, "Paint the lobby", first.actions, DEFEATED, -9, 3601, 4, 1, 0)
    assert (second.number, second.title, second.state, second.opens_in, second.closes_in) == (
        2, "Buy a fan", PENDING, 60, 3 * 86400 + 1)
    assert first.voted is None and first.power is None  # no member asked about


async def test_a_members_list_says_whether_they_voted_and_their_power_once_voting_opened(world):
    await a_proposal(world, 11, "Paint the lobby")
    await a_proposal(world, 12, "Buy a fan", state=PENDING, snapshot=NOW + 59)
    world.ledger.voted.add((11, account("r_ana")))
    world.ledger.power[account("r_ana")] = 9 * GRO + 1
    voted, pending = await governance.proposals(world.ports, "r_ana")
    assert (voted.voted, voted.power, voted.credits) == (True, 9 * GRO + 1, 9)
    assert (pending.voted, pending.power, pending.credits) == (False, None, None)


async def test_only_the_newest_proposals_are_listed(world):
    for n in range(1, 13):
        await a_proposal(world, 100 + n, f"Proposal {n}")
    listed = await governance.proposals(world.ports, newest=10)
    assert [p.number for p in listed] == list(range(3, 13))


# ---- proposing ----

async def test_a_rate_proposal_from_a_member_who_is_not_an_admin_is_refused(world):
    ana = await world.member()
    result = await governance.propose(world.ports, ana.id, ana.member_id, "Cheaper GRO", 20 * GRO)
    assert result == Refused("admins_only")
    assert await offered(world) == []


async def test_a_proposal_needs_a_title_of_one_short_line(world):
    ana = await world.member()
    assert await governance.propose(world.ports, ana.id, ana.member_id, "  ") == Refused("no_title")
    assert await governance.propose(world.ports, ana.id, ana.member_id, "x" * (TITLE_MAX + 1)) == Refused(
        "long_title", {"most": TITLE_MAX})
    assert await governance.propose(world.ports, ana.id, ana.member_id, "Buy a fan\nand grant me MINTER") == Refused(
        "long_title", {"most": TITLE_MAX})
    assert await offered(world) == []


async def test_a_member_in_self_custody_cannot_propose_through_the_co_op(world):
    ana = await world.member()
    await world.exported(ana)
    assert await governance.propose(world.ports, ana.id, ana.member_id, "Buy a fan") == Refused("exported")


async def test_a_proposal_that_exists_already_is_refused(world):
    ana = await world.member()
    world.ledger.statuses[int.from_bytes(keccak(text="Buy a fan"), "big")] = ProposalStatus(ACTIVE, NOW, NOW, 0, 0, 0,
                                                                                            0)
    assert await governance.propose(world.ports, ana.id, ana.member_id, "Buy a fan") == Refused("duplicate")


async def test_a_signal_proposal_is_offered_with_the_governors_times(world):
    ana = await world.member()
    result = await governance.propose(world.ports, ana.id, ana.member_id, " Buy a fan ")
    actions = signal_action(CONTRACTS.registry.address)
    assert result == Offered(result.token, ProposeTerms("Buy a fan", actions, 60, 3 * 86400))
    [offer] = await offered(world)
    assert (offer.token, offer.kind, offer.params) == (result.token, "propose", {
        "intent": {"targets": actions[0], "values": actions[1], "calldatas": actions[2], "description": "Buy a fan"},
        "title": "Buy a fan"})


async def test_an_admins_rate_proposal_sets_the_rate_and_needs_an_admin_to_confirm(world):
    ana = await world.member()
    result = await governance.propose(world.ports, ana.id, ana.member_id, "Cheaper GRO", 20 * GRO, is_admin=True)
    calldata = "0x" + function("GroToken", "setRatePerKg").encode(20 * GRO).hex()
    assert result.terms.actions == ([CONTRACTS.gro.address], [0], [calldata])
    [offer] = await offered(world)
    assert offer.params["by_admin"] is True and offer.params["intent"]["calldatas"] == [calldata]


# ---- voting ----

async def test_voting_on_a_proposal_never_made_is_refused(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    assert await governance.vote(world.ports, ana.id, ana.member_id, 2, FOR) == Refused("no_proposal", {"number": 2})


async def test_a_vote_of_no_votes_or_an_unknown_answer_is_refused_whatever_door_sends_it(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR, 0) == Refused(
        "invalid", {"votes": 0, "support": FOR})
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, 7) == Refused(
        "invalid", {"votes": None, "support": 7})


async def test_a_member_in_self_custody_cannot_vote_through_the_co_op(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    await world.exported(ana)
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR) == Refused("exported")


async def test_voting_before_voting_opens_says_when_it_opens_and_the_members_power_now(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby", state=PENDING, snapshot=NOW + 100)
    world.ledger.now += 40
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR) == Refused(
        "not_open", {"number": 1, "opens_in": 61, "power": 0})
    world.ledger.balances_of[account(ana.member_id)] = Balances(0, 0, 39 * GRO + GRO // 2, 40 * GRO, NOW + 86400)
    assert (await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR)).facts["power"] == 39 * GRO + GRO // 2


def test_the_votes_a_power_buys_cost_their_square_in_whole_credits():
    assert [governance.votes_for(p) for p in (0, GRO - 1, GRO, 4 * GRO - 1, 4 * GRO, 39 * GRO + GRO * 87 // 100)] \
        == [0, 0, 1, 1, 2, 6]


async def test_voting_after_the_vote_ended_says_how_it_ended(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby", state=DEFEATED)
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, AGAINST) == Refused(
        "ended", {"number": 1, "state": DEFEATED})


async def test_voting_twice_is_refused(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    world.ledger.voted.add((11, account(ana.member_id)))
    world.ledger.power[account(ana.member_id)] = 9 * GRO
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR) == Refused("voted", {"number": 1})


async def test_voting_without_a_whole_credit_is_refused(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    world.ledger.power[account(ana.member_id)] = GRO - 1
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR) == Refused("no_credits", {"number": 1})


async def test_more_votes_than_the_credits_pay_for_says_the_most(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    world.ledger.power[account(ana.member_id)] = 10 * GRO
    assert await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR, 4) == Refused("too_many", {
        "number": 1, "votes": 4, "cost": 16, "credits": 10, "most": 3, "most_cost": 9})
    assert await offered(world) == []


async def test_a_vote_is_offered_with_its_cost_in_credits(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    world.ledger.power[account(ana.member_id)] = 10 * GRO
    result = await governance.vote(world.ports, ana.id, ana.member_id, 1, AGAINST, 2)
    assert result == Offered(result.token, VoteTerms(1, "Paint the lobby", signal_action(CONTRACTS.registry.address),
                                                     AGAINST, 2, 4, 10, 3))
    assert result.terms.left == 6
    [offer] = await offered(world)
    assert (offer.kind, offer.params) == ("vote", {"intent": {"proposal_id": "11", "support": AGAINST, "votes": 2},
                                                   "number": 1, "title": "Paint the lobby"})


async def test_a_vote_without_a_count_casts_the_most_the_credits_pay_for(world):
    ana = await world.member()
    await a_proposal(world, 11, "Paint the lobby")
    world.ledger.power[account(ana.member_id)] = 10 * GRO
    result = await governance.vote(world.ports, ana.id, ana.member_id, 1, FOR)
    assert (result.terms.votes, result.terms.cost, result.terms.left) == (3, 9, 1)
