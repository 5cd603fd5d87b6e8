"""FoodUSD (deposits, withdrawals, pause, permit), GroToken (certification, redemption) and MemberRegistry."""
from dataclasses import replace

from eth_utils import keccak

from chain import DeployParams, deploy_system
from chain.transact import contract_at, deploy_contract
from tests.conftest import DAY, FUSD, GRO, TEST_PARAMS, WEEK
from tests.helpers import events, reverts, sign_permit

ZERO = "0x" + "00" * 20
RATE = 10 * GRO  # GRO per kg in the test deployment


# ---- FoodUSD ----

def fusd_balance(coop, account) -> int:
    return coop.contracts.food_usd.functions.balanceOf(account.address).call()


def test_food_usd_has_six_decimals(coop):
    fusd = coop.contracts.food_usd.functions
    assert fusd.decimals().call() == 6
    assert (fusd.name().call(), fusd.symbol().call()) == ("Food-USD", "FUSD")


def test_recording_a_deposit_mints_and_names_the_reference(coop):
    fusd = coop.contracts.food_usd
    member, ref = coop.members[0], keccak(text="receipt-0001")
    supply = fusd.functions.totalSupply().call()
    receipt = coop.tx(fusd.functions.recordDeposit(member.address, 25 * FUSD, ref), coop.treasurer)
    assert events(receipt, fusd, "DepositRecorded") == [{"member": member.address, "amount": 25 * FUSD, "ref": ref}]
    assert events(receipt, fusd, "Transfer") == [{"from": ZERO, "to": member.address, "value": 25 * FUSD}]
    assert fusd_balance(coop, member) == 25 * FUSD
    assert fusd.functions.totalSupply().call() == supply + 25 * FUSD
    assert fusd.functions.recorded(ref).call()


def test_a_reference_is_recorded_once_for_deposits_and_withdrawals_alike(coop):
    fusd = coop.contracts.food_usd.functions
    member, ref = coop.members[0], keccak(text="receipt-0002")
    coop.tx(fusd.recordDeposit(member.address, 5 * FUSD, ref), coop.treasurer)
    with reverts("AlreadyRecorded", ref=ref):
        coop.tx(fusd.recordDeposit(member.address, 5 * FUSD, ref), coop.treasurer)
    with reverts("AlreadyRecorded", ref=ref):
        coop.tx(fusd.recordDeposit(coop.members[1].address, 1, ref), coop.treasurer)  # not even for someone else
    coop.tx(fusd.approve(coop.treasurer.address, FUSD), member)
    with reverts("AlreadyRecorded", ref=ref):  # one namespace: a deposit's reference cannot pay out cash
        coop.tx(fusd.recordWithdrawal(member.address, FUSD, ref), coop.treasurer)
    assert fusd.balanceOf(member.address).call() == 5 * FUSD


def test_zero_deposits_and_withdrawals_are_refused(coop):
    fusd = coop.contracts.food_usd.functions
    member = coop.members[0]
    coop.deposit(member, FUSD)
    coop.tx(fusd.approve(coop.treasurer.address, FUSD), member)
    for record in (fusd.recordDeposit, fusd.recordWithdrawal):
        with reverts("ZeroAmount"):
            coop.tx(record(member.address, 0, keccak(text="nothing")), coop.treasurer)
    assert not fusd.recorded(keccak(text="nothing")).call()  # the reference stays usable for the real record


def test_withdrawal_needs_the_members_allowance(coop):
    fusd = coop.contracts.food_usd.functions
    member = coop.members[0]
    coop.deposit(member, 10 * FUSD)
    with reverts("ERC20InsufficientAllowance", spender=coop.treasurer.address, allowance=0, needed=4 * FUSD):
        coop.tx(fusd.recordWithdrawal(member.address, 4 * FUSD, keccak(text="payout-1")), coop.treasurer)
    coop.tx(fusd.approve(coop.treasurer.address, 3 * FUSD), member)
    with reverts("ERC20InsufficientAllowance", spender=coop.treasurer.address, allowance=3 * FUSD, needed=4 * FUSD):
        coop.tx(fusd.recordWithdrawal(member.address, 4 * FUSD, keccak(text="payout-1")), coop.treasurer)
    assert fusd.balanceOf(member.address).call() == 10 * FUSD
    assert not fusd.recorded(keccak(text="payout-1")).call()  # a refused withdrawal leaves its ref unused


