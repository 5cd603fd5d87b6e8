"""The outbox: durable intents and the worker that drives each to exactly one outcome.

An intent is written (with its idempotency key) before anything is signed. The worker bundles pending
member intents into user operations in one `handleOps` transaction from the operator account (which
pays the gas: operations carry zero fees, so members need no ETH), and sends operator intents as
plain transactions. Every transaction is stored signed before it is sent, so after a crash at any
point a restart finds it: a transaction mined while we were down is recognised by its hash, one the
node lost is sent again byte for byte, one stuck too long is replaced with a higher fee (same nonce,
so only one of them can be mined). User-operation nonces make an operation run at most once.

States: pending -> submitted -> confirmed | failed (with a reason code, see chain.intents).
"""
import asyncio
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import EncodingError
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from web3 import Web3

from chain.accounts import Signers, clone_code
from chain.db import Intent, OperatorTransaction, SmartAccount, utcnow
from chain.deploy import CoopSystem
from chain.errors import decode_revert
from chain import rpc
from chain.artifacts import function
from chain.intents import MEMBER_KINDS, OPERATOR_KINDS, Facts, reason_of
from chain.userop import UserOperation, batch_calldata

log = logging.getLogger(__name__)

FINAL = ("confirmed", "failed")
OPEN_TX = ("signed", "sent")
MAX_ATTEMPTS = 3
# Operation gas limits. Fees are zero, so limits cost nothing; they only have to fit the bundle.
VERIFICATION_GAS = 100_000
CREATION_GAS = 400_000  # verification of a first operation, which also creates the account
PRE_VERIFICATION_GAS = 50_000
OPERATION_OVERHEAD = 30_000  # the EntryPoint's own work per operation, on top of the operation's limits

Subscriber = Callable[[Intent], Awaitable[None] | None]


_OPERATION_EVENT = keccak(text="UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)")
_OPERATION_REVERT = keccak(text="UserOperationRevertReason(bytes32,address,uint256,bytes)")


def operation_outcomes(receipt: dict[str, Any], entry_point: str) -> dict[str, tuple[bool, str | None, str | None]]:
    """What each user operation in a mined bundle did, by its hash: (success, reason code, detail).
    Read straight from the EntryPoint's logs in a raw JSON-RPC receipt (web3's event processing costs
    milliseconds a log)."""
    outcomes: dict[str, tuple[bool, str | None, str | None]] = {}
    for entry in receipt["logs"]:
        topics = entry["topics"]
        if entry["address"].lower() != entry_point.lower() or len(topics) < 2:
            continue  # not ours, or BeforeExecution (no hash)
        topic, op_hash, data = HexBytes(topics[0]), HexBytes(topics[1]).to_0x_hex(), bytes(HexBytes(entry["data"]))
        if topic == _OPERATION_EVENT and op_hash not in outcomes:
            _, success, _, _ = decode(["uint256", "bool", "uint256", "uint256"], data)
            outcomes[op_hash] = (success, None if success else "rejected", None)
        elif topic == _OPERATION_REVERT:
            _, reason = decode(["uint256", "bytes"], data)
            error = decode_revert(reason)
            outcomes[op_hash] = (False, reason_of(error), str(error))
    return outcomes


@dataclass(frozen=True)
class TxTerms:
    gas: int  # the limit to sign
    max_fee: int
    priority_fee: int
    pending_nonce: int


