"""CoopGovernor under random holdings (often one member with at least half of all veGRO), vote orders (that
member first, in the middle or last), abstentions, members joining and leaving mid-vote and the clock: a
hypothesis state machine on the session's deployed co-op.

Each example locks the drawn holdings, opens one proposal and lets the members cast in a drawn order, each
with a drawn side and number of votes, while time passes. Checked:

- while the proposal is open (up to its deadline) every member at the snapshot may cast, whoever voted
  before and however much veGRO they held: no cast ends the vote, and the state stays Active;
- a resident registered after the snapshot is refused, a member removed after it is not;
- after the deadline, the state (Succeeded or Defeated) and the tallies are those a model computes from
  the set of casts alone (votes summed, quorum from the credits of those for and abstaining);
- replaying the same casts in the reverse order, without the mid-vote membership changes, ends the same.

The members get their GRO once for the whole run (a certified batch each and an unlimited approval).
COOP_HYPOTHESIS_EXAMPLES scales the number of examples up for a longer local run.
"""
import math
import os
import time
from dataclasses import dataclass

from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, \
    run_state_machine_as_test

from tests.conftest import DAY, GRO, TEST_PARAMS
from tests.contracts.governance import FOUR_YEARS, STATE
from tests.helpers import reverts

EXAMPLES = int(os.environ.get("COOP_HYPOTHESIS_EXAMPLES", "15"))
STEPS = 12
VOTERS = 5  # the first members of the fixture
GRAMS = 10**7  # certified for each voter once for the whole run: 10**5 GRO at the test deployment's rate
GAS = 1_000_000
MARGIN = 30  # seconds kept clear of the deadline, so that "before" and "after" are never one block apart

AGAINST, FOR, ABSTAIN = 0, 1, 2


@dataclass(frozen=True)
class Cast:
    voter: str
    support: int
    votes: int | None  # None: as many as the credits allow (castVote without params)