def test_withdrawal_burns_and_is_recorded(coop):
    fusd = coop.contracts.food_usd
    member, ref = coop.members[0], keccak(text="payout-2")
    coop.deposit(member, 10 * FUSD)
    supply = fusd.functions.totalSupply().call()
    coop.tx(fusd.functions.approve(coop.treasurer.address, 4 * FUSD), member)
    receipt = coop.tx(fusd.functions.recordWithdrawal(member.address, 4 * FUSD, ref), coop.treasurer)
    assert events(receipt, fusd, "WithdrawalRecorded") == [{"member": member.address, "amount": 4 * FUSD, "ref": ref}]
    assert events(receipt, fusd, "Transfer") == [{"from": member.address, "to": ZERO, "value": 4 * FUSD}]
    assert fusd_balance(coop, member) == 6 * FUSD
    assert fusd.functions.totalSupply().call() == supply - 4 * FUSD
    assert fusd.functions.allowance(member.address, coop.treasurer.address).call() == 0
    coop.tx(fusd.functions.approve(coop.treasurer.address, 4 * FUSD), member)
    with reverts("AlreadyRecorded", ref=ref):
        coop.tx(fusd.functions.recordWithdrawal(member.address, 4 * FUSD, ref), coop.treasurer)


def test_withdrawal_of_more_than_held_reverts(coop):
    fusd = coop.contracts.food_usd.functions
    member = coop.members[0]
    coop.deposit(member, 2 * FUSD)
    coop.tx(fusd.approve(coop.treasurer.address, 5 * FUSD), member)
    with reverts("ERC20InsufficientBalance", sender=member.address, balance=2 * FUSD, needed=5 * FUSD):
        coop.tx(fusd.recordWithdrawal(member.address, 5 * FUSD, keccak(text="payout-3")), coop.treasurer)


def test_pause_stops_transfers_deposits_and_withdrawals_until_unpaused(coop):
    fusd = coop.contracts.food_usd
    a, b = coop.members[:2]
    coop.deposit(a, 10 * FUSD)
    coop.tx(fusd.functions.approve(coop.treasurer.address, FUSD), a)
    receipt = coop.tx(fusd.functions.pause(), coop.treasurer)
    assert events(receipt, fusd, "Paused") == [{"account": coop.treasurer.address}]
    assert fusd.functions.paused().call()

    with reverts("EnforcedPause"):
        coop.tx(fusd.functions.transfer(b.address, FUSD), a)
    coop.tx(fusd.functions.approve(b.address, FUSD), a)  # approvals are not transfers
    with reverts("EnforcedPause"):
        coop.tx(fusd.functions.transferFrom(a.address, b.address, FUSD), b)
    with reverts("EnforcedPause"):
        coop.tx(fusd.functions.recordDeposit(a.address, FUSD, keccak(text="while-paused")), coop.treasurer)
    with reverts("EnforcedPause"):
        coop.tx(fusd.functions.recordWithdrawal(a.address, FUSD, keccak(text="while-paused")), coop.treasurer)
    with reverts("EnforcedPause"):
        coop.tx(fusd.functions.pause(), coop.treasurer)

    receipt = coop.tx(fusd.functions.unpause(), coop.treasurer)
    assert events(receipt, fusd, "Unpaused") == [{"account": coop.treasurer.address}]
    coop.tx(fusd.functions.transfer(b.address, FUSD), a)
    assert (fusd_balance(coop, a), fusd_balance(coop, b)) == (9 * FUSD, FUSD)
    with reverts("ExpectedPause"):
        coop.tx(fusd.functions.unpause(), coop.treasurer)


