"""The external-bundler path: BundlerClient talking the standard ERC-4337 JSON-RPC to our local bundler
server on anvil — accepted operations mined with receipts, refusals with decoded reasons."""
import asyncio
import json

import httpx
import pytest
from aiohttp import web
from eth_utils import keccak
from web3 import Web3

from chain.bundler_client import (EXECUTION_REVERTED, VALIDATION_FAILED, BundlerClient, BundlerError, op_from_rpc,
                                  op_to_rpc, receipt_failure)
from tests.chain.bundler_server import BUNDLER, LocalBundler, make_app
from chain.transact import contract_at
from chain.userop import Call, UserOperation, batch_calldata, init_code
from tests.conftest import DAY

PRICE = 2_500_000


class Bundlers:
    """Bundler servers in the test's event loop, each a fresh app (empty memory) on a free port."""

    def __init__(self, coop):
        self.coop = coop
        # The server's own connection and operator: the test keeps using coop.w3 and the co-op's role keys meanwhile.
        self.w3 = Web3(Web3.HTTPProvider(coop.w3.provider.endpoint_uri, request_kwargs={"timeout": 30}))
        self.operator = coop.chain.new_account()
        self.running: list[tuple[web.AppRunner, BundlerClient]] = []

    async def start(self, window: float = 0.05) -> BundlerClient:
        entry_point = contract_at(self.w3, "EntryPoint", self.coop.contracts.entry_point.address)
        runner = web.AppRunner(make_app(self.w3, entry_point, self.operator, window=window))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        client = BundlerClient(f"http://127.0.0.1:{port}/", entry_point.address)
        self.running.append((runner, client))
        return client

    def server(self, client: BundlerClient) -> LocalBundler:
        return next(runner.app[BUNDLER] for runner, running in self.running if running is client)

    async def stop(self, client: BundlerClient) -> None:
        for runner, running in list(self.running):
            if running is client:
                await client.close()
                await runner.cleanup()
                self.running.remove((runner, running))


@pytest.fixture
async def bundlers(anvil_coop):
    servers = Bundlers(anvil_coop)
    yield anvil_coop, servers
    for _, client in list(servers.running):
        await servers.stop(client)


def member_and_order(coop, deposit: int):
    """A member's account (not created yet), registered and holding `deposit` Food-USD, and an open order."""
    c = coop.contracts
    signer = coop.chain.new_account(ether=0)
    address = c.account_factory.functions.predictAddress(signer.address, 0).call()
    coop.tx(c.registry.functions.addMember(address, keccak(text=f"resident-{address}")), coop.registrar)
    if deposit:
        coop.tx(c.food_usd.functions.recordDeposit(address, deposit, keccak(text=f"cash-{address}")), coop.treasurer)
    coop.tx(c.group_buy.functions.createOrder(coop.supplier.address, keccak(text="eggs"), PRICE, 20, 5, 10, 1,
                                              coop.chain.now() + 7 * DAY), coop.treasurer)
    return signer, contract_at(coop.w3, "CoopAccount", address), c.group_buy.functions.orderCount().call()


def join_op(coop, signer, account, order: int, units: int, sign_with=None, **fields) -> UserOperation:
    """An operation joining `order`, zero fees (the operator pays); by default the account's first, creating it."""
    c = coop.contracts
    gb, fusd = c.group_buy, c.food_usd
    fields = {"nonce": c.entry_point.functions.getNonce(account.address, 0).call(),
              "init_code": init_code(c.account_factory, signer.address, 0), "max_fee": 0, "max_priority_fee": 0,
              **fields}
    op = UserOperation(
        sender=account.address,
        call_data=batch_calldata([
            Call(fusd.address, bytes.fromhex(fusd.encode_abi("approve", args=[gb.address, units * PRICE])[2:])),
            Call(gb.address, bytes.fromhex(gb.encode_abi("join", args=[order, units])[2:])),
        ]),
        **fields)
    if sign_with is not False:
        op.sign(c.entry_point, sign_with or signer)
    return op


