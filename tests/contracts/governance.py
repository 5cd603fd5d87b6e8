"""Helpers for governance tests: giving members veGRO and running a proposal's life cycle."""
from eth_utils import keccak

from tests.conftest import GRO, TEST_PARAMS, WEEK

FOUR_YEARS = 4 * 365 * 24 * 3600


def lock_gro(coop, member, gro_amount: int, seconds: int = FOUR_YEARS) -> None:
    """Certifies produce worth `gro_amount` (in wei of GRO) for `member` and locks it all."""
    grams = gro_amount * 1000 // (10 * GRO)  # the test deployment pays 10 GRO per kg
    minted = coop.certify(member, grams)
    escrow = coop.contracts.escrow
    coop.tx(coop.contracts.gro.functions.approve(escrow.address, minted), member)
    coop.tx(escrow.functions.createLock(minted, coop.chain.now() + seconds), member)


def propose(coop, proposer, calls, description="Raise the GRO rate"):
    """Proposes `calls` [(contract, function call)] and returns (proposal id, the proposal's arguments)."""
    targets = [contract.address for contract, _ in calls]
    values = [0] * len(calls)
    calldatas = [call._encode_transaction_data() for _, call in calls]
    description = f"{description} #{keccak(text=str(coop.chain.now())).hex()[:8]}"
    receipt = coop.tx(coop.contracts.governor.functions.propose(targets, values, calldatas, description), proposer)
    created = coop.contracts.governor.events.ProposalCreated().process_receipt(receipt)[0]["args"]
    return created["proposalId"], (targets, values, calldatas, keccak(text=description))


def start_voting(coop) -> None:
    coop.chain.advance(TEST_PARAMS.voting_delay + 1)


def end_voting(coop) -> None:
    coop.chain.advance(TEST_PARAMS.voting_period + 1)


def vote(coop, member, proposal_id, support: int, votes: int | None = None):
    """Casts `votes` quadratic votes (None: as many as the credits allow). support: 0 against, 1 for, 2 abstain."""
    governor = coop.contracts.governor.functions
    if votes is None:
        return coop.tx(governor.castVote(proposal_id, support), member)
    params = votes.to_bytes(32, "big")
    return coop.tx(governor.castVoteWithReasonAndParams(proposal_id, support, "", params), member)


def wait_guardian_window(coop) -> None:
    """After end_voting: lets the guardian window pass, so a privileged proposal can be queued."""
    coop.chain.advance(TEST_PARAMS.guardian_window)


def queue_and_execute(coop, proposal, caller):
    governor = coop.contracts.governor.functions
    coop.tx(governor.queue(*proposal), caller)
    coop.chain.advance(TEST_PARAMS.timelock_delay + 1)
    return coop.tx(governor.execute(*proposal), caller)


STATE = {name: i for i, name in enumerate(
    ["Pending", "Active", "Canceled", "Defeated", "Succeeded", "Queued", "Expired", "Executed"])}
NEW_RATE = 20 * GRO


def rate_proposal(coop, proposer):
    """An ordinary proposal: raise the GRO rate to NEW_RATE."""
    gro = coop.contracts.gro
    return propose(coop, proposer, [(gro, gro.functions.setRatePerKg(NEW_RATE))])


def state(coop, proposal_id):
    return coop.contracts.governor.functions.state(proposal_id).call()


def whale_vote(coop, whale_position: int):
    """One member with two thirds of all locked veGRO (100 credits, 10 votes) votes for; three with 16
    credits each (4 votes each) vote against; the whale casts at `whale_position` in that order. Returns
    the state after the deadline and the votes."""
    whale, *small = coop.members[:4]
    lock_gro(coop, whale, 101 * GRO)
    for member in small:
        lock_gro(coop, member, 17 * GRO)
    proposal_id, _ = rate_proposal(coop, whale)
    start_voting(coop)
    voters = list(small)
    voters.insert(whale_position, whale)
    for voter in voters:
        vote(coop, voter, proposal_id, 1 if voter == whale else 0)
        assert state(coop, proposal_id) == STATE["Active"]  # nobody's cast ends the vote
    end_voting(coop)
    return state(coop, proposal_id), coop.contracts.governor.functions.proposalVotes(proposal_id).call()


__all__ = ["FOUR_YEARS", "NEW_RATE", "STATE", "WEEK", "end_voting", "lock_gro", "propose", "queue_and_execute",
           "rate_proposal", "start_voting", "state", "vote", "wait_guardian_window", "whale_vote"]
