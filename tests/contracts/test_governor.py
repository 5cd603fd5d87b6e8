"""CoopGovernor: quadratic votes, members only, quorum, execution through the timelock."""
from tests.conftest import GRO
from tests.contracts.governance import (NEW_RATE, STATE, end_voting, lock_gro, propose, queue_and_execute,
                                        rate_proposal, start_voting, state, vote, wait_guardian_window, whale_vote)
from tests.helpers import events, reverts


def credits(coop, member, proposal_id):
    snapshot = coop.contracts.governor.functions.proposalSnapshot(proposal_id).call()
    return coop.contracts.escrow.functions.getPastVotes(member.address, snapshot).call() // GRO


def test_three_votes_cost_nine_credits(coop):
    a, b = coop.members[:2]
    lock_gro(coop, a, 10 * GRO)  # a little under 10 veGRO: 9 credits
    lock_gro(coop, b, 100 * GRO)
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    assert credits(coop, a, proposal_id) == 9
    receipt = vote(coop, a, proposal_id, 1, votes=3)
    (cast,) = events(receipt, coop.contracts.governor, "VoteCastWithParams")
    assert (cast["voter"], cast["support"], cast["weight"]) == (a.address, 1, 3)
    governor = coop.contracts.governor.functions
    assert governor.proposalVotes(proposal_id).call() == [0, 3, 0]
    assert governor.proposalCredits(proposal_id).call() == [0, 9, 0]
    assert governor.voteCost(3).call() == 9
    assert governor.hasVoted(proposal_id, a.address).call()


def test_four_votes_with_fifteen_credits_revert(coop):
    a = coop.members[0]
    lock_gro(coop, a, 16 * GRO)  # a little under 16 veGRO: 15 credits
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    assert credits(coop, a, proposal_id) == 15
    with reverts("QuadraticVotesExceedCredits", votes=4, cost=16, credits=15):
        vote(coop, a, proposal_id, 1, votes=4)
    assert coop.contracts.governor.functions.proposalVotes(proposal_id).call() == [0, 0, 0]
    vote(coop, a, proposal_id, 1, votes=3)  # what the credits do allow


def test_without_params_a_member_casts_all_the_votes_they_can_afford(coop):
    a = coop.members[0]
    lock_gro(coop, a, 50 * GRO)  # 49 credits
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    assert credits(coop, a, proposal_id) == 49
    receipt = vote(coop, a, proposal_id, 0)
    assert events(receipt, coop.contracts.governor, "VoteCast")[0]["weight"] == 7


def test_non_member_can_neither_vote_nor_propose(coop):
    a = coop.members[0]
    lock_gro(coop, a, 10 * GRO)
    lock_gro(coop, coop.outsider, 100 * GRO)  # has veGRO, but is not a registered resident
    with reverts("NotAMember", account=coop.outsider.address):
        rate_proposal(coop, coop.outsider)
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    with reverts("NotAMember", account=coop.outsider.address):
        vote(coop, coop.outsider, proposal_id, 1, votes=1)


def test_a_member_casts_once(coop):
    a = coop.members[0]
    lock_gro(coop, a, 10 * GRO)
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    vote(coop, a, proposal_id, 1, votes=1)
    with reverts("GovernorAlreadyCastVote", voter=a.address):
        vote(coop, a, proposal_id, 1, votes=1)


def test_a_resident_moved_to_another_account_mid_vote_casts_once(coop):
    """One cast per resident: the registrar replacing a resident's account does not give a second one (the
    new account was no member at the snapshot, and the resident has voted)."""
    a = coop.members[0]
    registry = coop.contracts.registry.functions
    lock_gro(coop, a, 10 * GRO)
    lock_gro(coop, coop.outsider, 40 * GRO)  # the resident's new account has veGRO at the snapshot too
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    vote(coop, a, proposal_id, 1, votes=3)
    resident = registry.residentOf(a.address).call()
    coop.tx(registry.removeMember(a.address), coop.registrar)
    coop.tx(registry.addMember(coop.outsider.address, resident), coop.registrar)
    assert coop.contracts.governor.functions.hasVoted(proposal_id, coop.outsider.address).call()
    with reverts("NotAMember", account=coop.outsider.address):
        vote(coop, coop.outsider, proposal_id, 1, votes=1)
    assert coop.contracts.governor.functions.proposalVotes(proposal_id).call() == [0, 3, 0]


