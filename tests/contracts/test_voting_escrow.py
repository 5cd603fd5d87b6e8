"""VotingEscrow (veGRO): locking, Curve's decaying power, withdrawal, and the ERC-5805 reads.

Powers are checked exactly against the contract's formula: slope = amount // MAXTIME and power at t =
slope x (end - t) until the lock's end (a week boundary), zero after. Times are read from the blocks
the transactions landed in, so nothing depends on how fast the chain mines.
"""
import ast
import re

from eth_utils import keccak
from web3.exceptions import ContractLogicError

from chain.errors import ContractReverted, decode_revert
from chain.userop import Call, UserOperation, batch_calldata, init_code
from tests.conftest import DAY, GRO, WEEK
from tests.helpers import events, reverts

MAXTIME = 4 * 365 * DAY
RATE = 10 * GRO  # GRO per kg in the test deployment

try:
    from eth_tester.exceptions import TransactionFailed
except ImportError:  # only with the py-evm backend
    TransactionFailed = ContractLogicError


def power(amount: int, end: int, t: int, start: int = 0) -> int:
    """The contract's formula for the power at time t of a lock made at `start`."""
    return (amount // MAXTIME) * (end - t) if start <= t < end else 0


def align(coop, offset: int = DAY) -> int:
    """Moves time to `offset` seconds into a week (at least a week ahead); returns that week's start."""
    week = (coop.chain.now() // WEEK + 2) * WEEK
    coop.chain.advance(week + offset - coop.chain.now())
    return week


def fund(coop, member, amount: int) -> None:
    """Certifies GRO worth `amount` for `member` and approves the escrow for it."""
    assert coop.certify(member, amount * 1000 // RATE) == amount
    coop.tx(coop.contracts.gro.functions.approve(coop.contracts.escrow.address, amount), member)


def create_lock(coop, member, amount: int, unlock_time: int):
    """Funds and locks; returns (receipt, the block's timestamp)."""
    fund(coop, member, amount)
    receipt = coop.tx(coop.contracts.escrow.functions.createLock(amount, unlock_time), member)
    return receipt, block_time(coop, receipt)


def block_time(coop, receipt) -> int:
    return coop.w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def call_reverts(fn) -> ContractReverted:
    """The custom error a view call at the latest block reverts with."""
    try:
        fn.call()
    except (ContractLogicError, TransactionFailed) as e:
        data = getattr(e, "data", None)
        if isinstance(data, str) and data.startswith("0x"):  # a JSON-RPC node
            return decode_revert(bytes.fromhex(data[2:]))
        match = re.search(r"execution reverted: (b['\"].*['\"])$", str(e), re.S)  # eth-tester: the bytes' repr
        assert match, f"undecodable revert: {e!r}"
        return decode_revert(ast.literal_eval(match.group(1)))
    raise AssertionError(f"{fn.fn_name} did not revert")


# ---- locking ----

def test_create_lock_rounds_the_unlock_time_down_to_a_week(coop):
    escrow, gro = coop.contracts.escrow, coop.contracts.gro
    member = coop.members[0]
    week = align(coop)
    amount = 100 * GRO
    receipt, t = create_lock(coop, member, amount, week + 10 * WEEK + 3 * DAY)
    end = week + 10 * WEEK
    assert events(receipt, escrow, "Locked") == [
        {"account": member.address, "added": amount, "unlockTime": end, "lockedAmount": amount}]
    assert events(receipt, escrow, "DelegateVotesChanged") == [
        {"delegate": member.address, "previousVotes": 0, "newVotes": power(amount, end, t)}]
    assert escrow.functions.locked(member.address).call() == [amount, end]
    assert escrow.functions.totalLocked().call() == amount
    assert gro.functions.balanceOf(escrow.address).call() == amount
    assert gro.functions.balanceOf(member.address).call() == 0


def test_unlock_time_must_be_a_later_week_within_four_years(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    week = align(coop, offset=DAY)
    fund(coop, member, 10 * GRO)
    with reverts("UnlockTimeTooSoon", unlockTime=week + 6 * DAY):  # rounds down to this week's start: past
        coop.tx(escrow.createLock(10 * GRO, week + 6 * DAY), member)
    with reverts("UnlockTimeTooSoon", unlockTime=week - WEEK):
        coop.tx(escrow.createLock(10 * GRO, week - WEEK), member)

    now = coop.chain.now()
    too_late = now + MAXTIME + 2 * WEEK
    with reverts("UnlockTimeTooLate", unlockTime=too_late) as caught:
        coop.tx(escrow.createLock(10 * GRO, too_late), member)
    assert now <= caught.value.args_by_name["latest"] - MAXTIME <= now + 60  # the block's time + four years
    with reverts("ZeroAmount"):
        coop.tx(escrow.createLock(0, now + WEEK * 4), member)

    coop.tx(escrow.createLock(10 * GRO, now + MAXTIME), member)  # the longest allowed lock
    assert escrow.locked(member.address).call()[1] == (now + MAXTIME) // WEEK * WEEK
    fund(coop, member, GRO)
    with reverts("LockExists", account=member.address):
        coop.tx(escrow.createLock(GRO, now + 4 * WEEK), member)


def test_power_right_after_a_four_year_lock_is_about_the_amount(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    amount = 1_000 * GRO
    align(coop)
    _, t = create_lock(coop, member, amount, coop.chain.now() + MAXTIME)
    end = escrow.locked(member.address).call()[1]
    assert MAXTIME - WEEK < end - t <= MAXTIME
    assert escrow.getVotes(member.address).call() == power(amount, end, t)  # the lock's block is the latest
    assert amount * (MAXTIME - WEEK) // MAXTIME - MAXTIME < power(amount, end, t) <= amount
    assert escrow.totalSupply().call() == power(amount, end, t)


def test_power_decays_to_half_at_half_time_and_to_zero_at_the_end(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    amount = 1_000 * GRO
    align(coop)
    _, t = create_lock(coop, member, amount, coop.chain.now() + MAXTIME)
    end = escrow.locked(member.address).call()[1]
    half = t + (end - t) // 2
    coop.chain.advance(half - coop.chain.now())
    coop.chain.advance(1)

    assert escrow.getPastVotes(member.address, half).call() == power(amount, end, half)
    assert abs(power(amount, end, half) - power(amount, end, t) // 2) <= amount // MAXTIME
    assert escrow.getPastTotalSupply(half).call() == power(amount, end, half)
    assert escrow.getPastVotes(member.address, t).call() == power(amount, end, t)
    assert escrow.getPastVotes(member.address, t - 1).call() == 0  # before the lock
    assert escrow.getPastTotalSupply(t - 1).call() == 0
    now = coop.chain.now()
    assert escrow.getVotes(member.address).call() == power(amount, end, now)

    coop.chain.advance(end - now)
    coop.chain.advance(1)
    assert escrow.getVotes(member.address).call() == 0
    assert escrow.getPastVotes(member.address, end).call() == 0
    assert escrow.getPastVotes(member.address, end - 1).call() == power(amount, end, end - 1) > 0
    assert escrow.totalSupply().call() == 0
    assert escrow.getPastTotalSupply(end - 1).call() == power(amount, end, end - 1)


def test_increase_amount_and_extend_lock_raise_power(coop):
    escrow = coop.contracts.escrow
    member = coop.members[0]
    week = align(coop)
    _, t = create_lock(coop, member, 100 * GRO, week + 52 * WEEK)
    end = week + 52 * WEEK

    fund(coop, member, 60 * GRO)
    receipt = coop.tx(escrow.functions.increaseAmount(60 * GRO), member)
    t1 = block_time(coop, receipt)
    assert events(receipt, escrow, "Locked") == [
        {"account": member.address, "added": 60 * GRO, "unlockTime": end, "lockedAmount": 160 * GRO}]
    assert events(receipt, escrow, "DelegateVotesChanged") == [{
        "delegate": member.address, "previousVotes": power(100 * GRO, end, t1),
        "newVotes": power(160 * GRO, end, t1)}]
    assert escrow.functions.getVotes(member.address).call() == power(160 * GRO, end, t1)
    assert escrow.functions.totalLocked().call() == 160 * GRO

    later = week + 104 * WEEK
    receipt = coop.tx(escrow.functions.extendLock(later + 5 * DAY), member)
    t2 = block_time(coop, receipt)
    assert events(receipt, escrow, "Locked") == [
        {"account": member.address, "added": 0, "unlockTime": later, "lockedAmount": 160 * GRO}]
    assert escrow.functions.getVotes(member.address).call() == power(160 * GRO, later, t2) > power(160 * GRO, end, t2)
    assert escrow.functions.locked(member.address).call() == [160 * GRO, later]
    assert escrow.functions.totalSupply().call() == power(160 * GRO, later, t2)


def test_extending_to_the_same_or_an_earlier_week_is_refused(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    week = align(coop)
    end = week + 20 * WEEK
    create_lock(coop, member, 10 * GRO, end)
    with reverts("UnlockTimeNotLater", unlockTime=end, current=end):
        coop.tx(escrow.extendLock(end + 6 * DAY), member)  # rounds down to the same week
    with reverts("UnlockTimeNotLater", unlockTime=end - WEEK, current=end):
        coop.tx(escrow.extendLock(end - WEEK), member)
    with reverts("ZeroAmount"):
        coop.tx(escrow.increaseAmount(0), member)


def test_changing_a_lock_needs_a_live_lock(coop):
    escrow = coop.contracts.escrow.functions
    member, stranger = coop.members[0], coop.members[1]
    week = align(coop)
    with reverts("NoLock", account=stranger.address):
        coop.tx(escrow.increaseAmount(GRO), stranger)
    with reverts("NoLock", account=stranger.address):
        coop.tx(escrow.extendLock(week + 10 * WEEK), stranger)
    with reverts("NoLock", account=stranger.address):
        coop.tx(escrow.withdraw(), stranger)
    end = week + 2 * WEEK
    create_lock(coop, member, 10 * GRO, end)
    coop.chain.advance(end - coop.chain.now())
    fund(coop, member, GRO)
    with reverts("LockExpired", account=member.address, unlockTime=end):
        coop.tx(escrow.increaseAmount(GRO), member)
    with reverts("LockExpired", account=member.address, unlockTime=end):
        coop.tx(escrow.extendLock(end + 10 * WEEK), member)


def test_withdraw_only_after_the_end_returns_the_gro(coop):
    escrow, gro = coop.contracts.escrow, coop.contracts.gro
    member = coop.members[0]
    week = align(coop)
    end = week + 3 * WEEK
    create_lock(coop, member, 40 * GRO, end)
    with reverts("LockNotExpired", account=member.address, unlockTime=end):
        coop.tx(escrow.functions.withdraw(), member)
    coop.chain.advance(end - 10 - coop.chain.now())
    with reverts("LockNotExpired", account=member.address, unlockTime=end):
        coop.tx(escrow.functions.withdraw(), member)

    coop.chain.advance(end - coop.chain.now())
    receipt = coop.tx(escrow.functions.withdraw(), member)
    assert events(receipt, escrow, "Withdrawn") == [{"account": member.address, "amount": 40 * GRO}]
    assert gro.functions.balanceOf(member.address).call() == 40 * GRO
    assert gro.functions.balanceOf(escrow.address).call() == 0
    assert escrow.functions.locked(member.address).call() == [0, 0]
    assert escrow.functions.totalLocked().call() == 0
    assert escrow.functions.getVotes(member.address).call() == 0
    with reverts("NoLock", account=member.address):
        coop.tx(escrow.functions.withdraw(), member)

    # The GRO can be locked again.
    coop.tx(gro.functions.approve(escrow.address, 40 * GRO), member)
    coop.tx(escrow.functions.createLock(40 * GRO, coop.chain.now() + 4 * WEEK), member)
    assert escrow.functions.totalLocked().call() == 40 * GRO


# ---- ERC-5805 reads ----

def test_past_reads_refuse_the_present_and_the_future(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    align(coop)
    create_lock(coop, member, 10 * GRO, coop.chain.now() + 10 * WEEK)
    now = coop.chain.now()
    assert escrow.clock().call() == now
    for timepoint in (now, now + 1, now + 365 * DAY):
        for fn in (escrow.getPastVotes(member.address, timepoint), escrow.getPastTotalSupply(timepoint)):
            error = call_reverts(fn)
            assert (error.name, error.args_by_name) == (
                "ERC5805FutureLookup", {"timepoint": timepoint, "clock": now})
    assert escrow.getPastVotes(member.address, now - 1).call() == 0  # the block before the lock


def test_total_supply_sums_the_members_locks_and_drops_a_lock_at_its_end(coop):
    escrow = coop.contracts.escrow.functions
    a, b = coop.members[:2]
    week = align(coop)
    end_a, end_b = week + 200 * WEEK, week + 8 * WEEK
    _, ta = create_lock(coop, a, 300 * GRO, end_a)
    _, tb = create_lock(coop, b, 70 * GRO, end_b + 2 * DAY)
    assert escrow.locked(b.address).call()[1] == end_b

    coop.chain.advance(3 * WEEK + 12345)
    t = coop.chain.now()
    coop.chain.advance(1)
    for moment in (ta, tb, t):
        expected = power(300 * GRO, end_a, moment, ta) + power(70 * GRO, end_b, moment, tb)
        assert escrow.getPastTotalSupply(moment).call() == expected, moment
        assert (escrow.getPastVotes(a.address, moment).call() + escrow.getPastVotes(b.address, moment).call()
                == expected)
    now = coop.chain.now()
    assert escrow.totalSupply().call() == power(300 * GRO, end_a, now) + power(70 * GRO, end_b, now)

    coop.chain.advance(end_b + WEEK - coop.chain.now())  # b's lock ended a week ago: only a's power is left
    coop.chain.advance(1)
    for moment in (end_b - 1, end_b, end_b + 1, end_b + WEEK):
        expected = power(300 * GRO, end_a, moment, ta) + power(70 * GRO, end_b, moment, tb)
        assert escrow.getPastTotalSupply(moment).call() == expected, moment
    assert escrow.totalSupply().call() == power(300 * GRO, end_a, coop.chain.now())
    assert escrow.totalLocked().call() == 370 * GRO  # b has not withdrawn yet


def test_a_lock_after_more_than_255_idle_weeks_counts_in_full(coop):
    """Curve's walk of the global curve stops after 255 weeks, so a lock made after a longer quiet spell
    was added at a stale point and the total supply undercounted it. The walk now jumps once no lock is
    live (the slope is zero)."""
    escrow = coop.contracts.escrow.functions
    a, b = coop.members[:2]
    week = align(coop)
    end_a = week + 200 * WEEK
    _, ta = create_lock(coop, a, 300 * GRO, end_a)
    coop.chain.advance(week + 300 * WEEK - coop.chain.now())  # 300 weeks with no escrow transaction
    end_b = week + 310 * WEEK
    _, tb = create_lock(coop, b, 70 * GRO, end_b)
    coop.chain.advance(1)
    now = coop.chain.now()
    assert escrow.totalSupply().call() == power(70 * GRO, end_b, now) == escrow.getVotes(b.address).call()
    for moment in (ta, end_a - 1, end_a, week + 256 * WEEK, tb - 1, tb):
        expected = power(300 * GRO, end_a, moment, ta) + power(70 * GRO, end_b, moment, tb)
        assert escrow.getPastTotalSupply(moment).call() == expected, moment


def test_checkpoint_brings_the_curve_up_to_date_and_says_so(coop):
    escrow = coop.contracts.escrow
    member = coop.members[0]
    week = align(coop)
    end = week + 10 * WEEK
    create_lock(coop, member, 50 * GRO, end)
    coop.chain.advance(3 * WEEK)
    receipt = coop.tx(escrow.functions.checkpoint(), coop.outsider)  # anyone may
    t = block_time(coop, receipt)
    assert events(receipt, escrow, "Checkpointed") == [{"timestamp": t, "totalPower": power(50 * GRO, end, t)}]


def test_power_cannot_be_delegated(coop):
    escrow = coop.contracts.escrow.functions
    member = coop.members[0]
    with reverts("DelegationNotSupported"):
        coop.tx(escrow.delegate(coop.members[1].address), member)
    with reverts("DelegationNotSupported"):
        coop.tx(escrow.delegateBySig(coop.members[1].address, 0, coop.chain.now() + DAY, 27, bytes(32),
                                     bytes(32)), member)
    assert escrow.delegates(member.address).call() == member.address


def test_the_clock_is_the_block_timestamp(coop):
    escrow = coop.contracts.escrow.functions
    assert escrow.clock().call() == coop.chain.now()
    coop.chain.advance(3 * DAY)
    assert escrow.clock().call() == coop.chain.now()
    assert escrow.CLOCK_MODE().call() == "mode=timestamp"
    assert (escrow.name().call(), escrow.symbol().call(), escrow.decimals().call()) == (
        "Vote-escrowed GRO", "veGRO", 18)


def test_a_smart_account_can_lock(coop):
    """Members hold GRO in contract accounts: the escrow takes contract depositors (unlike Curve's)."""
    c = coop.contracts
    escrow, gro, ep = c.escrow, c.gro, c.entry_point
    signer = coop.chain.new_account(ether=0)
    address = c.account_factory.functions.predictAddress(signer.address, 0).call()
    coop.tx(gro.functions.certify(address, keccak(text="account-batch"), 5_000, 1), coop.certifier)  # 50 GRO
    coop.tx(ep.functions.depositTo(address), coop.deployer, value=10**18)
    week = align(coop)
    end = week + 30 * WEEK
    op = UserOperation(
        sender=address, nonce=0, init_code=init_code(c.account_factory, signer.address, 0),
        call_data=batch_calldata([
            Call(gro.address, bytes.fromhex(gro.encode_abi("approve", args=[escrow.address, 50 * GRO])[2:])),
            Call(escrow.address, bytes.fromhex(escrow.encode_abi("createLock", args=[50 * GRO, end])[2:])),
        ]))
    op.sign(ep, signer)
    receipt = coop.tx(ep.functions.handleOps([op.packed()], coop.supplier.address), coop.supplier)
    assert events(receipt, ep, "UserOperationEvent")[0]["success"]
    assert coop.w3.eth.get_code(address) != b""
    assert escrow.functions.locked(address).call() == [50 * GRO, end]
    assert escrow.functions.getVotes(address).call() == power(50 * GRO, end, block_time(coop, receipt))
