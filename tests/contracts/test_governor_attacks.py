"""The review's ways to take the co-op's governance, each now failing: a whale ending a vote by voting first,
residents registered after the snapshot, and a role grant pushed through before anyone can react."""
import os

from eth_utils import keccak

from chain.deploy import ZERO_ADDRESS
from chain.transact import deploy_contract
from tests.conftest import GRO, TEST_PARAMS
from tests.contracts.governance import (NEW_RATE, STATE, end_voting, lock_gro, propose, queue_and_execute,
                                        rate_proposal, start_voting, state, vote, wait_guardian_window, whale_vote)
from tests.helpers import events, reverts

def test_a_whale_voting_first_does_not_end_the_vote(coop):
    """Review: with an early pass measured in veGRO, the whale's first cast passed the proposal and every later
    cast reverted. Now the others still vote, and the outcome is the one with the whale voting last."""
    outcomes = []
    for position in (0, 1, 3):  # first, in the middle, last
        snapshot = coop.chain.snapshot()
        try:
            outcomes.append(whale_vote(coop, position))
        finally:
            coop.chain.revert(snapshot)
    assert outcomes == [(STATE["Defeated"], [12, 10, 0])] * 3


def test_a_resident_registered_after_the_snapshot_cannot_vote(coop):
    registry = coop.contracts.registry.functions
    a = coop.members[0]
    newcomer = coop.outsider
    lock_gro(coop, a, 10 * GRO)
    lock_gro(coop, newcomer, 100 * GRO)  # veGRO at the snapshot, but no member then
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    coop.tx(registry.addMember(newcomer.address, keccak(text="made-up resident")), coop.registrar)
    assert registry.isMember(newcomer.address).call()
    with reverts("NotAMember", account=newcomer.address):
        vote(coop, newcomer, proposal_id, 1)
    assert not coop.contracts.governor.functions.hasVoted(proposal_id, newcomer.address).call()


def test_a_member_removed_after_the_snapshot_still_votes(coop):
    registry = coop.contracts.registry.functions
    a, b = coop.members[:2]
    lock_gro(coop, a, 10 * GRO)
    lock_gro(coop, b, 30 * GRO)
    proposal_id, _ = rate_proposal(coop, a)
    start_voting(coop)
    coop.tx(registry.removeMember(b.address), coop.registrar)
    vote(coop, b, proposal_id, 0, votes=5)
    governor = coop.contracts.governor.functions
    assert governor.hasVoted(proposal_id, b.address).call()
    assert governor.proposalVotes(proposal_id).call() == [5, 0, 0]
    # Proposing needs membership now.
    with reverts("NotAMember", account=b.address):
        rate_proposal(coop, b)


def test_an_operator_made_resident_cannot_grant_itself_the_upgrade_right_past_the_guardian(coop):
    """Review: the operator registered a made-up resident, certified it 10,000 GRO, locked it, proposed granting
    itself UPGRADER_ROLE on GroupBuy, voted once and executed it after the delays. Now the vote passes but the
    proposal cannot be queued during the guardian window, and the guardian cancels it."""
    registry, gb, governor = coop.contracts.registry, coop.contracts.group_buy, coop.contracts.governor
    fake = coop.outsider
    coop.tx(registry.functions.addMember(fake.address, keccak(text="made-up resident")), coop.registrar)
    lock_gro(coop, fake, 10_000 * GRO)
    upgrader = gb.functions.UPGRADER_ROLE().call()
    proposal_id, proposal = propose(coop, fake, [(gb, gb.functions.grantRole(upgrader, fake.address))],
                                    "Buy a fan")
    assert governor.functions.isPrivileged(*proposal[:3]).call()
    start_voting(coop)
    vote(coop, fake, proposal_id, 1)
    end_voting(coop)
    assert state(coop, proposal_id) == STATE["Succeeded"]
    queueable_at = governor.functions.proposalDeadline(proposal_id).call() + TEST_PARAMS.guardian_window
    with reverts("PrivilegedProposalInGuardianWindow", proposalId=proposal_id, queueableAt=queueable_at):
        coop.tx(governor.functions.queue(*proposal), fake)
    with reverts("GovernorUnableToCancel"):  # only the guardian cancels a proposal past pending
        coop.tx(governor.functions.cancel(*proposal), fake)
    receipt = coop.tx(governor.functions.cancel(*proposal), coop.guardian)  # the board's Safe
    assert events(receipt, governor, "ProposalCanceled") == [{"proposalId": proposal_id}]
    wait_guardian_window(coop)
    with reverts("GovernorUnexpectedProposalState"):
        coop.tx(governor.functions.queue(*proposal), fake)
    assert not gb.functions.hasRole(upgrader, fake.address).call()