def test_voting_before_the_snapshot_is_refused(coop):
    a = coop.members[0]
    lock_gro(coop, a, 10 * GRO)
    proposal_id, _ = rate_proposal(coop, a)
    with reverts("GovernorUnexpectedProposalState"):
        vote(coop, a, proposal_id, 1, votes=1)


def test_passed_proposal_is_queued_and_executed_by_a_third_party(coop):
    a, b, c = coop.members[:3]
    for member in (a, b, c):
        lock_gro(coop, member, 30 * GRO)
    proposal_id, proposal = rate_proposal(coop, a)
    assert state(coop, proposal_id) == STATE["Pending"]
    start_voting(coop)
    assert state(coop, proposal_id) == STATE["Active"]
    vote(coop, a, proposal_id, 1, votes=5)
    vote(coop, b, proposal_id, 0, votes=4)
    end_voting(coop)
    assert state(coop, proposal_id) == STATE["Succeeded"]
    receipt = queue_and_execute(coop, proposal, coop.outsider)  # not a member, holds no role
    assert events(receipt, coop.contracts.governor, "ProposalExecuted") == [{"proposalId": proposal_id}]
    assert state(coop, proposal_id) == STATE["Executed"]
    assert coop.contracts.gro.functions.ratePerKg().call() == NEW_RATE


def test_more_votes_against_defeats(coop):
    a, b = coop.members[:2]
    lock_gro(coop, a, 30 * GRO)
    lock_gro(coop, b, 30 * GRO)
    proposal_id, proposal = rate_proposal(coop, a)
    start_voting(coop)
    vote(coop, a, proposal_id, 1, votes=3)
    vote(coop, b, proposal_id, 0, votes=4)
    end_voting(coop)
    assert state(coop, proposal_id) == STATE["Defeated"]
    with reverts("GovernorUnexpectedProposalState"):
        coop.tx(coop.contracts.governor.functions.queue(*proposal), coop.outsider)


def test_quadratic_votes_let_many_small_holders_outvote_one_large(coop):
    """One member with 100 credits has 10 votes; three with 16 credits have 12 between them."""
    assert whale_vote(coop, 3) == (STATE["Defeated"], [12, 10, 0])  # the whale last: two thirds of all veGRO


def test_without_quorum_a_proposal_fails(coop):
    """Quorum is 10% of all veGRO: a member with 5% voting alone is not enough."""
    big, small = coop.members[:2]
    lock_gro(coop, big, 95 * GRO)
    lock_gro(coop, small, 5 * GRO)
    proposal_id, _ = rate_proposal(coop, small)
    start_voting(coop)
    vote(coop, small, proposal_id, 1, votes=1)
    end_voting(coop)
    assert state(coop, proposal_id) == STATE["Defeated"]


def test_abstain_counts_toward_quorum(coop):
    big, small, abstainer = coop.members[:3]
    lock_gro(coop, big, 80 * GRO)
    lock_gro(coop, small, 5 * GRO)
    lock_gro(coop, abstainer, 15 * GRO)
    proposal_id, _ = rate_proposal(coop, small)
    start_voting(coop)
    vote(coop, small, proposal_id, 1, votes=1)
    vote(coop, abstainer, proposal_id, 2, votes=0)
    assert coop.contracts.governor.functions.proposalVotes(proposal_id).call() == [0, 1, 0]
    end_voting(coop)
    assert state(coop, proposal_id) == STATE["Succeeded"]


def test_governance_settings_change_only_by_proposal(coop):
    governor = coop.contracts.governor
    a = coop.members[0]
    lock_gro(coop, a, 50 * GRO)
    with reverts("GovernorOnlyExecutor"):
        coop.tx(governor.functions.updateQuorumNumerator(20), a)
    _, proposal = propose(coop, a, [(governor, governor.functions.updateQuorumNumerator(20))])
    start_voting(coop)
    vote(coop, a, governor.functions.hashProposal(*proposal).call(), 1)
    end_voting(coop)
    wait_guardian_window(coop)  # a governance setting is a privileged action
    queue_and_execute(coop, proposal, coop.outsider)
    assert governor.functions.quorumNumerator().call() == 20


def test_counting_mode_and_clock(coop):
    governor = coop.contracts.governor.functions
    assert governor.COUNTING_MODE().call() == "support=bravo&quorum=for,abstain&params=votes"
    assert governor.CLOCK_MODE().call() == "mode=timestamp"