class GovernorMachine(RuleBasedStateMachine):
    def __init__(self, coop):
        super().__init__()
        self.coop = coop
        self.chain = coop.chain
        self.governor = coop.contracts.governor
        self.registry = coop.contracts.registry
        self.escrow = coop.contracts.escrow
        self.example = self.chain.snapshot()
        self.casts: list[Cast] = []
        self.order: list[str] = []
        self.removed: set[str] = set()
        self.newcomer_registered = False

    # ---- set-up: holdings, the proposal, the vote opens ----

    # GRO per voter: up to 300 each, and now and then nothing; with a whale, the first voter holds at least
    # as much as all the others together (so half of all veGRO or more).
    holdings = st.lists(st.one_of(st.just(0), st.integers(1, 300)), min_size=VOTERS, max_size=VOTERS)

    @initialize(holdings=holdings, whale=st.booleans(), extra=st.integers(0, 500), order=st.permutations(range(VOTERS)))
    def open_vote(self, holdings, whale, extra, order):
        if whale:
            holdings = [max(sum(holdings[1:]), 1) + extra] + holdings[1:]
        # Blocks one second apart (the chain ahead of the wall clock), at the same point every example.
        start = (max(self.chain.now(), int(time.time())) + DAY) // DAY * DAY + DAY
        self.chain.advance(start - self.chain.now())
        voters = self.coop.members[:VOTERS]
        self.accounts = {m.address: m for m in voters}
        for member, gro in zip(voters, holdings):
            if gro:
                self.send(self.escrow.functions.createLock(gro * GRO, self.chain.now() + FOUR_YEARS), member.address)
        gro = self.coop.contracts.gro
        call = gro.functions.setRatePerKg(11 * GRO)
        self.proposal = ([gro.address], [0], [call._encode_transaction_data()], f"Rate {os.urandom(8).hex()}")
        self.send(self.governor.functions.propose(*self.proposal), voters[0].address)
        self.proposal_id = self.governor.functions.hashProposal(*self.proposal[:3],
                                                               keccak(text=self.proposal[3])).call()
        self.chain.advance(TEST_PARAMS.voting_delay + 1)
        self.snapshot_time = self.governor.functions.proposalSnapshot(self.proposal_id).call()
        self.deadline = self.governor.functions.proposalDeadline(self.proposal_id).call()
        self.credits = {m.address: self.escrow.functions.getPastVotes(m.address, self.snapshot_time).call() // GRO
                        for m in voters}
        self.quorum = self.governor.functions.quorum(self.snapshot_time).call()
        self.opened = self.chain.snapshot()
        self.order = [voters[i].address for i in order]

    def teardown(self):
        try:
            if self.order:  # the set-up ran
                self.check_outcome()
                self.chain.revert(self.opened)
                for cast in reversed(self.casts):
                    self.cast_expecting_success(cast)
                self.check_outcome()
        finally:
            self.chain.revert(self.example)

    # ---- helpers ----

    def send(self, call, account: str):
        return self.coop.tx(call, self.accounts[account], gas=GAS)  # no estimate: half the time on py-evm

    def open_at(self, t: int) -> bool:
        return self.snapshot_time < t <= self.deadline

    def next_block(self) -> int:
        return self.chain.now() + 1

    def cast_call(self, cast: Cast):
        governor = self.governor.functions
        if cast.votes is None:
            return governor.castVote(self.proposal_id, cast.support)
        return governor.castVoteWithReasonAndParams(self.proposal_id, cast.support, "", cast.votes.to_bytes(32, "big"))

    def cast_expecting_success(self, cast: Cast) -> None:
        assert self.open_at(self.next_block())
        self.send(self.cast_call(cast), cast.voter)

    def model_outcome(self):
        votes, credits = [0, 0, 0], [0, 0, 0]
        for cast in self.casts:
            votes[cast.support] += math.isqrt(self.credits[cast.voter]) if cast.votes is None else cast.votes
            credits[cast.support] += self.credits[cast.voter]
        quorum_reached = self.quorum <= (credits[FOR] + credits[ABSTAIN]) * GRO
        passed = quorum_reached and votes[FOR] > votes[AGAINST]
        return (STATE["Succeeded"] if passed else STATE["Defeated"]), votes, credits

    def check_outcome(self) -> None:
        if self.chain.now() <= self.deadline:
            self.chain.advance(self.deadline - self.chain.now() + 1)
        governor = self.governor.functions
        expected_state, votes, credits = self.model_outcome()
        assert governor.state(self.proposal_id).call() == expected_state
        assert governor.proposalVotes(self.proposal_id).call() == votes
        assert governor.proposalCredits(self.proposal_id).call() == credits

    # ---- the actions ----

    @precondition(lambda self: len(self.casts) < len(self.order))
    @rule(support=st.sampled_from([AGAINST, FOR, ABSTAIN]), data=st.data())
    def next_voter_casts(self, support, data):
        """The next member in the drawn order casts: all they can afford, or a drawn number of votes."""
        voter = self.order[len(self.casts)]
        most = math.isqrt(self.credits[voter])
        votes = data.draw(st.one_of(st.none(), st.integers(0, most)), label="votes")
        cast = Cast(voter, support, votes)
        if self.open_at(self.next_block()):
            self.cast_expecting_success(cast)  # never refused while the vote is open
            self.casts.append(cast)
        else:
            with reverts("GovernorUnexpectedProposalState"):
                self.coop.tx(self.cast_call(cast), self.accounts[voter])
            self.order.remove(voter)  # the vote closed before their turn

    @precondition(lambda self: self.chain.now() + MARGIN < self.deadline)
    @rule(fraction=st.integers(1, 100))
    def time_passes(self, fraction):
        """Some of the time left before the deadline (up to a margin short of it) passes."""
        room = self.deadline - MARGIN - self.chain.now()
        self.chain.advance(max(1, room * fraction // 100))

    @precondition(lambda self: self.chain.now() <= self.deadline)
    @rule()
    def deadline_passes(self):
        self.chain.advance(self.deadline - self.chain.now() + 1)

    @precondition(lambda self: not self.newcomer_registered and self.chain.now() + MARGIN < self.deadline)
    @rule()
    def newcomer_joins_and_is_refused(self):
        """A resident registered after the snapshot cannot vote on the proposal."""
        newcomer = self.coop.outsider
        self.coop.tx(self.registry.functions.addMember(newcomer.address, keccak(text=os.urandom(8).hex())),
                     self.coop.registrar)
        self.newcomer_registered = True
        with reverts("NotAMember", account=newcomer.address):
            self.coop.tx(self.governor.functions.castVote(self.proposal_id, FOR), newcomer)

    @precondition(lambda self: len(self.casts) < len(self.order) and self.chain.now() + MARGIN < self.deadline)
    @rule(data=st.data())
    def member_leaves(self, data):
        """A member who has not cast yet is removed from the registry: they keep their vote on this proposal."""
        waiting = [a for a in self.order[len(self.casts):] if a not in self.removed]
        if not waiting:
            return
        leaver = data.draw(st.sampled_from(waiting), label="leaver")
        self.coop.tx(self.registry.functions.removeMember(leaver), self.coop.registrar)
        self.removed.add(leaver)

    @rule()
    def who_has_voted(self):
        """hasVoted names exactly the members who cast (removed or not)."""
        cast = {c.voter for c in self.casts}
        for voter in self.accounts:
            assert self.governor.functions.hasVoted(self.proposal_id, voter).call() == (voter in cast)

    @invariant()
    def open_until_the_deadline(self):
        if self.order and self.chain.now() + 1 <= self.deadline:
            assert self.governor.functions.state(self.proposal_id).call() == STATE["Active"]


def test_governor_state_machine(deployed):
    """The outcome never depends on the order of votes, and nobody is shut out while the vote is open (see
    the module docstring)."""
    gro, escrow = deployed.contracts.gro, deployed.contracts.escrow
    funded = deployed.chain.snapshot()
    try:
        for member in deployed.members[:VOTERS]:
            deployed.certify(member, GRAMS)
            deployed.tx(gro.functions.approve(escrow.address, 2**256 - 1), member)
        run_state_machine_as_test(
            lambda: GovernorMachine(deployed),
            settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        deployed.chain.revert(funded)
