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
__all__ = ["FOUR_YEARS", "STATE", "WEEK", "lock_gro", "propose", "queue_and_execute", "start_voting", "end_voting", "vote",
           "wait_guardian_window"]
