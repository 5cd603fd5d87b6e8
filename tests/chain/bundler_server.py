"""Test support: a small ERC-4337 bundler speaking the standard JSON-RPC, built on a self-bundler (one
operator account), for the tests of the external-bundler path (chain/bundler_client.py, the outbox with
COOP_BUNDLER_URL).

It is not part of the product: it authenticates nobody, accepts any sender's operations and keeps its
mempool in memory only. In production COOP_BUNDLER_URL names a real bundler service; left unset, the
outbox worker bundles itself. Request bodies go through bot/web/bodies.py like every endpoint's (a size
cap, then a nesting cap before parsing), so a hostile body gets 413/400 and the server lives.

It validates each operation by simulation (handleOps by eth_call: a FailedOp is a validation error
-32500; then the operation's calls as the EntryPoint runs them: a revert is -32521), keeps accepted
operations in an in-memory mempool keyed by their hash, and every `window` seconds sends up to
`max_ops` of them in one handleOps transaction from the operator. Receipts come from the
UserOperationEvent / UserOperationRevertReason logs, looked up on chain by hash when this process does
not remember the operation (after a restart), so a receipt survives one.

Fees: our operations carry zero fees and the operator pays the gas; this server accepts that. A public
bundler would refuse them (it is paid from the fees) — there a paymaster would have to sponsor them.

Limits: the mempool is memory only (an accepted operation not yet sent is lost on a restart: resend it,
its hash does not change); an operation's calls are simulated against the chain as it is, not after
the same sender's operations still waiting in the mempool.

Run by hand: COOP_BUNDLER_KEY=0x… python -m tests.chain.bundler_server --rpc-url URL --entry-point ADDR [--port 4337]
"""
import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from aiohttp import web
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.logs import DISCARD

from bot.web.bodies import BodyRefused, read_json
from chain.accounts import clone_code
from chain.bundler_client import EXECUTION_REVERTED, INVALID_PARAMS, VALIDATION_FAILED, op_from_rpc
from chain.errors import ContractReverted, decode_revert
from chain.transact import revert_data, contract_at, send
from chain.userop import UserOperation

log = logging.getLogger("tests.chain.bundler_server")  # the same name under `python -m`

MAX_ATTEMPTS = 3  # bundles an operation may be in without being mined before it is dropped
# Limits an operation is probed with while its gas is estimated (its signature is then invalid: ignored).
PROBE_VERIFICATION_GAS = 2_000_000
PROBE_CALL_GAS = 1_000_000
PER_OP_OVERHEAD = 18_300  # EntryPoint bookkeeping per operation, outside the operation's own limits
_USER_OPERATION_EVENT = "0x" + keccak(
    text="UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)").hex()
_PACKED_OP = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)"


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _decode(data: bytes) -> ContractReverted:
    try:
        return decode_revert(data)
    except Exception:  # a known selector with arguments that do not decode
        return ContractReverted("unknown", {"data": "0x" + data.hex()}, data)


def _rpc_form(value: Any) -> Any:
    """web3's parsed values back in JSON-RPC form: quantities and bytes as 0x-hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _rpc_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rpc_form(v) for v in value]
    return value


def _pre_verification_gas(op: UserOperation) -> int:
    """Calldata cost of the operation in handleOps, plus the transaction's base cost (a bundle of one)."""
    signature = op.signature if len(op.signature) >= 65 else b"\x01" * 65
    data = encode([_PACKED_OP], [replace(op, signature=signature).packed()])
    return 21_000 + PER_OP_OVERHEAD + sum(16 if b else 4 for b in data)


