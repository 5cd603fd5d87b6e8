"""The outbox: intents written once, bundled into user operations the gas payer pays for, driven to one
outcome each, with plain reasons for what cannot be done; the backend's own calls each signed by the
account of its role."""
import asyncio

import pytest
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import select
from web3 import Web3

from chain.accounts import ensure_account
from chain.artifacts import load_artifact
from chain.db import Intent, OperatorTransaction, SmartAccount, create_engine, sessionmaker
from chain.indexer import Indexer, history
from chain.keystore import Keystore
from chain.outbox import RETRY_FIRST, Outbox, Worker, WorkerOptions
from chain.roles import RoleKeys
from chain.transactions import replacement_fees
from tests.chain.netutil import Forwarder, StaleReceipts
from tests.conftest import DAY

PRICE = 2_500_000


CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}  # scrypt at test strength; the default is memory-hard


@pytest.fixture
async def gateway(database_url, anvil_coop):
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    outbox = Outbox(sessions)
    signers = Keystore(sessions, "test master key", kdf_params=CHEAP_KDF)
    await signers.open()
    worker = Worker(anvil_coop.w3, anvil_coop.contracts, outbox, signers, anvil_coop.keys,
                    WorkerOptions(window=0))
    yield anvil_coop, outbox, worker, signers, sessions
    await engine.dispose()


async def member(coop, outbox, worker, signers, sessions, name, deposit=0):
    account = await ensure_account(sessions, signers, coop.contracts, name)
    await outbox.submit(f"register-{name}", name, "register", {"resident_id": f"resident-{name}"})
    if deposit:
        await outbox.submit(f"deposit-{name}", name, "deposit", {"amount": deposit, "ref": f"cash-{name}"})
    await worker.drain()
    return account.address


def open_order(coop, target=10):
    coop.tx(coop.contracts.group_buy.functions.createOrder(
        coop.supplier.address, keccak(text="rice"), PRICE, target, 1, 10, 1, coop.chain.now() + 7 * DAY),
        coop.treasurer)
    return coop.contracts.group_buy.functions.orderCount().call()


async def test_a_join_goes_through_a_user_operation_the_gas_payer_pays_for(gateway):
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "ana", deposit=10 * PRICE)
    order = open_order(coop)
    payer_eth = coop.w3.eth.get_balance(coop.gas_payer.address)
    intent = await outbox.submit("ana-join-1", "ana", "join", {"order_id": order, "units": 4})
    await worker.drain()
    intent = await outbox.get(intent.id)
    assert (intent.state, intent.reason) == ("confirmed", None)
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 4
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 6 * PRICE
    assert coop.w3.eth.get_balance(address) == 0  # the member holds no ETH
    assert coop.w3.eth.get_balance(coop.gas_payer.address) < payer_eth  # the gas payer paid


async def test_the_same_key_is_one_intent_even_concurrently(gateway):
    coop, outbox, worker, signers, sessions = gateway
    await member(coop, outbox, worker, signers, sessions, "ben", deposit=10 * PRICE)
    order = open_order(coop)
    other = Outbox(sessions)
    first, second = await asyncio.gather(
        outbox.submit("ben-join", "ben", "join", {"order_id": order, "units": 2}),
        other.submit("ben-join", "ben", "join", {"order_id": order, "units": 2}))
    assert first.id == second.id
    await worker.drain()
    address = (await ensure_account(sessions, signers, coop.contracts, "ben")).address
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2


async def test_an_operation_that_would_revert_fails_with_a_reason_and_sends_nothing(gateway):
    coop, outbox, worker, signers, sessions = gateway
    await member(coop, outbox, worker, signers, sessions, "cat", deposit=PRICE)
    order = open_order(coop)
    nonce = coop.w3.eth.get_transaction_count(coop.gas_payer.address)
    told = []
    outbox.subscribe(told.append)
    intent = await outbox.submit("cat-join", "cat", "join", {"order_id": order, "units": 3})
    await worker.drain()
    intent = await outbox.get(intent.id)
    assert (intent.state, intent.reason) == ("failed", "insufficient_funds")
    assert intent.tx_hash is None
    assert coop.w3.eth.get_transaction_count(coop.gas_payer.address) == nonce
    assert [(i.id, i.reason) for i in told] == [(intent.id, "insufficient_funds")]