async def test_an_operation_creating_the_account_and_joining_is_mined_through_the_bundler(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    assert await bundler.supported_entry_points() == [coop.contracts.entry_point.address]
    assert await bundler.chain_id() == coop.w3.eth.chain_id
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    op = join_op(coop, signer, account, order, units=4)

    op_hash = await bundler.send_user_operation(op)
    assert op_hash == "0x" + op.hash(coop.contracts.entry_point.address, coop.w3.eth.chain_id).hex()
    receipt = await bundler.wait_for_receipt(op_hash)

    assert receipt["success"] is True and receipt["sender"] == account.address and "reason" not in receipt
    assert receipt["receipt"]["status"] == "0x1"
    assert coop.w3.eth.get_transaction(receipt["receipt"]["transactionHash"])["from"] == servers.operator.address
    assert coop.contracts.group_buy.functions.getMember(order, account.address).call()[0] == 4
    assert coop.contracts.food_usd.functions.balanceOf(account.address).call() == 6 * PRICE
    assert coop.w3.eth.get_balance(account.address) == 0  # the operator paid the gas


async def test_the_same_operation_sent_twice_is_one_hash_and_runs_once(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    op = join_op(coop, signer, account, order, units=2)

    first, second = await asyncio.gather(bundler.send_user_operation(op), bundler.send_user_operation(op))
    receipt = await bundler.wait_for_receipt(first)
    assert first == second and receipt["success"]
    assert await bundler.send_user_operation(op) == first  # after it was mined, too
    await asyncio.sleep(0.2)  # a few bundling windows: nothing more is sent

    ep = coop.contracts.entry_point
    executions = ep.events.UserOperationEvent().get_logs(from_block=0, argument_filters={"sender": account.address})
    assert len(executions) == 1
    assert coop.contracts.group_buy.functions.getMember(order, account.address).call()[0] == 2
    assert ep.functions.getNonce(account.address, 0).call() == 1


async def test_an_operation_whose_calls_would_revert_is_refused_with_the_decoded_error(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    signer, account, order = member_and_order(coop, deposit=PRICE)  # too little for 4 units
    op = join_op(coop, signer, account, order, units=4)
    block = coop.w3.eth.block_number

    with pytest.raises(BundlerError) as refused:
        await bundler.send_user_operation(op)
    assert refused.value.code == EXECUTION_REVERTED
    assert refused.value.revert.name == "ERC20InsufficientBalance"
    assert refused.value.revert.args_by_name["balance"] == PRICE
    await asyncio.sleep(0.2)
    assert coop.w3.eth.block_number == block  # nothing mined
    assert coop.w3.eth.get_code(account.address) == b""
    assert await bundler.get_user_operation_receipt(op.hash(coop.contracts.entry_point.address,
                                                            coop.w3.eth.chain_id)) is None


async def test_a_second_operation_of_the_same_member_waits_behind_the_first(bundlers):
    coop, servers = bundlers
    bundler = await servers.start(window=3600)  # bundled by hand below, both in one bundle
    signer, account, first_order = member_and_order(coop, deposit=10 * PRICE)
    _, _, second_order = member_and_order(coop, deposit=0)
    first = join_op(coop, signer, account, first_order, units=2)
    second = join_op(coop, signer, account, second_order, units=3, nonce=1, init_code=b"")

    hashes = [await bundler.send_user_operation(first), await bundler.send_user_operation(second)]
    await servers.server(bundler).bundle_once()
    receipts = [await bundler.get_user_operation_receipt(h) for h in hashes]
    assert [r["success"] for r in receipts] == [True, True]
    assert receipts[0]["receipt"]["transactionHash"] == receipts[1]["receipt"]["transactionHash"]
    gb = coop.contracts.group_buy.functions
    assert (gb.getMember(first_order, account.address).call()[0],
            gb.getMember(second_order, account.address).call()[0]) == (2, 3)


async def test_an_operation_failing_once_mined_has_a_receipt_with_the_reason(bundlers):
    coop, servers = bundlers
    bundler = await servers.start(window=3600)  # bundled by hand below
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    op_hash = await bundler.send_user_operation(join_op(coop, signer, account, order, units=4))
    assert await bundler.get_user_operation_receipt(op_hash) is None  # accepted, not mined yet
    coop.tx(coop.contracts.group_buy.functions.cancel(order), coop.treasurer)  # the chain moves on meanwhile
    await servers.server(bundler).bundle_once()

    receipt = await bundler.get_user_operation_receipt(op_hash)
    assert receipt["success"] is False
    assert receipt_failure(receipt).name == "OrderNotOpen"
    assert coop.contracts.food_usd.functions.balanceOf(account.address).call() == 10 * PRICE


async def test_an_operation_signed_by_another_key_is_a_validation_error_naming_aa24(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    op = join_op(coop, signer, account, order, units=4, sign_with=coop.chain.new_account(ether=0))

    with pytest.raises(BundlerError) as refused:
        await bundler.send_user_operation(op)
    assert refused.value.code == VALIDATION_FAILED
    assert refused.value.message.startswith("AA24")
    assert refused.value.revert.name == "FailedOp"
    assert refused.value.revert.args_by_name["reason"] == "AA24 signature error"


async def test_estimated_limits_are_enough_for_the_operation(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    unsigned = join_op(coop, signer, account, order, units=4, sign_with=False)

    limits = await bundler.estimate_user_operation_gas(unsigned)
    assert 0 < limits["callGasLimit"] < 500_000 and 0 < limits["verificationGasLimit"] < 1_000_000
    assert 21_000 < limits["preVerificationGas"] < 100_000
    op = join_op(coop, signer, account, order, units=4, call_gas=limits["callGasLimit"],
                 verification_gas=limits["verificationGasLimit"], pre_verification_gas=limits["preVerificationGas"])
    receipt = await bundler.wait_for_receipt(await bundler.send_user_operation(op))
    assert receipt["success"]
    assert coop.contracts.group_buy.functions.getMember(order, account.address).call()[0] == 4


async def test_a_receipt_is_found_after_the_bundler_restarts(bundlers):
    coop, servers = bundlers
    bundler = await servers.start()
    signer, account, order = member_and_order(coop, deposit=10 * PRICE)
    op = join_op(coop, signer, account, order, units=4)
    op_hash = await bundler.send_user_operation(op)
    before = await bundler.wait_for_receipt(op_hash)
    await servers.stop(bundler)

    restarted = await servers.start()  # a new app: nothing in memory
    after = await restarted.get_user_operation_receipt(op_hash)
    assert after == before
    assert await restarted.send_user_operation(op) == op_hash  # a resend is recognised, not run again


@pytest.mark.parametrize("body, status", [
    (b"[" * 198_000, 413),  # parsed as it came, it took the whole process down (SIGSEGV), mempool and all
    (b"[" * 60_000, 400),  # under the size cap, too deep
    (b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": ' + b"[" * 40 + b"]" * 40 + b"}", 400),
    (b"{not json", 400),
    (b"[" + b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},' * 2_000 + b"{}]", 413),
], ids=["crash", "deep", "deep_but_valid", "not_json", "oversized"])
async def test_a_hostile_body_is_refused_and_the_bundler_still_answers(bundlers, body, status):
    coop, servers = bundlers
    bundler = await servers.start()
    async with httpx.AsyncClient() as http:
        refused = await http.post(bundler.url, content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == status and refused.json()["error"]["code"] == -32700
    assert await bundler.chain_id() == coop.w3.eth.chain_id


def test_the_rpc_form_round_trips_and_splits_init_code(anvil_coop):
    signer = anvil_coop.chain.new_account(ether=0)
    op = UserOperation(sender=anvil_coop.members[0].address, nonce=7, call_data=b"\x01\x02",
                       init_code=init_code(anvil_coop.contracts.account_factory, signer.address, 0),
                       max_fee=0, max_priority_fee=0, signature=b"\x05" * 65)
    rpc = op_to_rpc(op)
    assert rpc["factory"] == anvil_coop.contracts.account_factory.address
    assert rpc["nonce"] == "0x7" and rpc["maxFeePerGas"] == "0x0" and "paymaster" not in rpc
    assert op_from_rpc(json.loads(json.dumps(rpc))) == op
    with pytest.raises(ValueError, match="paymaster"):
        op_from_rpc({**rpc, "paymaster": "0x" + "11" * 20})


async def test_a_revert_in_the_error_data_is_decoded_by_the_client():
    data = "0x" + keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4].hex() + "00" * 96

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"],
                                         "error": {"code": -32521, "message": "execution reverted", "data": data}})

    client = BundlerClient("http://bundler/", "0x" + "22" * 20, transport=httpx.MockTransport(answer))
    with pytest.raises(BundlerError) as refused:
        await client.send_user_operation(UserOperation(sender="0x" + "33" * 20, nonce=0, call_data=b""))
    await client.close()
    assert refused.value.code == EXECUTION_REVERTED and refused.value.revert.name == "ERC20InsufficientBalance"