class TransactionRefused(Exception):
    """The node's estimate reverted: the transaction would fail."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class IntentRejected(Exception):
    """An intent that cannot go on chain (its simulation reverts, or it is invalid): failed, never sent."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Outbox:
    """Where callers write intents and hear how they end."""

    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions
        self._subscribers: list[Subscriber] = []

    async def submit(self, idempotency_key: str, member_id: str | None, kind: str, params: dict[str, Any]) -> Intent:
        """Records an intent; the same key always gives the same intent (a double tap or a retried webhook
        changes nothing)."""
        if kind not in MEMBER_KINDS and kind not in OPERATOR_KINDS:
            raise ValueError(f"unknown intent kind {kind!r}")
        try:
            async with self.sessions() as session, session.begin():
                intent = Intent(idempotency_key=idempotency_key, member_id=member_id, kind=kind, params=params)
                session.add(intent)
            return intent
        except IntegrityError:
            async with self.sessions() as session:
                return (await session.execute(
                    select(Intent).where(Intent.idempotency_key == idempotency_key))).scalar_one()

    async def get(self, intent_id: int) -> Intent | None:
        async with self.sessions() as session:
            return await session.get(Intent, intent_id)

    def subscribe(self, callback: Subscriber) -> None:
        """`callback(intent)` runs once an intent is confirmed or failed (again after a crash, if the
        outcome was recorded but not yet told)."""
        self._subscribers.append(callback)

    async def notify(self, intent_ids: list[int]) -> None:
        if not intent_ids:
            return
        async with self.sessions() as session:
            intents = (await session.execute(select(Intent).where(Intent.id.in_(intent_ids)).order_by(Intent.id))).scalars()
        for intent in intents:
            for callback in self._subscribers:
                try:
                    result = callback(intent)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # a subscriber's bug must not stop the outbox
                    log.exception("intent subscriber failed on intent %s", intent.id)
        async with self.sessions() as session, session.begin():
            await session.execute(update(Intent).where(Intent.id.in_(intent_ids)).values(notified_at=utcnow()))


@dataclass
class WorkerOptions:
    max_ops: int = 20  # operations per bundle
    window: float = 0.2  # seconds to wait for more intents before bundling
    poll: float = 0.2  # seconds between cycles when idle
    bump_after: float = 30.0  # seconds before a sent, unmined transaction is replaced with a higher fee
    crash_at: str | None = None  # tests only: SIGKILL this process at a named stage (see _stage)