def test_permit_sets_an_allowance_from_a_signature_anyone_submits(coop):
    fusd = coop.contracts.food_usd.functions
    member, spender = coop.members[0], coop.members[1]
    coop.deposit(member, 10 * FUSD)
    deadline = coop.chain.now() + DAY
    v, r, s = sign_permit(coop, member, spender.address, 7 * FUSD, deadline)
    coop.tx(fusd.permit(member.address, spender.address, 7 * FUSD, deadline, v, r, s), coop.outsider)  # relayed
    assert fusd.allowance(member.address, spender.address).call() == 7 * FUSD
    assert fusd.nonces(member.address).call() == 1

    # The same signature again: the nonce moved on, so it recovers to someone else.
    with reverts("ERC2612InvalidSigner", owner=member.address):
        coop.tx(fusd.permit(member.address, spender.address, 7 * FUSD, deadline, v, r, s), coop.outsider)
    coop.tx(fusd.transferFrom(member.address, spender.address, 7 * FUSD), spender)
    assert fusd.balanceOf(spender.address).call() == 7 * FUSD


def test_permit_signed_by_another_key_or_expired_is_refused(coop):
    fusd = coop.contracts.food_usd.functions
    member, spender = coop.members[0], coop.members[1]
    deadline = coop.chain.now() + DAY
    v, r, s = sign_permit(coop, member, spender.address, FUSD, deadline, key=coop.outsider)
    with reverts("ERC2612InvalidSigner", signer=coop.outsider.address, owner=member.address):
        coop.tx(fusd.permit(member.address, spender.address, FUSD, deadline, v, r, s), spender)
    past = coop.chain.now() - 1
    v, r, s = sign_permit(coop, member, spender.address, FUSD, past)
    with reverts("ERC2612ExpiredSignature", deadline=past):
        coop.tx(fusd.permit(member.address, spender.address, FUSD, past, v, r, s), spender)
    assert fusd.allowance(member.address, spender.address).call() == 0


# ---- GroToken ----

def gro_balance(coop, account) -> int:
    return coop.contracts.gro.functions.balanceOf(account.address).call()


def test_certify_pays_per_kilogram_once_per_batch(coop):
    gro = coop.contracts.gro
    grower, batch = coop.members[0], keccak(text="batch-lettuce-17")
    assert gro.functions.ratePerKg().call() == RATE
    receipt = coop.tx(gro.functions.certify(grower.address, batch, 1_234, 2), coop.certifier)
    amount = 1_234 * RATE // 1000  # 12.34 GRO
    assert amount == 12_340_000_000_000_000_000
    assert events(receipt, gro, "BatchCertified") == [
        {"batchId": batch, "grower": grower.address, "grams": 1_234, "grade": 2, "amount": amount}]
    assert events(receipt, gro, "Transfer") == [{"from": ZERO, "to": grower.address, "value": amount}]
    assert gro_balance(coop, grower) == amount
    assert gro.functions.certified(batch).call()

    with reverts("BatchAlreadyCertified", batchId=batch):
        coop.tx(gro.functions.certify(grower.address, batch, 1_234, 2), coop.certifier)
    with reverts("BatchAlreadyCertified", batchId=batch):  # not for another grower either
        coop.tx(gro.functions.certify(coop.members[1].address, batch, 500, 1), coop.certifier)
    assert gro_balance(coop, grower) == amount


def test_an_empty_batch_is_refused(coop):
    gro = coop.contracts.gro.functions
    batch = keccak(text="batch-empty")
    with reverts("EmptyBatch"):
        coop.tx(gro.certify(coop.members[0].address, batch, 0, 1), coop.certifier)
    assert not gro.certified(batch).call()  # the id stays usable for the real weighing


PILOT = DeployParams()


def pilot_gro(coop, admin=None):
    """A GroToken proxy with the pilot's rate and certification caps; `admin` (default: the deployer) governs it."""
    implementation, _ = deploy_contract(coop.w3, "GroToken", coop.deployer)
    init = implementation.encode_abi("initialize", args=[
        (admin or coop.deployer).address, coop.certifier.address, PILOT.gro_per_kg, PILOT.gro_max_per_batch,
        PILOT.gro_max_per_period, PILOT.gro_cap_period])
    proxy, _ = deploy_contract(coop.w3, "ERC1967Proxy", coop.deployer, implementation.address, init)
    return contract_at(coop.w3, "GroToken", proxy.address)