async def test_twenty_joins_go_in_one_bundle(gateway):
    coop, outbox, worker, signers, sessions = gateway
    names = [f"m{i}" for i in range(20)]
    for name in names:
        await ensure_account(sessions, signers, coop.contracts, name)
        await outbox.submit(f"register-{name}", name, "register", {"resident_id": name})
        await outbox.submit(f"deposit-{name}", name, "deposit", {"amount": PRICE, "ref": f"cash-{name}"})
    await worker.drain()
    order = open_order(coop, target=100)
    for name in names:
        await outbox.submit(f"join-{name}", name, "join", {"order_id": order, "units": 1})
    await worker.drain()
    async with sessions() as session:
        from sqlalchemy import select
        joins = list((await session.execute(select(Intent).where(Intent.kind == "join"))).scalars())
    assert {(i.state, i.reason) for i in joins} == {("confirmed", None)}
    assert len({i.tx_hash for i in joins}) == 1
    assert coop.contracts.group_buy.functions.getOrder(order).call()[8] == 20


async def test_export_hands_the_account_over_and_the_backend_can_no_longer_sign(gateway):
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "dee", deposit=10 * PRICE)
    own_key = Account.create()
    intent = await outbox.submit("dee-export", "dee", "export", {"new_signer": own_key.address})
    await worker.drain()
    assert (await outbox.get(intent.id)).state == "confirmed"
    account = coop.w3.eth.contract(address=address, abi=load_artifact("CoopAccount").abi)
    assert account.functions.signer().call() == own_key.address
    async with sessions() as session:
        assert (await session.get(SmartAccount, "dee")).exported_to == own_key.address
    order = open_order(coop)
    after = await outbox.submit("dee-join", "dee", "join", {"order_id": order, "units": 1})
    await worker.drain()
    after = await outbox.get(after.id)
    assert (after.state, after.reason) == ("failed", "exported")
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 10 * PRICE


async def test_intents_wait_while_the_node_is_down_then_complete_once(gateway):
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "eve", deposit=10 * PRICE)
    order = open_order(coop)
    with Forwarder(coop.w3.provider.endpoint_uri) as node:
        away = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 2}))
        worker = Worker(away, coop.contracts, outbox, signers, coop.keys, WorkerOptions(window=0))
        nonce = coop.w3.eth.get_transaction_count(coop.gas_payer.address)
        node.up = False
        intents = [await outbox.submit(f"eve-join-{i}", "eve", "join", {"order_id": order, "units": 1})
                   for i in range(3)]
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(1.5)  # several cycles against a dead node
        assert {(await outbox.get(i.id)).state for i in intents} == {"pending"}
        node.up = True
        for _ in range(100):
            if {(await outbox.get(i.id)).state for i in intents} == {"confirmed"}:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await running
    assert {(await outbox.get(i.id)).state for i in intents} == {"confirmed"}
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 3
    assert coop.w3.eth.get_transaction_count(coop.gas_payer.address) == nonce + 1  # one bundle, sent once


async def test_a_stuck_transaction_is_replaced_with_a_higher_fee_and_mined_once(gateway):
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "fay", deposit=10 * PRICE)
    order = open_order(coop)
    nonce = coop.w3.eth.get_transaction_count(coop.gas_payer.address)
    worker = Worker(coop.w3, coop.contracts, outbox, signers, coop.keys, WorkerOptions(window=0, bump_after=0.2))
    rpc = coop.w3.provider.make_request
    rpc("evm_setAutomine", [False])
    try:
        intent = await outbox.submit("fay-join", "fay", "join", {"order_id": order, "units": 2})
        await worker.run_once()  # sent; nothing mines it
        first = (await outbox.get(intent.id)).tx_hash
        await asyncio.sleep(0.3)
        await worker.run_once()  # still not mined after bump_after: replaced
        second = (await outbox.get(intent.id)).tx_hash
        assert second != first
        async with sessions() as session:
            from sqlalchemy import select
            rows = (await session.execute(select(OperatorTransaction).where(
                OperatorTransaction.sender == coop.gas_payer.address, OperatorTransaction.nonce == nonce)
                .order_by(OperatorTransaction.id))).scalars().all()
        assert [r.tx_hash for r in rows] == [first, second]
        assert rows[1].max_fee > rows[0].max_fee and rows[1].priority_fee > rows[0].priority_fee
        rpc("evm_mine", [])
    finally:
        rpc("evm_setAutomine", [True])
    await worker.drain()
    intent = await outbox.get(intent.id)
    assert (intent.state, intent.tx_hash) == ("confirmed", second)
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2
    assert coop.w3.eth.get_transaction_count(coop.gas_payer.address) == nonce + 1


