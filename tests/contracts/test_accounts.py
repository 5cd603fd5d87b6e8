"""Smart accounts: a counterfactual address, creation and a batched join in one user operation through
the EntryPoint, and signer rotation for self-custody."""
from eth_utils import keccak

from chain.transact import contract_at
from chain.userop import Call, UserOperation, batch_calldata, init_code
from tests.conftest import DAY
from tests.helpers import events, reverts

PRICE = 2_500_000


def handle(coop, op: UserOperation, bundler):
    return coop.tx(coop.contracts.entry_point.functions.handleOps([op.packed()], bundler.address), bundler)


def new_member_account(coop, salt=0):
    """A resident's account: known before it exists, registered and funded at that address."""
    signer = coop.chain.new_account(ether=0)  # the backend's key for this member: it never needs ETH
    address = coop.contracts.account_factory.functions.predictAddress(signer.address, salt).call()
    coop.tx(coop.contracts.registry.functions.addMember(address, keccak(text=f"resident-{address}")), coop.registrar)
    coop.tx(coop.contracts.entry_point.functions.depositTo(address), coop.deployer, value=10**18)
    return signer, contract_at(coop.w3, "CoopAccount", address)


def test_first_user_operation_creates_the_account_and_joins_an_order_in_one_batch(coop):
    gb, fusd, ep = coop.contracts.group_buy, coop.contracts.food_usd, coop.contracts.entry_point
    signer, account = new_member_account(coop)
    assert coop.w3.eth.get_code(account.address) == b""
    coop.tx(fusd.functions.recordDeposit(account.address, 10 * PRICE, keccak(text="cash-1")), coop.treasurer)
    assert fusd.functions.balanceOf(account.address).call() == 10 * PRICE  # money before the account exists
    coop.tx(gb.functions.createOrder(coop.supplier.address, keccak(text="eggs"), PRICE, 20, 5, 10, 1,
                                     coop.chain.now() + 7 * DAY), coop.treasurer)

    op = UserOperation(
        sender=account.address,
        nonce=ep.functions.getNonce(account.address, 0).call(),
        init_code=init_code(coop.contracts.account_factory, signer.address, 0),
        call_data=batch_calldata([
            Call(fusd.address, bytes.fromhex(fusd.encode_abi("approve", args=[gb.address, 4 * PRICE])[2:])),
            Call(gb.address, bytes.fromhex(gb.encode_abi("join", args=[1, 4])[2:])),
        ]),
    )
    op.sign(ep, signer)
    bundler = coop.chain.new_account()
    receipt = handle(coop, op, bundler)

    (outcome,) = events(receipt, ep, "UserOperationEvent")
    assert outcome["sender"] == account.address and outcome["success"]
    assert events(receipt, coop.contracts.account_factory, "AccountCreated")[0]["account"] == account.address
    assert account.functions.signer().call() == signer.address
    assert gb.functions.getMember(1, account.address).call()[0] == 4
    assert fusd.functions.balanceOf(account.address).call() == 6 * PRICE


def test_operation_signed_by_another_key_is_rejected(coop):
    ep = coop.contracts.entry_point
    signer, account = new_member_account(coop)
    stranger = coop.chain.new_account(ether=0)
    op = UserOperation(sender=account.address, nonce=0,
                       init_code=init_code(coop.contracts.account_factory, signer.address, 0),
                       call_data=batch_calldata([]))
    op.sign(ep, stranger)
    with reverts("FailedOp", reason="AA24 signature error"):
        handle(coop, op, coop.chain.new_account())


def test_rotating_the_signer_hands_the_account_over(coop):
    ep = coop.contracts.entry_point
    backend_key, account = new_member_account(coop)
    own_key = coop.chain.new_account(ether=0)  # the key the member now holds
    rotate = batch_calldata([
        Call(account.address, bytes.fromhex(account.encode_abi("rotateSigner", args=[own_key.address])[2:]))])
    op = UserOperation(sender=account.address, nonce=0, call_data=rotate,
                       init_code=init_code(coop.contracts.account_factory, backend_key.address, 0))
    op.sign(ep, backend_key)
    receipt = handle(coop, op, coop.chain.new_account())
    assert events(receipt, account, "SignerRotated") == [
        {"previousSigner": "0x" + "00" * 20, "newSigner": backend_key.address},  # created
        {"previousSigner": backend_key.address, "newSigner": own_key.address},  # handed over
    ]
    assert account.functions.signer().call() == own_key.address

    noop = batch_calldata([])
    old = UserOperation(sender=account.address, nonce=ep.functions.getNonce(account.address, 0).call(), call_data=noop)
    old.sign(ep, backend_key)
    with reverts("FailedOp", reason="AA24 signature error"):
        handle(coop, old, coop.chain.new_account())
    new = UserOperation(sender=account.address, nonce=ep.functions.getNonce(account.address, 0).call(), call_data=noop)
    new.sign(ep, own_key)
    assert events(handle(coop, new, coop.chain.new_account()), ep, "UserOperationEvent")[0]["success"]


def test_account_address_is_the_same_before_and_after_creation(coop):
    factory = coop.contracts.account_factory
    signer = coop.chain.new_account(ether=0)
    predicted = factory.functions.predictAddress(signer.address, 7).call()
    receipt = coop.tx(factory.functions.createAccount(signer.address, 7), coop.deployer)
    assert events(receipt, factory, "AccountCreated") == [{"account": predicted, "signer": signer.address, "salt": 7}]
    again = coop.tx(factory.functions.createAccount(signer.address, 7), coop.deployer)  # idempotent
    assert events(again, factory, "AccountCreated") == []


def test_operation_hash_computed_locally_matches_the_entry_point(coop):
    ep = coop.contracts.entry_point
    signer, account = new_member_account(coop)
    op = UserOperation(sender=account.address, nonce=3, call_data=b"\x01\x02",
                       init_code=init_code(coop.contracts.account_factory, signer.address, 0),
                       call_gas=123_456, max_fee=0, max_priority_fee=0)
    assert op.hash(ep.address, coop.w3.eth.chain_id) == ep.functions.getUserOpHash(op.packed()).call()
    assert UserOperation.from_json(op.to_json()) == op