def test_an_ordinary_rate_proposal_queues_right_after_the_deadline(coop):
    a = coop.members[0]
    lock_gro(coop, a, 30 * GRO)
    proposal_id, proposal = rate_proposal(coop, a)
    assert not coop.contracts.governor.functions.isPrivileged(*proposal[:3]).call()
    start_voting(coop)
    vote(coop, a, proposal_id, 1)
    end_voting(coop)
    queue_and_execute(coop, proposal, coop.outsider)
    assert coop.contracts.gro.functions.ratePerKg().call() == NEW_RATE


def test_a_privileged_proposal_queues_once_the_guardian_window_has_passed(coop):
    gb, governor = coop.contracts.group_buy, coop.contracts.governor
    a = coop.members[0]
    lock_gro(coop, a, 30 * GRO)
    upgrader = gb.functions.UPGRADER_ROLE().call()
    proposal_id, proposal = propose(coop, a, [(gb, gb.functions.grantRole(upgrader, a.address))])
    start_voting(coop)
    vote(coop, a, proposal_id, 1)
    end_voting(coop)
    wait_guardian_window(coop)
    queue_and_execute(coop, proposal, coop.outsider)
    assert gb.functions.hasRole(upgrader, a.address).call()


def test_only_value_free_ordinary_settings_are_ordinary(coop):
    governor, gro, gb, registry = (coop.contracts.governor, coop.contracts.gro, coop.contracts.group_buy,
                                   coop.contracts.registry)
    timelock = coop.contracts.timelock

    def data(contract, call):
        return contract.encode_abi(call[0], args=call[1])

    caps = keccak(text="setCertificationCaps(uint256,uint256,uint32)")[:4] + bytes(96)
    ordinary = [
        (registry.address, 0, data(registry, ("memberCount", []))),
        (gro.address, 0, data(gro, ("setRatePerKg", [NEW_RATE]))),
    ]
    privileged = [
        (gro.address, 0, caps),  # raising them would let the certifier's key mint a majority
        (gb.address, 0, data(gb, ("grantRole", [gb.functions.UPGRADER_ROLE().call(), coop.outsider.address]))),
        (gb.address, 0, data(gb, ("revokeRole", [gb.functions.UPGRADER_ROLE().call(), timelock.address]))),
        (gb.address, 0, data(gb, ("upgradeToAndCall", [coop.outsider.address, b""]))),
        (governor.address, 0, data(governor, ("updateQuorumNumerator", [1]))),
        (governor.address, 0, data(governor, ("setProposalGuardian", [coop.outsider.address]))),
        (timelock.address, 0, data(timelock, ("updateDelay", [1]))),
        (coop.outsider.address, 1, b""),  # sends ether
        (gro.address, 1, data(gro, ("setRatePerKg", [NEW_RATE]))),  # an ordinary call, but with value
        (gro.address, 0, b"\x01\x02"),  # too short for a selector
        (gro.address, 0, os.urandom(4)),  # unknown
        (gb.address, 0, data(registry, ("memberCount", []))),  # an ordinary selector on another contract
        (coop.outsider.address, 0, data(gro, ("setRatePerKg", [NEW_RATE]))),  # not our GroToken
    ]

    def privileged_(*actions):
        targets, values, calldatas = (list(x) for x in zip(*actions))
        return governor.functions.isPrivileged(targets, values, calldatas).call()

    assert not privileged_(*ordinary)
    for action in privileged:
        assert privileged_(action), action
        assert privileged_(*ordinary, action), action  # one privileged action makes the proposal privileged


def test_the_guardian_is_chosen_at_deployment_and_replaced_only_by_governance(coop):
    governor = coop.contracts.governor.functions
    assert governor.proposalGuardian().call() == coop.guardian.address  # chosen at deployment (Roles.guardian)
    assert governor.guardianWindow().call() == TEST_PARAMS.guardian_window
    with reverts("GovernorOnlyExecutor"):
        coop.tx(governor.setProposalGuardian(coop.outsider.address), coop.deployer)


def test_a_governor_without_a_guardian_or_its_window_is_refused(coop):
    """Without a guardian (OpenZeppelin would then let only proposers cancel) or with no window, nothing
    stands between a passed privileged proposal and the timelock."""
    c = coop.contracts
    for guardian, window in ((ZERO_ADDRESS, TEST_PARAMS.guardian_window), (coop.guardian.address, 0)):
        with reverts("GuardianRequired", guardian=guardian, guardianWindow=window):
            deploy_contract(coop.w3, "CoopGovernor", coop.deployer, c.escrow.address, c.timelock.address,
                            c.registry.address, 60, 3600, 10, guardian, window)