async def test_fees_stop_rising_at_the_ceiling_and_each_accounts_first_transaction_waiting_there_is_reported(
        gateway):
    """A bundle (the gas payer's) and a deposit (the treasurer's) stuck together: each account has its own
    nonces and replacements, and each is reported once, by sender."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "gil", deposit=10 * PRICE)
    order = open_order(coop)
    senders = (coop.gas_payer.address, coop.treasurer.address)
    nonces = {sender: coop.w3.eth.get_transaction_count(sender) for sender in senders}
    ceiling = 2 * 10**9 + 2 * coop.w3.eth.get_block("latest")["baseFeePerGas"]
    reported = []

    async def fee_ceiling_reached(sender: str, at_nonce: int, fee: int) -> None:
        reported.append((sender, at_nonce, fee))

    worker = Worker(coop.w3, coop.contracts, outbox, signers, coop.keys,
                    WorkerOptions(window=0, bump_after=0.05, max_fee=ceiling), fee_ceiling_reached=fee_ceiling_reached)
    rpc = coop.w3.provider.make_request
    rpc("evm_setAutomine", [False])
    try:
        intent = await outbox.submit("gil-join", "gil", "join", {"order_id": order, "units": 2})
        cash = await outbox.submit("gil-cash", "gil", "deposit", {"amount": PRICE, "ref": "cash-gil-2"})
        for _ in range(12):  # far more chances to bump than the ceiling leaves room for
            await worker.run_once()
            await asyncio.sleep(0.08)
        last_fees = {}
        for sender, nonce in nonces.items():
            async with sessions() as session:
                rows = (await session.execute(select(OperatorTransaction).where(
                    OperatorTransaction.sender == sender, OperatorTransaction.nonce == nonce)
                    .order_by(OperatorTransaction.id))).scalars().all()
            fees = [r.max_fee for r in rows]
            assert 2 <= len(rows) < 12 and fees == sorted(set(fees)) and fees[-1] <= ceiling
            assert max(r.priority_fee for r in rows) <= ceiling
            last_fees[sender] = fees[-1]
        assert set(reported) == {(sender, nonce, last_fees[sender]) for sender, nonce in nonces.items()}
        rpc("evm_mine", [])
    finally:
        rpc("evm_setAutomine", [True])
    await worker.drain()
    assert {(await outbox.get(i.id)).state for i in (intent, cash)} == {"confirmed"}
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2


async def test_each_operator_intent_is_sent_from_its_roles_account(gateway):
    """Registering, certifying and recording cash each come from the one account holding that right; the
    keepers' calls and the members' bundles from the gas payer, which holds none."""
    coop, outbox, worker, signers, sessions = gateway
    account = await ensure_account(sessions, signers, coop.contracts, "rae")
    intents = {kind: await outbox.submit(f"rae-{kind}", "rae", kind, params) for kind, params in (
        ("register", {"resident_id": "resident-rae"}),
        ("deposit", {"amount": 2 * PRICE, "ref": "cash-rae"}),
        ("certify", {"batch_id": "batch-rae", "grams": 1000}),
        ("create_order", {"supplier": coop.treasurer.address, "product": "rice", "unit_price": PRICE,
                          "target_units": 10, "min_units": 1, "max_units_per_member": 5,
                          "deadline": coop.chain.now() + DAY}))}
    await worker.drain()
    order = coop.contracts.group_buy.functions.orderCount().call()
    intents["join"] = await outbox.submit("rae-join", "rae", "join", {"order_id": order, "units": 1})
    await worker.drain()
    coop.chain.advance(DAY + 1)
    intents["finalize"] = await outbox.submit("rae-finalize", None, "finalize", {"order_id": order})
    await worker.drain()

    def sender(intent) -> str:
        return coop.w3.eth.get_transaction(intent.tx_hash)["from"]

    done = {kind: await outbox.get(intent.id) for kind, intent in intents.items()}
    assert {kind: (i.state, i.reason) for kind, i in done.items()} == {kind: ("confirmed", None) for kind in done}
    assert {kind: sender(i) for kind, i in done.items()} == {
        "register": coop.registrar.address, "deposit": coop.treasurer.address, "certify": coop.certifier.address,
        "create_order": coop.treasurer.address, "join": coop.gas_payer.address, "finalize": coop.gas_payer.address}
    assert coop.contracts.registry.functions.isMember(account.address).call()


async def test_a_role_signed_with_another_roles_key_is_refused_on_chain(gateway):
    """Keys given to the wrong settings do not lend one role's right to another: the registration fails."""
    coop, outbox, _, signers, sessions = gateway
    mixed = RoleKeys(registrar=coop.treasurer, certifier=coop.certifier, treasurer=coop.registrar,
                     gas_payer=coop.gas_payer)
    worker = Worker(coop.w3, coop.contracts, outbox, signers, mixed, WorkerOptions(window=0))
    account = await ensure_account(sessions, signers, coop.contracts, "sam")
    intent = await outbox.submit("sam-register", "sam", "register", {"resident_id": "resident-sam"})
    await worker.drain()
    intent = await outbox.get(intent.id)
    assert (intent.state, intent.reason) == ("failed", "rejected")
    assert "AccessControlUnauthorizedAccount" in intent.detail and coop.treasurer.address in intent.detail
    assert not coop.contracts.registry.functions.isMember(account.address).call()