def test_the_operator_cannot_certify_a_made_up_resident_into_a_majority(coop):
    """The review's attack, on a deployment with the pilot's parameters: the operator registers a made-up
    resident and certifies it 10,000 GRO. One batch earns at most 500 GRO and a week's batches 2,000 GRO."""
    pilot = deploy_system(coop.w3, coop.deployer, coop.keys.roles(coop.guardian.address), replace(
        TEST_PARAMS, gro_max_per_batch=PILOT.gro_max_per_batch, gro_max_per_period=PILOT.gro_max_per_period,
        gro_cap_period=PILOT.gro_cap_period))
    gro, op = pilot.gro.functions, coop.certifier
    made_up = coop.chain.new_account()
    coop.tx(pilot.registry.functions.addMember(made_up.address, keccak(text="made-up")), coop.registrar)
    with reverts("BatchCapExceeded", amount=10_000 * GRO, maxPerBatch=500 * GRO):
        coop.tx(gro.certify(made_up.address, keccak(text="harvest"), 1_000_000, 1), op)  # 1,000 kg
    # Split into batches, the week's cap stops it at 2,000 GRO.
    coop.chain.advance((coop.chain.now() // WEEK + 1) * WEEK + 10 - coop.chain.now())  # early in a period
    for i in range(4):
        coop.tx(gro.certify(made_up.address, keccak(text=f"harvest-{i}"), 50_000, 1), op)
    period_ends = (coop.chain.now() // WEEK + 1) * WEEK
    with reverts("PeriodCapExceeded", amount=GRO // 100, certifiedInPeriod=2_000 * GRO, maxPerPeriod=2_000 * GRO,
                 periodEnds=period_ends):
        coop.tx(gro.certify(made_up.address, keccak(text="harvest-4"), 1, 1), op)
    assert gro.balanceOf(made_up.address).call() == 2_000 * GRO
    assert gro.certificationRoom().call() == [0, period_ends]


def test_the_period_cap_comes_back_in_the_next_fixed_window(coop):
    gro = pilot_gro(coop).functions
    op, grower = coop.certifier, coop.members[0]
    assert (gro.maxCertifiedPerBatch().call(), gro.maxCertifiedPerPeriod().call(),
            gro.certificationPeriod().call()) == (500 * GRO, 2_000 * GRO, WEEK)
    start = (coop.chain.now() // WEEK + 1) * WEEK
    coop.chain.advance(start + WEEK - 100 - coop.chain.now())  # the last minutes of a period
    for i in range(4):
        coop.tx(gro.certify(grower.address, keccak(text=f"late-{i}"), 50_000, 1), op)
    assert gro.certificationRoom().call() == [0, start + WEEK]
    with reverts("PeriodCapExceeded"):
        coop.tx(gro.certify(grower.address, keccak(text="late-4"), 50_000, 1), op)
    coop.chain.advance(start + WEEK - coop.chain.now())  # the next window: room for a whole period again
    assert gro.certificationRoom().call() == [500 * GRO, start + 2 * WEEK]
    coop.tx(gro.certify(grower.address, keccak(text="late-4"), 50_000, 1), op)
    assert gro.certifiedInPeriod().call() == 500 * GRO
    assert gro.certificationRoom().call() == [500 * GRO, start + 2 * WEEK]


def test_certification_caps_are_set_by_governance(coop):
    governance = coop.deployer  # stands for the timelock of a real deployment (access: test_access_control.py)
    gro = pilot_gro(coop, governance)
    receipt = coop.tx(gro.functions.setCertificationCaps(50 * GRO, 100 * GRO, DAY), governance)
    assert events(receipt, gro, "CertificationCapsChanged") == [
        {"maxPerBatch": 50 * GRO, "maxPerPeriod": 100 * GRO, "periodSeconds": DAY}]
    with reverts("BatchCapExceeded", amount=60 * GRO, maxPerBatch=50 * GRO):
        coop.tx(gro.functions.certify(coop.members[0].address, keccak(text="b"), 6_000, 1), coop.certifier)
    with reverts("InvalidCertificationPeriod"):
        coop.tx(gro.functions.setCertificationCaps(50 * GRO, 100 * GRO, 0), governance)
    coop.tx(gro.functions.setCertificationCaps(0, 0, DAY), governance)  # zero caps stop certification
    with reverts("BatchCapExceeded", amount=GRO, maxPerBatch=0):
        coop.tx(gro.functions.certify(coop.members[0].address, keccak(text="b"), 100, 1), coop.certifier)


def test_a_batch_worth_no_gro_is_refused(coop):
    governance = coop.deployer
    gro = pilot_gro(coop, governance).functions
    coop.tx(gro.setRatePerKg(999), governance)  # under a thousandth of a wei per gram: one gram earns nothing
    with reverts("BatchWorthNothing", grams=1):
        coop.tx(gro.certify(coop.members[0].address, keccak(text="crumb"), 1, 1), coop.certifier)
    assert not gro.certified(keccak(text="crumb")).call()


def test_certify_rounds_down_to_the_wei(coop):
    gro = coop.contracts.gro.functions
    # 1 gram at 10 GRO/kg is exactly 0.01 GRO; the smallest batch still earns something.
    coop.tx(gro.certify(coop.members[0].address, keccak(text="one-gram"), 1, 1), coop.certifier)
    assert gro.balanceOf(coop.members[0].address).call() == RATE // 1000


def test_redeem_burns_and_records_the_redemption_once(coop):
    gro = coop.contracts.gro
    member = coop.members[0]
    held = coop.certify(member, 3_000)  # 30 GRO
    supply = gro.functions.totalSupply().call()
    rid, item = keccak(text="redemption-1"), keccak(text="basil-bunch")
    receipt = coop.tx(gro.functions.redeem(4 * GRO, rid, item), member)
    assert events(receipt, gro, "Redeemed") == [
        {"holder": member.address, "redemptionId": rid, "amount": 4 * GRO, "item": item}]
    assert events(receipt, gro, "Transfer") == [{"from": member.address, "to": ZERO, "value": 4 * GRO}]
    assert gro_balance(coop, member) == held - 4 * GRO
    assert gro.functions.totalSupply().call() == supply - 4 * GRO
    assert gro.functions.redeemed(member.address, rid).call()
    with reverts("RedemptionAlreadyRecorded", holder=member.address, redemptionId=rid):
        coop.tx(gro.functions.redeem(GRO, rid, item), member)
    assert gro_balance(coop, member) == held - 4 * GRO


def test_another_holder_cannot_take_a_redemption_id_first(coop):
    """Ids are per holder: someone who sees a pending redemption and sends its id first blocks nothing."""
    gro = coop.contracts.gro
    member, other = coop.members[0], coop.members[1]
    coop.certify(member, 1_000)
    coop.certify(other, 1_000)
    rid, item = keccak(text="redemption-raced"), keccak(text="lettuce")
    coop.tx(gro.functions.redeem(GRO, rid, item), other)
    receipt = coop.tx(gro.functions.redeem(2 * GRO, rid, item), member)
    assert events(receipt, gro, "Redeemed") == [
        {"holder": member.address, "redemptionId": rid, "amount": 2 * GRO, "item": item}]


def test_redeeming_nothing_reverts(coop):
    gro = coop.contracts.gro.functions
    member = coop.members[0]
    rid = keccak(text="redemption-empty")
    with reverts("EmptyRedemption"):
        coop.tx(gro.redeem(0, rid, keccak(text="mint")), member)
    assert not gro.redeemed(member.address, rid).call()


def test_redeeming_more_than_held_reverts(coop):
    gro = coop.contracts.gro.functions
    member = coop.members[0]
    held = coop.certify(member, 500)  # 5 GRO
    rid = keccak(text="redemption-too-much")
    with reverts("ERC20InsufficientBalance", sender=member.address, balance=held, needed=held + 1):
        coop.tx(gro.redeem(held + 1, rid, keccak(text="tomatoes")), member)
    assert not gro.redeemed(member.address, rid).call()
    assert gro.balanceOf(member.address).call() == held


# ---- MemberRegistry ----

def test_adding_and_removing_a_member(coop):
    registry = coop.contracts.registry
    account, resident = coop.outsider, keccak(text="resident-new")
    assert registry.functions.memberCount().call() == 6  # the fixture's members
    receipt = coop.tx(registry.functions.addMember(account.address, resident), coop.registrar)
    assert events(receipt, registry, "MemberAdded") == [{"account": account.address, "residentId": resident}]
    assert registry.functions.isMember(account.address).call()
    assert registry.functions.residentOf(account.address).call() == resident
    assert registry.functions.accountOf(resident).call() == account.address
    assert registry.functions.memberCount().call() == 7

    receipt = coop.tx(registry.functions.removeMember(account.address), coop.registrar)
    assert events(receipt, registry, "MemberRemoved") == [{"account": account.address, "residentId": resident}]
    assert not registry.functions.isMember(account.address).call()
    assert registry.functions.residentOf(account.address).call() == bytes(32)
    assert registry.functions.accountOf(resident).call() == ZERO
    assert registry.functions.memberCount().call() == 6


def test_one_account_per_resident(coop):
    registry = coop.contracts.registry.functions
    first, second = coop.members[0], coop.outsider
    resident = registry.residentOf(first.address).call()
    assert resident == keccak(text="resident-0")
    with reverts("ResidentAlreadyRegistered", residentId=resident, account=first.address):
        coop.tx(registry.addMember(second.address, resident), coop.registrar)
    # A resident who changes accounts: the old one is removed, then the new one added.
    coop.tx(registry.removeMember(first.address), coop.registrar)
    coop.tx(registry.addMember(second.address, resident), coop.registrar)
    assert registry.accountOf(resident).call() == second.address
    assert registry.memberCount().call() == 6


def test_an_account_belongs_to_one_resident(coop):
    registry = coop.contracts.registry.functions
    member = coop.members[0]
    with reverts("AlreadyMember", account=member.address):
        coop.tx(registry.addMember(member.address, keccak(text="another-resident")), coop.registrar)
    with reverts("AlreadyMember", account=member.address):
        coop.tx(registry.addMember(member.address, keccak(text="resident-0")), coop.registrar)
    assert registry.accountOf(keccak(text="another-resident")).call() == ZERO


def test_removing_a_stranger_is_refused(coop):
    registry = coop.contracts.registry.functions
    with reverts("NotAMember", account=coop.outsider.address):
        coop.tx(registry.removeMember(coop.outsider.address), coop.registrar)
    coop.tx(registry.removeMember(coop.members[0].address), coop.registrar)
    with reverts("NotAMember", account=coop.members[0].address):  # nor twice
        coop.tx(registry.removeMember(coop.members[0].address), coop.registrar)
    assert registry.memberCount().call() == 5


def test_zero_account_or_resident_is_invalid(coop):
    registry = coop.contracts.registry.functions
    with reverts("InvalidMember"):
        coop.tx(registry.addMember(ZERO, keccak(text="resident-zero")), coop.registrar)
    with reverts("InvalidMember"):
        coop.tx(registry.addMember(coop.outsider.address, bytes(32)), coop.registrar)
    assert registry.memberCount().call() == 6


def test_member_count_tracks_adds_and_removals(coop):
    registry = coop.contracts.registry.functions
    extra = [coop.chain.new_account(ether=0) for _ in range(3)]
    for i, account in enumerate(extra):
        coop.tx(registry.addMember(account.address, keccak(text=f"extra-{i}")), coop.registrar)
        assert registry.memberCount().call() == 7 + i
    for account in (extra[1], coop.members[2]):
        coop.tx(registry.removeMember(account.address), coop.registrar)
    assert registry.memberCount().call() == 7
    assert [registry.isMember(a.address).call() for a in extra] == [True, False, True]
