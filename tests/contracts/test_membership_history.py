"""MemberRegistry's history: who was a member when, read at past timepoints (what a vote's snapshot uses)."""
import time

from eth_utils import keccak

from tests.conftest import DAY
from tests.helpers import reverts


def ahead_of_the_wall_clock(coop) -> None:
    """Puts the chain a day ahead of the wall clock: blocks then come one second apart, as these tests
    count on (behind it, the next block takes the wall clock's time)."""
    coop.chain.advance(max(0, int(time.time()) - coop.chain.now()) + DAY)


def test_membership_at_past_times_follows_additions_removals_and_moves(coop):
    registry = coop.contracts.registry.functions
    account, other = coop.outsider, coop.supplier
    resident = keccak(text="resident moving house")
    ahead_of_the_wall_clock(coop)
    before = coop.chain.now()
    coop.chain.advance(10)
    coop.tx(registry.addMember(account.address, resident), coop.registrar)
    added = coop.chain.now()
    coop.chain.advance(10)
    coop.tx(registry.removeMember(account.address), coop.registrar)
    removed = coop.chain.now()
    coop.chain.advance(10)
    coop.tx(registry.addMember(other.address, resident), coop.registrar)  # the same resident, a new account
    moved = coop.chain.now()
    coop.chain.advance(10)

    def at(who, t):
        return registry.residentAt(who.address, t).call()

    assert [at(account, t) for t in (before, added - 1, added, removed - 1, removed, moved)] == \
        [bytes(32), bytes(32), resident, resident, bytes(32), bytes(32)]
    assert [at(other, t) for t in (removed, moved - 1, moved)] == [bytes(32), bytes(32), resident]
    # One number per resident, whichever account it uses.
    number = registry.residentNumberOf(resident).call()
    assert number != 0
    assert registry.residentNumberAt(account.address, added).call() == number
    assert registry.residentNumberAt(other.address, moved).call() == number
    assert registry.residentNumberAt(account.address, moved).call() == 0
    # The present is unchanged: a single mapping read.
    assert registry.isMember(other.address).call() and not registry.isMember(account.address).call()


def test_membership_in_the_future_is_not_answered(coop):
    registry = coop.contracts.registry.functions
    member = coop.members[0]
    ahead_of_the_wall_clock(coop)
    t = coop.chain.now() + 1  # refused by the gas estimate, in the next block: nothing is sent
    for timepoint in (t, t + 5):
        with reverts("FutureLookup", timepoint=timepoint, clock=t):
            coop.tx(registry.residentAt(member.address, timepoint), member)
    assert registry.residentAt(member.address, t - 2).call() != bytes(32)
    assert registry.clock().call() >= t - 1
    assert registry.CLOCK_MODE().call() == "mode=timestamp"
