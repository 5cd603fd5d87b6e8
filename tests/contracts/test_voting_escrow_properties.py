"""VotingEscrow under random sequences of createLock, increaseAmount, extendLock, withdraw, checkpoint and
time passing (weeks at a time, to unlock times, sometimes four to eight years): a hypothesis state
machine on the session's deployed co-op.

A Python model of Curve's curve predicts every result without reading the escrow's views: which calls
revert and with which custom error, each account's power (slope = amount // MAXTIME, power =
slope x (end - now) until the end, then 0) and the GRO moved. After every step the escrow's views
must match it, and:

- an account's power never exceeds its locked amount, is zero once the lock has ended, and only
  decays while nobody acts on the account;
- totalSupply() equals the sum of the accounts' powers, exactly (see SUPPLY_TOLERANCE);
- getPastVotes / getPastTotalSupply at an earlier observation equal what getVotes / totalSupply
  returned then;
- totalLocked() equals the GRO the escrow holds.

The members get their GRO once for the whole run (a certified batch each and an unlimited approval).
COOP_HYPOTHESIS_EXAMPLES scales the number of examples up for a longer local run.
"""
import os
import time
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.conftest import DAY, GRO, WEEK
from tests.helpers import events, reverts

EXAMPLES = int(os.environ.get("COOP_HYPOTHESIS_EXAMPLES", "10"))
STEPS = 15
MAXTIME = 4 * 365 * DAY
ACCOUNTS = 4  # the first members: enough to interleave locks, few enough to read every power each step
GRAMS = 10**8  # certified for each of them once for the whole run: 10**6 GRO at the test deployment's rate
GAS = 3_000_000
# Measured and expected 0: the global curve adds the same integer slopes as the accounts' curves, and
# every lock ends on a week boundary, where the global walk applies its slope change; there is no
# rounding to allow for. The one way they part is no rounding either: a checkpoint walks the global
# curve at most 255 weeks, so a lock taken as the first transaction after more than 255 weeks without
# any is added at a stale time and totalSupply() undercounts it (down to 0) until it ends.
SUPPLY_TOLERANCE = 0

OK = None  # an expected outcome: success, or (custom error name, {argument: value})