def test_a_replacement_raises_fees_a_quarter_but_never_past_the_ceiling():
    gwei = 10**9
    assert replacement_fees(gwei, gwei, 100 * gwei) == (gwei * 5 // 4 + 1, gwei * 5 // 4 + 1)
    assert replacement_fees(17 * gwei // 10, gwei, 2 * gwei) == (2 * gwei, gwei * 5 // 4 + 1)  # capped, still +10%
    assert replacement_fees(19 * gwei // 10, gwei, 2 * gwei) is None  # what is left is under +10%: refused
    assert replacement_fees(2 * gwei, gwei, 2 * gwei) is None


async def test_an_operation_failing_once_mined_fails_its_intent_with_the_reason(gateway):
    """Two joins of one member in one bundle: each alone is affordable (so both pass simulation), the
    second not after the first; it fails on chain, with the contract's reason, and the first stands."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "ivy", deposit=9 * PRICE)
    order = open_order(coop, target=20)
    first = await outbox.submit("ivy-join-1", "ivy", "join", {"order_id": order, "units": 3})
    second = await outbox.submit("ivy-join-2", "ivy", "join", {"order_id": order, "units": 7})
    await worker.drain()
    first, second = await outbox.get(first.id), await outbox.get(second.id)
    assert first.tx_hash == second.tx_hash  # one bundle
    assert (first.state, second.state, second.reason) == ("confirmed", "failed", "insufficient_funds")
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 3
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 6 * PRICE


async def test_balance_and_history_work_before_the_account_exists(gateway):
    """A member's first deposit reaches an account that does not exist yet: the balance reads, and the
    indexer records the deposit against the address; the account appears with the first operation."""
    coop, outbox, worker, signers, sessions = gateway
    start = coop.w3.eth.block_number
    address = await member(coop, outbox, worker, signers, sessions, "jo", deposit=5 * PRICE)
    assert coop.w3.eth.get_code(address) == b""
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 5 * PRICE
    indexer = Indexer(coop.w3, coop.contracts, sessions, start_block=start)
    await indexer.poll_once()
    async with sessions() as session:
        events = [(e.event, e.args.get("amount")) for e in await history(session, address)]
    assert ("DepositRecorded", str(5 * PRICE)) in events
    order = open_order(coop)
    await outbox.submit("jo-join", "jo", "join", {"order_id": order, "units": 1})
    await worker.drain()
    assert coop.w3.eth.get_code(address) != b""
    async with sessions() as session:
        assert (await session.get(SmartAccount, "jo")).deployed_block is not None


async def test_a_restart_sends_an_unmined_transaction_again_harmlessly(gateway):
    """After a restart the worker does not know whether the node still has its unmined transaction: it
    sends the same bytes again; the node already knowing it changes nothing, and it is mined once."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "kim", deposit=10 * PRICE)
    order = open_order(coop)
    nonce = coop.w3.eth.get_transaction_count(coop.gas_payer.address)
    rpc = coop.w3.provider.make_request
    rpc("evm_setAutomine", [False])
    try:
        intent = await outbox.submit("kim-join", "kim", "join", {"order_id": order, "units": 2})
        await worker.run_once()
        sent = (await outbox.get(intent.id)).tx_hash
        restarted = Worker(coop.w3, coop.contracts, outbox, signers, coop.keys, WorkerOptions(window=0))
        await restarted.run_once()  # sends it again: "already known"
        assert (await outbox.get(intent.id)).tx_hash == sent
        rpc("evm_mine", [])
    finally:
        rpc("evm_setAutomine", [True])
    await restarted.drain()
    assert (await outbox.get(intent.id)).state == "confirmed"
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2
    assert coop.w3.eth.get_transaction_count(coop.gas_payer.address) == nonce + 1


async def test_an_intent_waits_for_its_depth_and_survives_a_reorg_before_it(gateway):
    """With a confirmation depth, a bundle a reorg drops before that depth is sent again and confirmed
    once; the intent never reads confirmed in between."""
    coop, outbox, setup_worker, signers, sessions = gateway
    address = await member(coop, outbox, setup_worker, signers, sessions, "lou", deposit=10 * PRICE)
    order = open_order(coop)
    worker = Worker(coop.w3, coop.contracts, outbox, signers, coop.keys, WorkerOptions(window=0, confirmations=2))
    before = coop.chain.snapshot()
    intent = await outbox.submit("lou-join", "lou", "join", {"order_id": order, "units": 2})
    await worker.run_once()
    await worker.run_once()
    assert (await outbox.get(intent.id)).state == "submitted"  # mined, not yet 2 deep
    coop.chain.revert(before)  # the reorg: the block with the bundle is gone
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 0
    await worker.run_once()  # not mined any more, nonce unused: sent again
    await worker.run_once()
    assert (await outbox.get(intent.id)).state == "submitted"
    coop.chain.advance(1)
    coop.chain.advance(1)
    await worker.drain()
    assert (await outbox.get(intent.id)).state == "confirmed"
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2


async def test_an_intent_the_abi_cannot_encode_fails_alone(gateway):
    """A bad parameter (a negative amount) fails its own intent as invalid; the bundle goes on."""
    coop, outbox, worker, signers, sessions = gateway
    await member(coop, outbox, worker, signers, sessions, "max", deposit=10 * PRICE)
    await member(coop, outbox, worker, signers, sessions, "nia", deposit=10 * PRICE)
    order = open_order(coop, target=20)
    bad = await outbox.submit("max-bad", "max", "transfer", {"to": coop.supplier.address, "amount": -1})
    good = await outbox.submit("nia-join", "nia", "join", {"order_id": order, "units": 1})
    await worker.drain()
    bad, good = await outbox.get(bad.id), await outbox.get(good.id)
    assert (bad.state, bad.reason, good.state) == ("failed", "invalid", "confirmed")


async def test_a_members_next_operation_waits_for_the_one_in_flight(gateway):
    """With blocks not mined at once (a real chain), a member's second intent is not signed with the
    nonce of the first while that is unmined; other members' intents go meanwhile."""
    coop, outbox, worker, signers, sessions = gateway
    await member(coop, outbox, worker, signers, sessions, "oli", deposit=10 * PRICE)
    await member(coop, outbox, worker, signers, sessions, "pam", deposit=10 * PRICE)
    order = open_order(coop, target=20)
    rpc = coop.w3.provider.make_request
    rpc("evm_setAutomine", [False])
    try:
        first = await outbox.submit("oli-1", "oli", "join", {"order_id": order, "units": 1})
        await worker.run_once()  # sent, not mined
        second = await outbox.submit("oli-2", "oli", "join", {"order_id": order, "units": 2})
        other = await outbox.submit("pam-1", "pam", "join", {"order_id": order, "units": 1})
        await worker.run_once()
        assert (await outbox.get(second.id)).state == "pending"  # waits for oli-1
        assert (await outbox.get(other.id)).state == "submitted"
        rpc("evm_mine", [])
    finally:
        rpc("evm_setAutomine", [True])
    await worker.drain()
    states = [(await outbox.get(i.id)).state for i in (first, second, other)]
    assert states == ["confirmed"] * 3
    async with sessions() as session:
        from sqlalchemy import select
        assert not (await session.execute(select(OperatorTransaction).where(
            OperatorTransaction.status == 0))).scalars().all()  # no bundle reverted


async def test_a_nonce_taken_by_another_transaction_does_the_intent_once(gateway):
    """The treasurer's key sent something else with the nonce of our stored transaction (another tool, a
    second process): the intent is sent again and done once — and a transaction of ours that is mined is
    never taken for such a one."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "ivy")
    fusd = coop.contracts.food_usd.functions
    before = fusd.balanceOf(address).call()
    coop.w3.provider.make_request("evm_setAutomine", [False])
    try:
        await outbox.submit("ivy-cash", "ivy", "deposit", {"amount": PRICE, "ref": "cash-ivy-2"})
        await worker.run_once()  # signed, stored, sent: waiting in the node's pool
        async with sessions() as session:
            ours = (await session.execute(select(OperatorTransaction).order_by(OperatorTransaction.id.desc()))
                    ).scalars().first()
        # Another transaction from the treasurer's key takes that nonce, with a higher fee.
        other = coop.treasurer.sign_transaction({
            "to": coop.treasurer.address, "value": 0, "gas": 21_000, "nonce": ours.nonce, "chainId": coop.w3.eth.chain_id,
            "maxFeePerGas": ours.max_fee * 3, "maxPriorityFeePerGas": ours.max_fee * 2})
        coop.w3.eth.send_raw_transaction(other.raw_transaction)
        coop.w3.provider.make_request("evm_mine", [])
    finally:
        coop.w3.provider.make_request("evm_setAutomine", [True])
    await worker.drain()
    async with sessions() as session:
        intent = (await session.execute(select(Intent).where(Intent.idempotency_key == "ivy-cash"))).scalar_one()
    assert intent.state == "confirmed"
    assert fusd.balanceOf(address).call() == before + PRICE  # once


async def test_a_receipt_missing_beside_the_nonce_count_is_asked_again_not_taken_for_a_foreign_transaction(gateway):
    """A node answering a batch concurrently can count a just-mined transaction's nonce yet return no receipt
    for it: the deposit must not be sent again (it would be recorded twice, or fail as already recorded)."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "joe")
    fusd = coop.contracts.food_usd.functions
    before = fusd.balanceOf(address).call()
    with StaleReceipts(coop.w3.provider.endpoint_uri) as node:
        racing = Worker(Web3(Web3.HTTPProvider(node.url)), coop.contracts, outbox, signers, coop.keys,
                        WorkerOptions(window=0))
        intent = await outbox.submit("joe-cash", "joe", "deposit", {"amount": PRICE, "ref": "cash-joe-2"})
        await racing.run_once()  # sent; the node mines it at once
        node.armed = True
        await racing.drain()
    assert (await outbox.get(intent.id)).state == "confirmed"
    assert fusd.balanceOf(address).call() == before + PRICE


async def test_an_outcome_a_subscriber_failed_on_is_not_lost_but_told_again(gateway):
    coop, outbox, worker, signers, sessions = gateway
    heard: list[int] = []

    def flaky(intent):  # its first try fails (say the database was away)
        heard.append(intent.id)
        if len(heard) == 1:
            raise RuntimeError("database away")

    outbox.subscribe(flaky)
    await member(coop, outbox, worker, signers, sessions, "ida")
    intent = await outbox.submit("register-ida", "ida", "register", {})  # the same key: the same intent
    assert heard == [intent.id] and (await outbox.get(intent.id)).notified_at is None
    await asyncio.sleep(RETRY_FIRST + 0.1)
    await worker.run_once()
    assert heard == [intent.id, intent.id] and (await outbox.get(intent.id)).notified_at is not None
    await worker.run_once()
    assert heard == [intent.id, intent.id]  # told, so not again


async def test_a_claim_over_orders_one_of_which_the_keeper_claimed_meanwhile_gives_back_the_rest(gateway):
    """/claim covers several orders; between the member's confirm and the worker, the keeper claimed one of
    them. The member's claim leaves that one out instead of failing whole."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "eve", deposit=10 * PRICE)
    gb = coop.contracts.group_buy
    orders = [open_order(coop), open_order(coop)]
    for order_id in orders:
        await outbox.submit(f"eve-join-{order_id}", "eve", "join", {"order_id": order_id, "units": 1})
        await worker.drain()
        coop.tx(gb.functions.cancel(order_id), coop.treasurer)  # everyone gets their Food-USD back
    coop.tx(gb.functions.claim(orders[0], address), coop.gas_payer)  # the keeper's claim_for
    intent = await outbox.submit("eve-claim", "eve", "claim", {"order_ids": orders})
    await worker.drain()
    intent = await outbox.get(intent.id)
    assert (intent.state, intent.reason) == ("confirmed", None)
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 10 * PRICE


async def test_a_withdrawal_waits_for_the_approval_written_before_it(gateway):
    """Cash paid out: the member's account allows the treasurer to burn, then the treasurer burns. Sent side
    by side, the burn would be estimated before the allowance it spends is mined."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "eve", deposit=10 * PRICE)
    approval = await outbox.submit("eve-out:0", "eve", "approve_withdrawal",
                                   {"burner": coop.treasurer.address, "amount": 4 * PRICE})
    withdrawal = await outbox.submit("eve-out", "eve", "withdraw", {"amount": 4 * PRICE, "ref": "eve-out"})
    await worker.run_once()
    assert [(await outbox.get(i.id)).state for i in (approval, withdrawal)] == ["submitted", "pending"]
    await worker.drain()
    assert [(await outbox.get(i.id)).state for i in (approval, withdrawal)] == ["confirmed", "confirmed"]
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 6 * PRICE


async def test_a_withdrawal_whose_approval_failed_fails_unsent_with_its_reason(gateway):
    """An allowance left from an earlier withdrawal (approved, its burn failed) must not be spent by a burn whose
    own approval failed: the admin is told it was not recorded, and pays no cash."""
    coop, outbox, worker, signers, sessions = gateway
    address = await member(coop, outbox, worker, signers, sessions, "eve", deposit=10 * PRICE)
    await outbox.submit("eve-old:0", "eve", "approve_withdrawal",
                        {"burner": coop.treasurer.address, "amount": 4 * PRICE})
    await worker.drain()
    approval = await outbox.submit("eve-out:0", "eve", "approve_withdrawal",  # the zero address: refused
                                   {"burner": "0x" + "00" * 20, "amount": 4 * PRICE})
    withdrawal = await outbox.submit("eve-out", "eve", "withdraw", {"amount": 4 * PRICE, "ref": "eve-out"})
    await worker.drain()
    approval, withdrawal = await outbox.get(approval.id), await outbox.get(withdrawal.id)
    assert (approval.state, withdrawal.state) == ("failed", "failed")
    assert withdrawal.reason == approval.reason and withdrawal.tx_hash is None
    assert coop.contracts.food_usd.functions.balanceOf(address).call() == 10 * PRICE