class Worker:
    """Drives intents to their outcome. One worker per operator account."""

    def __init__(self, w3: Web3, contracts: CoopSystem, outbox: Outbox, signers: Signers, operator: LocalAccount,
                 options: WorkerOptions | None = None, clock: Callable[[], float] = time.monotonic):
        self.w3 = w3
        self.contracts = contracts
        self.outbox = outbox
        self.sessions = outbox.sessions
        self.signers = signers
        self.operator = operator
        self.options = options or WorkerOptions()
        self.clock = clock
        self._chain_id: int | None = None
        self._clone_code: bytes | None = None
        self._sent_at: dict[str, float] = {}  # tx hash -> when this process (re)sent it
        self._node_threads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="outbox-node")

    async def run(self, stop: asyncio.Event) -> None:
        """Cycles until `stop` is set; a node or database outage is logged and retried."""
        await self.outbox.notify(await self._unnotified())
        while not stop.is_set():
            try:
                busy = await self.run_once(wait=True)
            except Exception as e:  # the node or the database is away: keep everything, try again
                log.warning("outbox cycle failed, retrying: %s", e)
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), self.options.poll)
                except TimeoutError:
                    pass

    async def run_once(self, wait: bool = False) -> bool:
        """One cycle: settle transactions in flight, then send what is pending. True if it did anything."""
        settled = await self._settle_in_flight()
        pending = await self._pending(limit=1)
        if pending and wait and self.options.window:
            await asyncio.sleep(self.options.window)
        sent = await self._send_pending()
        return settled or sent

    async def drain(self, timeout: float = 60.0) -> None:
        """Runs cycles until no intent is pending or submitted (tests and one-shot commands)."""
        deadline = self.clock() + timeout
        while await self._open_intents():
            if self.clock() > deadline:
                raise TimeoutError("intents still open")
            if not await self.run_once():
                await asyncio.sleep(0.05)

    # ---- the chain, off the event loop ----

    async def _rpc(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs a (blocking) node call on the worker's own threads: a bundle's members are built side by
        side, and the default pool's few threads would queue them."""
        return await asyncio.get_running_loop().run_in_executor(self._node_threads, fn, *args)

    async def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = await self._rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    # ---- reading the database ----

    async def _pending(self, limit: int) -> list[Intent]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Intent).where(Intent.state == "pending").order_by(Intent.id).limit(limit))
            return list(rows.scalars())

    async def _open_intents(self) -> int:
        async with self.sessions() as session:
            return (await session.execute(
                select(func.count()).select_from(Intent).where(Intent.state.in_(("pending", "submitted"))))).scalar_one()

    async def _unnotified(self) -> list[int]:
        async with self.sessions() as session:
            rows = await session.execute(select(Intent.id).where(Intent.state.in_(FINAL), Intent.notified_at.is_(None)))
            return list(rows.scalars())

    def _stage(self, name: str) -> None:
        """A named point between two durable steps; tests kill the worker here to prove recovery."""
        if self.options.crash_at == name:
            os.kill(os.getpid(), signal.SIGKILL)

    # ---- sending what is pending ----

    async def _send_pending(self) -> bool:
        pending = await self._pending(limit=self.options.max_ops * 4)
        if not pending:
            return False
        member = [i for i in pending if i.kind in MEMBER_KINDS][: self.options.max_ops]
        operator = [i for i in pending if i.kind in OPERATOR_KINDS]
        failed: list[int] = []
        if member:
            failed += await self._send_bundle(member)
        for intent in operator:
            failed += await self._send_operator_call(intent)
        await self.outbox.notify(failed)
        return True

    async def _send_bundle(self, intents: list[Intent]) -> list[int]:
        """Builds, simulates and signs one operation per intent, then stores and sends one handleOps
        transaction carrying those that would succeed. Returns the intents failed before sending."""
        self._stage("before_sign")
        built = await self._build_ops(intents)
        failed, included = [], []
        for intent in intents:
            result = built[intent.id]
            if isinstance(result, IntentRejected):
                await self._finish(intent.id, "failed", reason=result.reason, detail=result.detail)
                failed.append(intent.id)
            else:
                included.append((intent.id, *result))
        if not included:
            return failed
        ep = self.contracts.entry_point.address
        data = function("EntryPoint", "handleOps").encode([op.packed() for _, op, _ in included], self.operator.address)
        # The operations' own limits bound the bundle's gas, so the node checks it with one run (eth_call)
        # instead of an estimate's binary search over twenty operations; unused gas is not paid for.
        limit = sum(op.verification_gas + op.call_gas + OPERATION_OVERHEAD for _, op, _ in included) + 50_000
        try:
            terms = await self._terms(ep, data, gas_limit=limit)
        except TransactionRefused as e:  # validation refused an operation (FailedOp)
            index = e.error.args_by_name.get("opIndex")
            if e.error.name != "FailedOp" or index is None:
                raise ConnectionError(f"the bundle would revert: {e.error}") from None
            intent_id = included[index][0]
            await self._finish(intent_id, "failed", reason=reason_of(e.error), detail=str(e.error))
            return failed + [intent_id]  # the others go in the next cycle
        tx_id = await self._store_and_sign(ep, data, terms, ops=included)
        await self._broadcast(tx_id)
        return failed

    async def _build_ops(self, intents: list[Intent]) -> dict[int, tuple[UserOperation, bytes] | IntentRejected]:
        """The signed operation of each intent, or why it cannot go. The node is asked twice for the
        whole bundle: what the operations depend on (account nonces, order terms…), then a simulation
        of each."""
        chain_id = await self._chain()
        async with self.sessions() as session:
            accounts = {a.member_id: a for a in (await session.execute(select(SmartAccount).where(
                SmartAccount.member_id.in_({i.member_id for i in intents})))).scalars()}
        built: dict[int, tuple[UserOperation, bytes] | IntentRejected] = {}
        ready: list[tuple[Intent, SmartAccount]] = []
        for intent in intents:
            account = accounts.get(intent.member_id)
            if account is None:
                built[intent.id] = IntentRejected("no_account", f"member {intent.member_id} has no account")
            elif account.exported_to is not None:
                built[intent.id] = IntentRejected("exported", f"account handed to {account.exported_to}")
            else:
                ready.append((intent, account))
        facts, deployed, nonces = await self._read_facts(ready)
        drafts: list[tuple[Intent, SmartAccount, bytes]] = []
        for intent, account in ready:
            try:
                drafts.append((intent, account, self._call_data(intent, account.address, facts)))
            except IntentRejected as e:
                built[intent.id] = e
        gas_limits = await self._simulate(drafts, deployed)
        signers = await self.signers.signers(sorted({account.member_id for _, account, _ in drafts}))
        created: set[str] = set()  # accounts whose creation an earlier operation of this bundle carries
        for (intent, account, call_data), call_gas in zip(drafts, gas_limits):
            if isinstance(call_gas, IntentRejected):
                built[intent.id] = call_gas
                continue
            creates = not deployed[account.address] and account.address not in created
            created.add(account.address)
            op = UserOperation(
                sender=account.address,
                nonce=nonces[account.address],
                call_data=call_data,
                init_code=self._init_code(account) if creates else b"",
                verification_gas=CREATION_GAS if creates else VERIFICATION_GAS,
                call_gas=call_gas,
                pre_verification_gas=PRE_VERIFICATION_GAS,
                max_fee=0,
                max_priority_fee=0,
            )
            nonces[account.address] += 1
            built[intent.id] = (op, op.sign(self.contracts.entry_point, signers[account.member_id], chain_id))
        return built

    async def _read_facts(self, ready: list[tuple[Intent, SmartAccount]]) -> tuple[Facts, dict[str, bool], dict[str, int]]:
        """One batch: each account's EntryPoint nonce and whether it exists, and the reads the intents'
        kinds need. Returns (facts, deployed by address, nonce by address)."""
        get_nonce = function("EntryPoint", "getNonce")
        reads: dict[tuple, Any] = {}
        for intent, account in ready:
            reads[("nonce", account.address)] = rpc.Read(self.contracts.entry_point.address, get_nonce,
                                                         (account.address, 0))
            if account.deployed_block is None:
                reads[("code", account.address)] = None
            try:
                reads.update(MEMBER_KINDS[intent.kind].reads(self.contracts, account.address, intent.params))
            except (KeyError, ValueError, TypeError):
                pass  # bad parameters: _call_data says so
        keys = list(reads)
        requests = [("eth_getCode", [key[1], "latest"]) if key[0] == "code" else reads[key].request() for key in keys]
        responses = await self._rpc(rpc.batch, self.w3, requests)
        facts: Facts = {}
        deployed = {account.address: True for _, account in ready}
        nonces: dict[str, int] = {}
        for key, response in zip(keys, responses):
            if "error" in response:
                raise ConnectionError(f"the node could not answer {key}: {response['error']}")
            if key[0] == "code":
                deployed[key[1]] = HexBytes(response["result"]) != b""
            elif key[0] == "nonce":
                nonces[key[1]] = reads[key].result(response)
            else:
                facts[key] = reads[key].result(response)
        return facts, deployed, nonces

    def _call_data(self, intent: Intent, account: str, facts: Facts) -> bytes:
        try:
            calls = MEMBER_KINDS[intent.kind].calls(self.contracts, account, intent.params, facts)
        except (KeyError, ValueError, TypeError) as e:
            raise IntentRejected("invalid", f"bad parameters for {intent.kind}: {e!r}") from None
        return batch_calldata(calls)

    def _init_code(self, account: SmartAccount) -> bytes:
        factory = self.contracts.account_factory
        return bytes.fromhex(factory.address[2:]) + bytes.fromhex(
            factory.encode_abi("createAccount", args=[account.signer, account.salt])[2:])

    async def _simulate(self, drafts: list[tuple[Intent, SmartAccount, bytes]],
                        deployed: dict[str, bool]) -> list[int | IntentRejected]:
        """One batch: each operation's calls run as the EntryPoint would run them (the account's code put
        in place where it does not exist yet). A revert becomes a plain reason and nothing is sent;
        otherwise the call gas limit, with headroom."""
        if self._clone_code is None:
            self._clone_code = await self._rpc(clone_code, self.contracts)
        override = {"code": "0x" + self._clone_code.hex()}
        requests = []
        for _, account, call_data in drafts:
            tx = {"from": self.contracts.entry_point.address, "to": account.address, "data": "0x" + call_data.hex()}
            requests.append(("eth_estimateGas", [tx, "latest"] if deployed[account.address]
                             else [tx, "latest", {account.address: override}]))
        limits: list[int | IntentRejected] = []
        for response in await self._rpc(rpc.batch, self.w3, requests):
            if "error" in response:
                error = decode_revert(rpc.revert_data(response))
                detail = str(error) if error.name != "unknown" else str(response["error"])
                limits.append(IntentRejected(reason_of(error), detail))
            else:
                limits.append(int(response["result"], 16) * 13 // 10 + 30_000)
        return limits

    async def _send_operator_call(self, intent: Intent) -> list[int]:
        account = None
        if intent.member_id is not None:
            async with self.sessions() as session:
                row = await session.get(SmartAccount, intent.member_id)
            account = row.address if row else intent.params.get("account")
        try:
            call = OPERATOR_KINDS[intent.kind].build(self.contracts, intent.params, account)
            terms = await self._terms(call.target, call.data)
        except TransactionRefused as e:
            await self._finish(intent.id, "failed", reason=reason_of(e.error), detail=str(e.error))
            return [intent.id]
        except (KeyError, ValueError, TypeError, EncodingError) as e:
            await self._finish(intent.id, "failed", reason="invalid", detail=f"bad parameters for {intent.kind}: {e!r}")
            return [intent.id]
        tx_id = await self._store_and_sign(call.target, call.data, terms, ops=[(intent.id, None, None)])
        await self._broadcast(tx_id)
        return []

    # ---- transactions: stored signed, then sent ----

    async def _terms(self, to: str, data: bytes, gas_limit: int | None = None) -> "TxTerms":
        """One batch: the transaction's gas (estimated, or `gas_limit` checked by one eth_call; a revert
        raises TransactionRefused), fees from the latest block, and the operator's nonce as the node sees it."""
        tx = {"from": self.operator.address, "to": to, "data": "0x" + data.hex()}
        check = ("eth_estimateGas", [tx, "latest"]) if gas_limit is None \
            else ("eth_call", [{**tx, "gas": hex(gas_limit)}, "latest"])
        result, block, count = await self._rpc(rpc.batch, self.w3, [
            check,
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getTransactionCount", [self.operator.address, "pending"])])
        for response in (block, count):
            if "error" in response:
                raise ConnectionError(f"the node could not answer: {response['error']}")
        if "error" in result:
            data = rpc.revert_data(result)
            if not data:
                raise ConnectionError(f"the node could not run the transaction: {result['error']}")
            raise TransactionRefused(decode_revert(data))
        # Headroom over an estimate: gas can depend on the block the transaction lands in.
        gas = gas_limit if gas_limit is not None else int(result["result"], 16) * 5 // 4 + 10_000
        priority = 10**9
        base_fee = int(block["result"].get("baseFeePerGas", "0x3b9aca00"), 16)
        return TxTerms(gas, 2 * base_fee + priority, priority, int(count["result"], 16))

    async def _next_nonce(self, on_chain: int) -> int:
        """The node's pending count, or past our own stored transactions if the node lost some."""
        async with self.sessions() as session:
            ours = (await session.execute(select(func.max(OperatorTransaction.nonce)).where(
                OperatorTransaction.sender == self.operator.address,
                OperatorTransaction.state.in_(OPEN_TX)))).scalar_one()
        return max(on_chain, (ours + 1) if ours is not None else 0)

    async def _store_and_sign(self, to: str, data: bytes, terms: "TxTerms",
                              ops: list[tuple[int, UserOperation | None, bytes | None]]) -> int:
        """Signs the transaction and stores it with its intents marked submitted, in one commit."""
        payload = {"to": to, "data": "0x" + data.hex(), "value": 0, "gas": terms.gas,
                   "chainId": await self._chain()}
        nonce = await self._next_nonce(terms.pending_nonce)
        signed = self._sign(payload, nonce, terms.max_fee, terms.priority_fee)
        async with self.sessions() as session, session.begin():
            row = OperatorTransaction(sender=self.operator.address, nonce=nonce, tx_hash=signed[0], raw=signed[1],
                                      payload=payload, max_fee=terms.max_fee, priority_fee=terms.priority_fee)
            session.add(row)
            await session.flush()
            intents = {i.id: i for i in (await session.execute(
                select(Intent).where(Intent.id.in_([intent_id for intent_id, _, _ in ops])))).scalars()}
            for intent_id, op, op_hash in ops:
                intent = intents[intent_id]
                intent.state = "submitted"
                intent.transaction_id = row.id
                intent.tx_hash = signed[0]
                intent.user_op = op.to_json() if op else None
                intent.user_op_hash = "0x" + op_hash.hex() if op_hash else None
                intent.attempts += 1
                intent.submitted_at = utcnow()
            tx_id = row.id
        self._stage("after_sign")
        return tx_id

    def _sign(self, payload: dict[str, Any], nonce: int, max_fee: int, priority: int) -> tuple[str, bytes]:
        tx = {**payload, "nonce": nonce, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority, "type": 2}
        signed = self.operator.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def _broadcast(self, tx_id: int) -> None:
        async with self.sessions() as session:
            row = await session.get(OperatorTransaction, tx_id)
        try:
            await self._rpc(self.w3.eth.send_raw_transaction, row.raw)
        except ValueError as e:  # already known / mined / nonce used: the receipt check settles it
            log.info("transaction %s not accepted again: %s", row.tx_hash, e)
        self._sent_at[row.tx_hash] = self.clock()
        self._stage("after_send")
        async with self.sessions() as session, session.begin():
            row = await session.get(OperatorTransaction, tx_id)
            if row.state == "signed":
                row.state, row.sent_at = "sent", utcnow()

    # ---- settling what is in flight ----

    async def _settle_in_flight(self) -> bool:
        """Checks every open transaction: a receipt settles its intents; a lost one is sent again; one
        stuck too long is replaced with a higher fee."""
        async with self.sessions() as session:
            rows = list((await session.execute(select(OperatorTransaction).where(
                OperatorTransaction.sender == self.operator.address,
                OperatorTransaction.state.in_(OPEN_TX)).order_by(OperatorTransaction.nonce,
                                                                 OperatorTransaction.id))).scalars())
        if not rows:
            return False
        by_nonce: dict[int, list[OperatorTransaction]] = {}
        for row in rows:
            by_nonce.setdefault(row.nonce, []).append(row)
        # One batch: the operator's mined nonce count and a receipt for every open transaction (raw JSON:
        # web3's receipt formatting costs more than the node's answer).
        responses = await self._rpc(rpc.batch, self.w3, [
            ("eth_getTransactionCount", [self.operator.address, "latest"]),
            *(("eth_getTransactionReceipt", [row.tx_hash]) for row in rows)])
        for response in responses:
            if "error" in response:
                raise ConnectionError(f"the node could not answer: {response['error']}")
        mined_count = int(responses[0]["result"], 16)
        receipts = {row.tx_hash: response["result"] for row, response in zip(rows, responses[1:])}
        for nonce, group in by_nonce.items():
            mined = next((row for row in group if receipts[row.tx_hash] is not None), None)
            receipt = receipts[mined.tx_hash] if mined else None
            if mined is not None:
                self._stage("before_receipt")
                await self._apply_receipt(mined, group, receipt)
            elif nonce < mined_count:  # the nonce went to a transaction we never stored: try the intents again
                await self._abandon(group, "nonce used by another transaction")
            else:
                await self._resend_or_bump(group)
        return True

    async def _resend_or_bump(self, group: list[OperatorTransaction]) -> None:
        latest = group[-1]
        sent_at = self._sent_at.get(latest.tx_hash)
        if sent_at is None or latest.state == "signed":  # sent before a restart, or never: send it (again)
            await self._broadcast(latest.id)
            return
        if self.clock() - sent_at < self.options.bump_after:
            return
        max_fee, priority = latest.max_fee * 5 // 4 + 1, latest.priority_fee * 5 // 4 + 1
        tx_hash, raw = self._sign(latest.payload, latest.nonce, max_fee, priority)
        async with self.sessions() as session, session.begin():
            replacement = OperatorTransaction(sender=latest.sender, nonce=latest.nonce, tx_hash=tx_hash, raw=raw,
                                              payload=latest.payload, max_fee=max_fee, priority_fee=priority)
            session.add(replacement)
            await session.flush()
            for intent in (await session.execute(select(Intent).where(Intent.transaction_id == latest.id))).scalars():
                intent.transaction_id, intent.tx_hash = replacement.id, tx_hash
            replacement_id = replacement.id
        log.info("replacing stuck transaction %s (nonce %s) with %s", latest.tx_hash, latest.nonce, tx_hash)
        await self._broadcast(replacement_id)

    async def _abandon(self, group: list[OperatorTransaction], why: str) -> None:
        ids = [row.id for row in group]
        async with self.sessions() as session, session.begin():
            for row_id in ids:
                (await session.get(OperatorTransaction, row_id)).state = "dropped"
            for intent in (await session.execute(select(Intent).where(Intent.transaction_id.in_(ids)))).scalars():
                intent.state, intent.transaction_id, intent.detail = "pending", None, why

    async def _apply_receipt(self, mined: OperatorTransaction, group: list[OperatorTransaction], receipt) -> None:
        """Settles the intents of a mined transaction, once: the rows and intents change in one commit."""
        outcomes = operation_outcomes(receipt, self.contracts.entry_point.address)
        ids = [row.id for row in group]
        finished: list[int] = []
        async with self.sessions() as session, session.begin():
            for row in group:
                current = await session.get(OperatorTransaction, row.id)
                current.state = "mined" if row.id == mined.id else "replaced"
            current = await session.get(OperatorTransaction, mined.id)
            block, status = int(receipt["blockNumber"], 16), int(receipt["status"], 16)
            current.block_number, current.status, current.gas_used = block, status, int(receipt["gasUsed"], 16)
            intents = list((await session.execute(select(Intent).where(Intent.transaction_id.in_(ids)))).scalars())
            await session.execute(select(SmartAccount).where(  # into the session: _after_confirm reads them
                SmartAccount.member_id.in_({i.member_id for i in intents if i.member_id})))
            for intent in intents:
                intent.tx_hash, intent.block_number = mined.tx_hash, block
                if intent.user_op_hash is None:  # an operator call: the receipt's status says it all
                    if status == 1:
                        self._confirm(intent)
                    else:
                        self._fail(intent, "rejected", "operator transaction reverted")
                elif intent.user_op_hash in outcomes:
                    success, reason, detail = outcomes[intent.user_op_hash]
                    if success:
                        self._confirm(intent)
                        await self._after_confirm(session, intent, block)
                    else:
                        self._fail(intent, reason or "rejected", detail)
                elif intent.attempts >= MAX_ATTEMPTS:  # the bundle reverted as a whole, again
                    self._fail(intent, "rejected", "the bundle carrying it reverted")
                else:
                    intent.state, intent.transaction_id = "pending", None
                    continue
                finished.append(intent.id)
        await self.outbox.notify(finished)

    @staticmethod
    def _confirm(intent: Intent) -> None:
        intent.state, intent.finished_at, intent.reason = "confirmed", utcnow(), None

    @staticmethod
    def _fail(intent: Intent, reason: str, detail: str | None) -> None:
        intent.state, intent.finished_at, intent.reason, intent.detail = "failed", utcnow(), reason, detail

    async def _after_confirm(self, session, intent: Intent, block: int) -> None:
        account = await session.get(SmartAccount, intent.member_id)
        if account.deployed_block is None:
            account.deployed_block = block
        if intent.kind == "export":
            account.exported_to, account.exported_at = intent.params["new_signer"], utcnow()

    async def _finish(self, intent_id: int, state: str, reason: str | None = None, detail: str | None = None) -> None:
        async with self.sessions() as session, session.begin():
            intent = await session.get(Intent, intent_id)
            if state == "failed":
                self._fail(intent, reason or "rejected", detail)
            else:
                self._confirm(intent)


__all__ = ["IntentRejected", "Outbox", "Worker", "WorkerOptions"]