class LocalBundler:
    """The mempool, the simulations and the bundling loop behind the JSON-RPC methods."""

    def __init__(self, w3: Web3, entry_point: Contract, operator: LocalAccount, *, window: float = 0.1,
                 max_ops: int = 20, from_block: int = 0):
        self.w3 = w3
        self.entry_point = entry_point
        self.operator = operator
        self.window = window
        self.max_ops = max_ops
        self.from_block = from_block  # where the on-chain receipt lookup starts
        self.mempool: dict[str, UserOperation] = {}  # op hash -> op, oldest first
        self.included: dict[str, str] = {}  # op hash -> hash of the transaction that carried it
        self.dropped: dict[str, str] = {}  # op hash -> why it was taken out of the mempool unsent
        self._attempts: dict[str, int] = {}
        self._receipts: dict[str, dict[str, Any]] = {}
        self._chain_id: int | None = None
        self._clone_codes: dict[str, bytes] = {}
        self._bundling = asyncio.Lock()  # one bundle in flight: a second would resend the same operations

    async def _rpc(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = await self._rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    async def op_hash(self, op: UserOperation) -> str:
        return "0x" + op.hash(self.entry_point.address, await self.chain_id()).hex()

    # ---- simulation ----

    async def _validate(self, op: UserOperation, *, ignore_signature: bool = False,
                        prior: list[UserOperation] | None = None) -> None:
        """handleOps by eth_call, after the same sender's waiting operations (their nonces come first)."""
        if prior is None:
            prior = [o for o in self.mempool.values() if o.sender == op.sender]
        call = self.entry_point.functions.handleOps([o.packed() for o in prior + [op]], self.operator.address)
        try:
            await self._rpc(lambda: call.call({"from": self.operator.address}))
        except (ContractLogicError, Web3RPCError, ValueError) as e:
            data = revert_data(e)
            error = _decode(data) if data else None
            if error is None or error.name not in ("FailedOp", "FailedOpWithRevert"):
                raise RpcError(VALIDATION_FAILED, f"validation reverted: {error or e}",
                               "0x" + data.hex() if data else None) from None
            if error.args_by_name["opIndex"] < len(prior):  # an earlier one failed (mined meanwhile?): alone
                return await self._validate(op, ignore_signature=ignore_signature, prior=[])
            reason = str(error.args_by_name["reason"])
            if ignore_signature and reason.startswith("AA24"):
                return  # everything but the signature passed: what an estimate needs
            if error.name == "FailedOpWithRevert":
                reason += f": {_decode(error.args_by_name['inner'])}"
            raise RpcError(VALIDATION_FAILED, reason, "0x" + data.hex()) from None

    async def _account_override(self, op: UserOperation) -> dict[str, Any] | None:
        """A state override putting the account's code at its address while it does not exist yet."""
        if len(await self._rpc(self.w3.eth.get_code, op.sender)) > 0:
            return None
        # Created by this operation, or by one of the sender's still waiting in the mempool.
        init_code = next((o.init_code for o in [op, *self.mempool.values()] if o.sender == op.sender and o.init_code),
                         None)
        if init_code is None:
            raise RpcError(VALIDATION_FAILED, f"account {op.sender} does not exist and no operation creates it")
        factory = to_checksum_address(init_code[:20])
        if factory not in self._clone_codes:
            contract = contract_at(self.w3, "CoopAccountFactory", factory)
            try:  # clone_code only needs the factory of a CoopSystem
                self._clone_codes[factory] = await self._rpc(clone_code, SimpleNamespace(account_factory=contract))
            except (ContractLogicError, Web3RPCError, ValueError) as e:
                raise RpcError(VALIDATION_FAILED, f"unsupported account factory {factory}: {e}") from None
        return {op.sender: {"code": "0x" + self._clone_codes[factory].hex()}}

    async def _simulate_calls(self, op: UserOperation) -> int:
        """Runs the operation's calls as the EntryPoint would; returns the gas they use."""
        override = await self._account_override(op)
        tx = {"from": self.entry_point.address, "to": op.sender, "data": "0x" + op.call_data.hex()}
        try:
            return await self._rpc(lambda: self.w3.eth.estimate_gas(tx, None, override))
        except (ContractLogicError, Web3RPCError, ValueError) as e:
            data = revert_data(e)
            message = f"execution reverted: {_decode(data)}" if data else f"execution reverted: {e}"
            raise RpcError(EXECUTION_REVERTED, message, "0x" + data.hex()) from None

    async def _verification_gas(self, op: UserOperation) -> int:
        """Creating the account (if this operation does) plus its validateUserOp, measured separately."""
        override = await self._account_override(op)
        gas = 0
        if override is not None and op.init_code:  # else an earlier waiting operation creates the account
            creator = await self._rpc(lambda: self.entry_point.functions.senderCreator().call())
            gas += await self._rpc(lambda: self.w3.eth.estimate_gas({
                "from": creator, "to": to_checksum_address(op.init_code[:20]), "data": "0x" + op.init_code[20:].hex()}))
        account = contract_at(self.w3, "CoopAccount", op.sender)
        data = account.encode_abi("validateUserOp", args=[
            op.packed(), op.hash(self.entry_point.address, await self.chain_id()), 0])
        gas += await self._rpc(lambda: self.w3.eth.estimate_gas(
            {"from": self.entry_point.address, "to": op.sender, "data": data}, None, override))
        return gas * 6 // 5 + 10_000  # the estimates' own base costs are headroom too

    # ---- the JSON-RPC methods ----

    async def send_user_operation(self, op: UserOperation) -> str:
        op_hash = await self.op_hash(op)
        if op_hash in self.mempool or op_hash in self.included:
            return op_hash
        try:
            await self._validate(op)
        except RpcError as e:  # sent again after a restart, and already mined: its nonce is used
            if e.message.startswith("AA25") and await self._find_on_chain(op_hash):
                return op_hash
            raise
        await self._simulate_calls(op)
        if op_hash not in self.mempool and op_hash not in self.included:  # unless a concurrent resend got here first
            self.mempool[op_hash] = op
            self.dropped.pop(op_hash, None)
            log.info("user operation accepted hash=%s sender=%s nonce=%s", op_hash, op.sender, op.nonce)
        return op_hash

    async def estimate_user_operation_gas(self, op: UserOperation) -> dict[str, str]:
        # At zero fees, as public bundlers estimate with the sender's balance overridden: a deposit topped up
        # only once the limits are known must not fail the estimate (AA21).
        probe = replace(op, verification_gas=PROBE_VERIFICATION_GAS, call_gas=PROBE_CALL_GAS, max_fee=0,
                        max_priority_fee=0)
        await self._validate(probe, ignore_signature=True)
        call_gas = await self._simulate_calls(op)
        return {
            "preVerificationGas": hex(_pre_verification_gas(op)),
            "verificationGasLimit": hex(await self._verification_gas(op)),
            "callGasLimit": hex(call_gas * 13 // 10 + 30_000),
        }

    async def user_operation_receipt(self, op_hash: str) -> dict[str, Any] | None:
        if op_hash in self._receipts:
            return self._receipts[op_hash]
        if op_hash in self.mempool:
            return None
        tx_hash = self.included.get(op_hash) or await self._find_on_chain(op_hash)
        if tx_hash is None:
            return None
        receipt = await self._rpc(self.w3.eth.get_transaction_receipt, tx_hash)
        result = self._op_receipt(op_hash, receipt)
        if result is not None:
            self._receipts[op_hash] = result
        return result

    async def _find_on_chain(self, op_hash: str) -> str | None:
        """The transaction that carried `op_hash`, from the EntryPoint's UserOperationEvent logs."""
        logs = await self._rpc(self.w3.eth.get_logs, {
            "address": self.entry_point.address, "topics": [_USER_OPERATION_EVENT, op_hash],
            "fromBlock": self.from_block, "toBlock": "latest"})
        if not logs:
            return None
        tx_hash = "0x" + bytes(logs[-1]["transactionHash"]).hex()
        self.included[op_hash] = tx_hash
        return tx_hash

    def _op_receipt(self, op_hash: str, receipt: Any) -> dict[str, Any] | None:
        """The standard receipt of one operation of a mined bundle, with the logs it emitted."""
        ep = self.entry_point
        events = ep.events.UserOperationEvent().process_receipt(receipt, errors=DISCARD)
        mine = [e for e in events if "0x" + bytes(e["args"]["userOpHash"]).hex() == op_hash]
        if not mine:
            return None
        event, args = mine[0], mine[0]["args"]
        # Its logs: after the previous operation's event (or the bundle's BeforeExecution), before its own.
        before = [e["logIndex"] for e in events if e["logIndex"] < event["logIndex"]]
        starts = [e["logIndex"] for e in ep.events.BeforeExecution().process_receipt(receipt, errors=DISCARD)]
        start = max(before + starts, default=-1)
        logs = [entry for entry in receipt["logs"] if start < entry["logIndex"] < event["logIndex"]]
        result: dict[str, Any] = {
            "userOpHash": op_hash, "entryPoint": ep.address, "sender": args["sender"], "nonce": hex(args["nonce"]),
            "paymaster": args["paymaster"], "actualGasCost": hex(args["actualGasCost"]),
            "actualGasUsed": hex(args["actualGasUsed"]), "success": args["success"],
            "logs": _rpc_form(logs), "receipt": _rpc_form(dict(receipt)),
        }
        if not args["success"]:
            reasons = [e for e in ep.events.UserOperationRevertReason().process_receipt(receipt, errors=DISCARD)
                       if "0x" + bytes(e["args"]["userOpHash"]).hex() == op_hash]
            result["reason"] = "0x" + bytes(reasons[0]["args"]["revertReason"]).hex() if reasons else "0x"
        return result

    # ---- bundling ----

    async def run(self) -> None:
        """Sends the mempool every `window` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.window)
            if not self.mempool:
                continue
            try:
                await self.bundle_once()
            except Exception as e:  # the node is away: keep the mempool, try again
                log.warning("bundle failed, retrying error=%r", e)

    async def bundle_once(self) -> str | None:
        """One handleOps transaction with up to `max_ops` waiting operations; returns its hash."""
        async with self._bundling:
            return await self._bundle()

    async def _bundle(self) -> str | None:
        batch = list(self.mempool.items())[: self.max_ops]
        if not batch:
            return None
        call = self.entry_point.functions.handleOps([op.packed() for _, op in batch], self.operator.address)
        try:
            receipt = await self._rpc(send, self.w3, call, self.operator)
        except ContractReverted as e:
            index = e.args_by_name.get("opIndex")
            if e.name in ("FailedOp", "FailedOpWithRevert") and isinstance(index, int) and index < len(batch):
                self._drop(batch[index][0], str(e))  # no longer valid (state moved on): the rest go next time
            else:
                for op_hash, _ in batch:
                    self._attempts[op_hash] = self._attempts.get(op_hash, 0) + 1
                    if self._attempts[op_hash] >= MAX_ATTEMPTS:
                        self._drop(op_hash, f"bundle failed {MAX_ATTEMPTS} times: {e}")
            return None
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        for op_hash, _ in batch:
            self.mempool.pop(op_hash, None)
            self._attempts.pop(op_hash, None)
            self.included[op_hash] = tx_hash
        log.info("bundle mined tx=%s ops=%d block=%s", tx_hash, len(batch), receipt["blockNumber"])
        return tx_hash

    def _drop(self, op_hash: str, why: str) -> None:
        self.mempool.pop(op_hash, None)
        self._attempts.pop(op_hash, None)
        self.dropped[op_hash] = why
        log.warning("user operation dropped hash=%s reason=%s", op_hash, why)


# ---- JSON-RPC over HTTP ----

BUNDLER = web.AppKey("bundler", LocalBundler)


def _params(params: Any, count: int) -> list[Any]:
    if not isinstance(params, list) or len(params) < count:
        raise RpcError(INVALID_PARAMS, f"expected {count} parameter(s)")
    return params


def _operation(bundler: LocalBundler, params: Any) -> UserOperation:
    op_json, entry_point = _params(params, 2)[:2]
    if not isinstance(entry_point, str) or entry_point.lower() != bundler.entry_point.address.lower():
        raise RpcError(INVALID_PARAMS, f"unsupported entry point {entry_point!r}")
    try:
        return op_from_rpc(op_json)
    except ValueError as e:
        raise RpcError(INVALID_PARAMS, f"invalid user operation: {e}") from None


def _op_hash_param(params: Any) -> str:
    (op_hash,) = _params(params, 1)[:1]
    if not isinstance(op_hash, str) or len(op_hash) != 66 or not op_hash.startswith("0x"):
        raise RpcError(INVALID_PARAMS, "expected a 32-byte 0x-hex userOpHash")
    return op_hash.lower()


async def _dispatch(bundler: LocalBundler, method: str, params: Any) -> Any:
    if method == "eth_sendUserOperation":
        return await bundler.send_user_operation(_operation(bundler, params))
    if method == "eth_estimateUserOperationGas":
        return await bundler.estimate_user_operation_gas(_operation(bundler, params))
    if method == "eth_getUserOperationReceipt":
        return await bundler.user_operation_receipt(_op_hash_param(params))
    if method == "eth_supportedEntryPoints":
        return [bundler.entry_point.address]
    if method == "eth_chainId":
        return hex(await bundler.chain_id())
    raise RpcError(-32601, f"method {method!r} not found")


async def _answer(bundler: LocalBundler, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
    try:
        answer["result"] = await _dispatch(bundler, request["method"], request.get("params", []))
    except RpcError as e:
        answer["error"] = {"code": e.code, "message": e.message, **({"data": e.data} if e.data is not None else {})}
    except Exception:
        log.exception("internal error method=%s", request["method"])
        answer["error"] = {"code": -32603, "message": "internal error"}
    return answer


async def _handle(request: web.Request) -> web.Response:
    try:
        body = await read_json(request)
    except BodyRefused as e:  # JSON-RPC's parse error, with the HTTP status saying why
        return web.json_response({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": e.why}},
                                 status=e.status)
    bundler = request.app[BUNDLER]
    if isinstance(body, list):
        return web.json_response([await _answer(bundler, item) for item in body])
    return web.json_response(await _answer(bundler, body))


def make_app(w3: Web3, entry_point_contract: Contract, operator: LocalAccount, *, window: float = 0.1,
             max_ops: int = 20, from_block: int = 0) -> web.Application:
    """The bundler as an aiohttp app (POST / JSON-RPC); its bundling loop runs while the app runs."""
    app = web.Application()
    app[BUNDLER] = LocalBundler(w3, entry_point_contract, operator, window=window, max_ops=max_ops,
                                from_block=from_block)
    app.router.add_post("/", _handle)

    async def bundling(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(app[BUNDLER].run())
        yield
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    app.cleanup_ctx.append(bundling)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.chain.bundler_server", description=__doc__.splitlines()[0])
    parser.add_argument("--rpc-url", required=True, help="the node's JSON-RPC URL")
    parser.add_argument("--entry-point", required=True, help="the EntryPoint's address")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4337)
    parser.add_argument("--window", type=float, default=0.1, help="seconds between bundles")
    parser.add_argument("--max-ops", type=int, default=20, help="operations per bundle")
    parser.add_argument("--from-block", type=int, default=0, help="first block searched for receipts")
    args = parser.parse_args(argv)
    key = os.environ.get("COOP_BUNDLER_KEY")
    if not key:
        parser.error("COOP_BUNDLER_KEY (the operator's private key, which pays the gas) is not set")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 30}))
    operator = Account.from_key(key)
    app = make_app(w3, contract_at(w3, "EntryPoint", args.entry_point), operator, window=args.window,
                   max_ops=args.max_ops, from_block=args.from_block)
    log.info("bundler starting host=%s port=%s operator=%s", args.host, args.port, operator.address)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