@dataclass
class LockModel:
    amount: int = 0
    end: int = 0

    def power(self, t: int) -> int:
        """Curve's power: the slope (GRO per second of lock left, rounded down) times the time left."""
        return (self.amount // MAXTIME) * (self.end - t) if t < self.end else 0


@dataclass
class Observation:
    t: int
    votes: dict[str, int]
    total: int


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self, coop, gro_balances: dict[str, int]):
        super().__init__()
        self.coop = coop
        self.chain = coop.chain
        self.escrow = coop.contracts.escrow
        self.gro = coop.contracts.gro
        self.snapshot = self.chain.snapshot()
        # Start at the same offset into a week every time (unlock times round down to weeks: examples
        # must replay alike), with the chain a day ahead of the wall clock so that blocks come one second
        # apart: the model relies on it to know the next transaction's timestamp.
        start = (max(self.chain.now(), int(time.time())) + DAY) // WEEK * WEEK + WEEK + 3 * DAY + 1234
        self.chain.advance(start - self.chain.now())
        self.accounts = {m.address: m for m in coop.members[:ACCOUNTS]}
        self.members = list(self.accounts)
        self.gro_balance = dict(gro_balances)  # GRO of the accounts and of the escrow
        self.locked_before = self.escrow.functions.totalLocked().call()
        self.locks = {a: LockModel() for a in self.members}
        self.acted: set[str] = set()  # accounts whose lock changed in this step
        self.writes = 0  # transactions that changed the escrow: what does not depend on time is read after them
        self.writes_checked = {"held": -1, "history": 0}
        self.previous: dict[str, tuple[int, int]] = {}  # account: (time, power) when last observed, unchanged since
        self.observations: list[Observation] = []
        self.transfers_seen: list[tuple] = []
        self.transfers_modelled: list[tuple] = []

    def teardown(self):
        try:
            for address, expected in self.gro_balance.items():
                assert self.gro.functions.balanceOf(address).call() == expected, address
            t = self.now()
            for address, lock in self.locks.items():  # accounts without a lock too
                assert self.escrow.functions.getVotes(address).call() == lock.power(t), address
        finally:
            self.chain.revert(self.snapshot)

    # ---- helpers ----

    def now(self) -> int:
        return self.chain.now()

    def total_locked(self) -> int:
        return sum(lock.amount for lock in self.locks.values())

    def pick(self, data, likely: list, anything: list, label: str):
        """Mostly one of `likely`, now and then one of `anything`."""
        if likely and data.draw(st.integers(0, 3), label=f"{label}: any") < 3:
            return data.draw(st.sampled_from(likely), label=label)
        return data.draw(st.sampled_from(anything), label=label)

    def pick_account(self, data, likely) -> str:
        """Mostly an account for which the call can go through, now and then any (to see the refusal)."""
        return self.pick(data, [a for a in self.members if likely(self.locks[a])], self.members, "account")

    def next_block(self) -> int:
        """The time of the block a transaction sent now runs in (its gas estimate too): the latest + 1."""
        return self.now() + 1

    def send(self, call, account: str, outcome):
        """Sends `call` from `account` expecting `outcome`; returns the receipt when it goes through."""
        sender = self.accounts[account]
        if outcome is not OK:
            name, args = outcome
            with reverts(name, **args):
                self.coop.tx(call, sender)
            return None
        expected_time = self.now() + 1
        receipt = self.coop.tx(call, sender, gas=GAS)  # no estimate: half the time on py-evm
        assert self.now() == expected_time, "the model's block timestamp assumption broke"
        self.writes += 1
        self.transfers_seen += [(e["from"], e["to"], e["value"]) for e in events(receipt, self.gro, "Transfer")]
        return receipt

    def move(self, src: str, dst: str, amount: int) -> None:
        self.gro_balance[src] -= amount
        assert self.gro_balance[src] >= 0, "an account would need more GRO: raise GRAMS"
        self.gro_balance[dst] += amount
        self.transfers_modelled.append((src, dst, amount))

    def unlock_outcome(self, unlock_time: int, t: int):
        end = unlock_time // WEEK * WEEK
        if end <= t:
            return ("UnlockTimeTooSoon", {"unlockTime": unlock_time})
        if end > t + MAXTIME:
            return ("UnlockTimeTooLate", {"unlockTime": unlock_time, "latest": t + MAXTIME})
        return OK

    def live_outcome(self, account: str, t: int):
        lock = self.locks[account]
        if lock.amount == 0:
            return ("NoLock", {"account": account})
        if lock.end <= t:
            return ("LockExpired", {"account": account, "unlockTime": lock.end})
        return OK

    def locked(self, receipt, account: str, before: LockModel, added: int) -> None:
        """The model's side of a lock change that went through (createLock, increaseAmount, extendLock)."""
        t = self.now()
        after = self.locks[account]
        assert after.end % WEEK == 0 and t < after.end <= t + MAXTIME
        assert events(receipt, self.escrow, "Locked") == [
            {"account": account, "added": added, "unlockTime": after.end, "lockedAmount": after.amount}]
        assert events(receipt, self.escrow, "DelegateVotesChanged") == [
            {"delegate": account, "previousVotes": before.power(t), "newVotes": after.power(t)}]
        if added:
            self.move(account, self.escrow.address, added)
        self.acted.add(account)
        self.previous.pop(account, None)

    def unlock_time(self, data) -> int:
        """An unlock time some whole weeks and seconds away: mostly a valid one (often within a quarter),
        sometimes too soon or (209 weeks and more) later than four years."""
        weeks = data.draw(st.one_of(st.integers(1, 13), st.integers(1, 208), st.integers(0, 212)), label="weeks ahead")
        return self.now() + weeks * WEEK + data.draw(st.integers(0, WEEK - 1), label="seconds ahead")

    # up to 1,000 GRO; one time in six a few wei (below MAXTIME wei the slope, and so the power, is 0) or none
    amounts = st.integers(0, 5).flatmap(lambda k: st.integers(0, 10**9) if k == 0 else st.integers(1, 1000 * GRO))

    # ---- the actions ----

    def create_lock(self, data):
        account = self.pick_account(data, lambda lock: lock.amount == 0)
        amount, unlock_time = data.draw(self.amounts, label="amount"), self.unlock_time(data)
        before = self.locks[account]

        def outcome_at(t):
            if amount == 0:
                return ("ZeroAmount", {})
            if before.amount != 0:
                return ("LockExists", {"account": account})
            return self.unlock_outcome(unlock_time, t)

        receipt = self.send(self.escrow.functions.createLock(amount, unlock_time), account,
                            outcome_at(self.next_block()))
        if receipt is not None:
            self.locks[account] = LockModel(amount, unlock_time // WEEK * WEEK)
            self.locked(receipt, account, before, amount)

    def increase_amount(self, data):
        account = self.pick_account(data, lambda lock: lock.amount > 0 and lock.end > self.next_block())
        amount = data.draw(self.amounts, label="amount")
        before = self.locks[account]

        def outcome_at(t):
            return ("ZeroAmount", {}) if amount == 0 else self.live_outcome(account, t)

        receipt = self.send(self.escrow.functions.increaseAmount(amount), account, outcome_at(self.next_block()))
        if receipt is not None:
            self.locks[account] = LockModel(before.amount + amount, before.end)
            self.locked(receipt, account, before, amount)

    def extend_lock(self, data):
        account = self.pick_account(data, lambda lock: lock.amount > 0 and lock.end > self.next_block())
        before = self.locks[account]
        if before.end and data.draw(st.booleans(), label="weeks after the current unlock"):  # mostly a later week than the current unlock (or the same: refused)
            unlock_time = before.end + data.draw(st.integers(0, 52), label="weeks later") * WEEK
        else:
            unlock_time = self.unlock_time(data)

        def outcome_at(t):
            if (outcome := self.live_outcome(account, t)) is not OK:
                return outcome
            if (outcome := self.unlock_outcome(unlock_time, t)) is not OK:
                return outcome
            if (end := unlock_time // WEEK * WEEK) <= before.end:
                return ("UnlockTimeNotLater", {"unlockTime": end, "current": before.end})
            return OK

        receipt = self.send(self.escrow.functions.extendLock(unlock_time), account, outcome_at(self.next_block()))
        if receipt is not None:
            self.locks[account] = LockModel(before.amount, unlock_time // WEEK * WEEK)
            self.locked(receipt, account, before, 0)

    def withdraw(self, data):
        """A member takes their GRO back: mostly one whose lock has ended; otherwise, half the time, after
        waiting for the unlock time (or trying before it)."""
        account = self.pick_account(data, lambda lock: 0 < lock.end <= self.next_block())
        lock = self.locks[account]
        if lock.amount and self.next_block() < lock.end and data.draw(st.booleans(), label="wait"):
            self.chain.advance(lock.end - self.now() + data.draw(st.integers(0, 2 * WEEK), label="seconds after"))

        def outcome_at(t):
            if lock.amount == 0:
                return ("NoLock", {"account": account})
            if t < lock.end:
                return ("LockNotExpired", {"account": account, "unlockTime": lock.end})
            return OK

        receipt = self.send(self.escrow.functions.withdraw(), account, outcome_at(self.next_block()))
        if receipt is not None:
            assert events(receipt, self.escrow, "Withdrawn") == [{"account": account, "amount": lock.amount}]
            self.move(self.escrow.address, account, lock.amount)
            self.locks[account] = LockModel()
            self.acted.add(account)
            self.previous.pop(account, None)

    def global_checkpoint(self, data):
        """Anyone brings the global curve up to date: no account's power changes."""
        self.send(self.escrow.functions.checkpoint(), data.draw(st.sampled_from(self.members), label="by"), OK)

    def time_passes(self, data):
        how = data.draw(st.sampled_from(["weeks"] * 3 + ["to an unlock"] * 2 + ["beyond four years"]), label="how long")
        if how == "weeks":
            seconds = data.draw(st.integers(1, 6 * WEEK), label="seconds")
        elif how == "beyond four years":
            seconds = MAXTIME + data.draw(st.integers(0, MAXTIME), label="seconds beyond")
        else:  # to just before, at or after an unlock time, mostly the next one (power is zero from the end on)
            ends = sorted({lock.end for lock in self.locks.values() if lock.end > self.next_block()})
            end = self.pick(data, ends[:1], ends, "unlock time") if ends else self.now() + 2
            seconds = end - self.now() + data.draw(st.sampled_from([-1, 0, 1, 3600]), label="seconds from it")
        self.chain.advance(max(seconds, 1))

    def look_back(self, data):
        """At an earlier observation, every power and the total read back as they were then; the present
        is not a past time point."""
        now = self.now()
        seen = data.draw(st.sampled_from([o for o in self.observations if o.t < now]), label="observation")
        for account, votes in seen.votes.items():
            assert self.escrow.functions.getPastVotes(account, seen.t).call() == votes, (account, seen)
        assert self.escrow.functions.getPastTotalSupply(seen.t).call() == seen.total, seen
        t = self.next_block()  # refused by the gas estimate, in the next block: nothing is sent
        with reverts("ERC5805FutureLookup", timepoint=t, clock=t):
            self.coop.tx(self.escrow.functions.getPastTotalSupply(t), self.accounts[self.members[0]])

    # ---- the one rule ----

    # Each step is one action, drawn with these weights among those that can make sense now. A rule per
    # action would let hypothesis switch a random part of them off in each example ("swarm testing"),
    # which with a few dozen examples leaves many without locks to watch. The first action is what
    # hypothesis's simplest examples repeat.
    ACTIONS = {  # name: (weight, can it make sense now)
        "create_lock": (4, lambda self: True),
        "increase_amount": (2, lambda self: True),
        "extend_lock": (2, lambda self: True),
        "withdraw": (2, lambda self: True),
        "global_checkpoint": (1, lambda self: True),
        "time_passes": (4, lambda self: True),
        "look_back": (1, lambda self: any(o.t < self.now() for o in self.observations)),
    }

    @rule(data=st.data())
    def act(self, data):
        choices = [name for name, (weight, valid) in self.ACTIONS.items() if valid(self) for _ in range(weight)]
        getattr(self, data.draw(st.sampled_from(choices), label="action"))(data)

    # ---- invariants ----

    @invariant()
    def locked_gro_is_held(self):
        """totalLocked() equals the GRO the escrow holds, and the model's sum of locks; GRO moved exactly
        as the model moved it, transfer by transfer."""
        if self.writes_checked["held"] == self.writes:
            return  # no transaction since the last check: nothing here can have changed
        self.writes_checked["held"] = self.writes
        expected = self.locked_before + self.total_locked()
        assert self.escrow.functions.totalLocked().call() == expected
        assert self.gro.functions.balanceOf(self.escrow.address).call() == self.gro_balance[self.escrow.address]
        assert self.gro_balance[self.escrow.address] == expected
        assert self.transfers_seen == self.transfers_modelled
        self.transfers_seen.clear()
        self.transfers_modelled.clear()

    @invariant()
    def powers_follow_the_curve(self):
        """Each account's power is the model's, at most its locked amount, zero from its unlock time on,
        and no higher than at the last observation if nobody acted on the account since; totalSupply()
        is the sum of the powers; the past reads back as it was observed."""
        t = self.now()
        votes = {}
        for account, lock in self.locks.items():
            if lock.amount == 0 and account not in self.acted:
                continue  # no lock and none this step: power 0, read at the end of the example
            power = votes[account] = self.escrow.functions.getVotes(account).call()
            assert power <= lock.amount, (account, lock, power)
            if t >= lock.end:
                assert power == 0, f"{account} has power {power} at {t}, its lock ended at {lock.end}"
            if account in self.previous:
                before_t, before = self.previous[account]
                assert power <= before, f"{account} gained power from {before} at {before_t} to {power} at {t}"
            self.previous[account] = (t, power)
            assert power == lock.power(t), (account, lock, t, power)
        total = self.escrow.functions.totalSupply().call()
        assert abs(total - sum(votes.values())) <= SUPPLY_TOLERANCE, (t, total, votes, self.locks)
        if self.writes_checked["history"] < self.writes and self.observations and self.observations[-1].t < t:
            last = self.observations[-1]  # a transaction in this step left the last observation as it was
            assert self.escrow.functions.getPastTotalSupply(last.t).call() == last.total
            for account in self.acted & last.votes.keys():
                assert self.escrow.functions.getPastVotes(account, last.t).call() == last.votes[account]
        if self.observations and self.observations[-1].t == t:
            self.observations.pop()  # nothing was mined in this step: keep the later reading
        self.observations.append(Observation(t, votes, total))
        self.acted.clear()
        self.writes_checked["history"] = self.writes


def test_voting_escrow_state_machine(deployed):
    """Random sequences of locking, adding, extending, withdrawing and waiting keep veGRO's curve
    consistent (see the module docstring)."""
    gro, escrow = deployed.contracts.gro, deployed.contracts.escrow
    funded = deployed.chain.snapshot()
    try:
        for member in deployed.members[:ACCOUNTS]:
            deployed.certify(member, GRAMS)
            deployed.tx(gro.functions.approve(escrow.address, 2**256 - 1), member)
        holders = [m.address for m in deployed.members[:ACCOUNTS]] + [escrow.address]
        balances = {a: gro.functions.balanceOf(a).call() for a in holders}
        run_state_machine_as_test(
            lambda: EscrowMachine(deployed, balances),
            settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        deployed.chain.revert(funded)
