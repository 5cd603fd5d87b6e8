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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.logs import DISCARD

from chain.accounts import Signers, clone_code
from chain.db import Intent, OperatorTransaction, SmartAccount, utcnow
from chain.deploy import CoopSystem
from chain.errors import decode_revert
from chain.intents import MEMBER_KINDS, OPERATOR_KINDS, reason_of
from chain.transact import _revert_data, contract_at
from chain.userop import UserOperation, batch_calldata

log = logging.getLogger(__name__)

FINAL = ("confirmed", "failed")
OPEN_TX = ("signed", "sent")
MAX_ATTEMPTS = 3
# Operation gas limits. Fees are zero, so limits cost nothing; they only have to fit the bundle.
VERIFICATION_GAS = 100_000
CREATION_GAS = 400_000  # verification of a first operation, which also creates the account
PRE_VERIFICATION_GAS = 50_000

Subscriber = Callable[[Intent], Awaitable[None] | None]


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
        for intent_id in intent_ids:
            intent = await self.get(intent_id)
            for callback in self._subscribers:
                try:
                    result = callback(intent)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # a subscriber's bug must not stop the outbox
                    log.exception("intent subscriber failed on intent %s", intent_id)
            async with self.sessions() as session, session.begin():
                (await session.get(Intent, intent_id)).notified_at = utcnow()


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
        return await asyncio.to_thread(fn, *args)

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
        chain_id = await self._chain()
        ep = self.contracts.entry_point
        failed, ops, included = [], [], []
        next_nonce: dict[str, int] = {}
        for intent in intents:
            try:
                op, op_hash = await self._build_op(intent, next_nonce, chain_id)
            except IntentRejected as e:
                await self._finish(intent.id, "failed", reason=e.reason, detail=e.detail)
                failed.append(intent.id)
                continue
            ops.append(op)
            included.append((intent, op, op_hash))
        if not ops:
            return failed
        call = ep.functions.handleOps([op.packed() for op in ops], self.operator.address)
        try:
            gas = await self._rpc(lambda: call.estimate_gas({"from": self.operator.address}))
        except (ContractLogicError, ValueError) as e:  # validation refused an operation (FailedOp)
            error = decode_revert(_revert_data(e))
            index = error.args_by_name.get("opIndex")
            if error.name == "FailedOp" and index is not None:
                intent = included[index][0]
                await self._finish(intent.id, "failed", reason=reason_of(error), detail=str(error))
                return failed + [intent.id]  # the others go in the next cycle
            raise
        tx_id = await self._store_and_sign(call, gas * 6 // 5 + 50_000, [
            (intent.id, op, op_hash) for intent, op, op_hash in included])
        await self._broadcast(tx_id)
        return failed

    async def _build_op(self, intent: Intent, next_nonce: dict[str, int], chain_id: int) -> tuple[UserOperation, bytes]:
        async with self.sessions() as session:
            account = await session.get(SmartAccount, intent.member_id)
        if account is None:
            raise IntentRejected("no_account", f"member {intent.member_id} has no account")
        if account.exported_to is not None:
            raise IntentRejected("exported", f"account handed to {account.exported_to}")
        ep = self.contracts.entry_point
        own = contract_at(self.w3, "CoopAccount", account.address)
        try:
            calls = await self._rpc(MEMBER_KINDS[intent.kind], self.contracts, account.address, intent.params)
        except ContractLogicError as e:
            raise IntentRejected(reason_of(decode_revert(_revert_data(e))), str(e)) from None
        except (KeyError, ValueError, TypeError) as e:
            raise IntentRejected("invalid", f"bad parameters for {intent.kind}: {e}") from None
        call_data = batch_calldata(own, calls)
        code = await self._rpc(self.w3.eth.get_code, account.address)
        deployed = len(code) > 0
        call_gas = await self._simulate(account.address, call_data, deployed)
        if account.address not in next_nonce:
            next_nonce[account.address] = await self._rpc(lambda: ep.functions.getNonce(account.address, 0).call())
        op = UserOperation(
            sender=account.address,
            nonce=next_nonce[account.address],
            call_data=call_data,
            init_code=b"" if deployed or next_nonce[account.address] > 0 else self._init_code(account),
            verification_gas=VERIFICATION_GAS if deployed else CREATION_GAS,
            call_gas=call_gas,
            pre_verification_gas=PRE_VERIFICATION_GAS,
            max_fee=0,
            max_priority_fee=0,
        )
        next_nonce[account.address] += 1
        signer = await self.signers.signer(intent.member_id)
        op_hash = op.sign(ep, signer, chain_id)
        return op, op_hash

    def _init_code(self, account: SmartAccount) -> bytes:
        factory = self.contracts.account_factory
        return bytes.fromhex(factory.address[2:]) + bytes.fromhex(
            factory.encode_abi("createAccount", args=[account.signer, account.salt])[2:])

    async def _simulate(self, account: str, call_data: bytes, deployed: bool) -> int:
        """Runs the operation's calls as the EntryPoint would (the account's code put in place when it does
        not exist yet); a revert becomes a plain reason and nothing is sent. Returns a call gas limit."""
        if self._clone_code is None:
            self._clone_code = await self._rpc(clone_code, self.contracts)
        tx = {"from": self.contracts.entry_point.address, "to": account, "data": "0x" + call_data.hex()}
        override = None if deployed else {account: {"code": "0x" + self._clone_code.hex()}}
        try:
            gas = await self._rpc(lambda: self.w3.eth.estimate_gas(tx, None, override))
        except (ContractLogicError, ValueError) as e:
            error = decode_revert(_revert_data(e))
            raise IntentRejected(reason_of(error), str(error)) from None
        return gas * 13 // 10 + 30_000

    async def _send_operator_call(self, intent: Intent) -> list[int]:
        account = None
        if intent.member_id is not None:
            async with self.sessions() as session:
                row = await session.get(SmartAccount, intent.member_id)
            account = row.address if row else intent.params.get("account")
        try:
            call = OPERATOR_KINDS[intent.kind].build(self.contracts, intent.params, account)
            gas = await self._rpc(lambda: call.estimate_gas({"from": self.operator.address}))
        except (ContractLogicError, ValueError, KeyError, TypeError) as e:
            data = _revert_data(e) if isinstance(e, (ContractLogicError, ValueError)) else b""
            reason = reason_of(decode_revert(data)) if data else "invalid"
            await self._finish(intent.id, "failed", reason=reason, detail=str(e))
            return [intent.id]
        tx_id = await self._store_and_sign(call, gas * 5 // 4 + 10_000, [(intent.id, None, None)])
        await self._broadcast(tx_id)
        return []

    # ---- transactions: stored signed, then sent ----

    async def _fees(self) -> tuple[int, int]:
        block = await self._rpc(lambda: self.w3.eth.get_block("latest"))
        priority = 10**9
        return 2 * block.get("baseFeePerGas", 10**9) + priority, priority

    async def _next_nonce(self) -> int:
        on_chain = await self._rpc(lambda: self.w3.eth.get_transaction_count(self.operator.address, "pending"))
        async with self.sessions() as session:
            ours = (await session.execute(select(func.max(OperatorTransaction.nonce)).where(
                OperatorTransaction.sender == self.operator.address,
                OperatorTransaction.state.in_(OPEN_TX)))).scalar_one()
        return max(on_chain, (ours + 1) if ours is not None else 0)

    async def _store_and_sign(self, call, gas: int, ops: list[tuple[int, UserOperation | None, bytes | None]]) -> int:
        """Signs the transaction and stores it with its intents marked submitted, in one commit."""
        max_fee, priority = await self._fees()
        payload = {"to": call.address, "data": call._encode_transaction_data(), "value": 0, "gas": gas,
                   "chainId": await self._chain()}
        nonce = await self._next_nonce()
        signed = self._sign(payload, nonce, max_fee, priority)
        async with self.sessions() as session, session.begin():
            row = OperatorTransaction(sender=self.operator.address, nonce=nonce, tx_hash=signed[0], raw=signed[1],
                                      payload=payload, max_fee=max_fee, priority_fee=priority)
            session.add(row)
            await session.flush()
            for intent_id, op, op_hash in ops:
                intent = await session.get(Intent, intent_id)
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
        mined_count = await self._rpc(lambda: self.w3.eth.get_transaction_count(self.operator.address, "latest"))
        for nonce, group in by_nonce.items():
            receipt, mined = None, None
            for row in group:
                try:
                    receipt = await self._rpc(self.w3.eth.get_transaction_receipt, row.tx_hash)
                except TransactionNotFound:
                    continue
                if receipt is not None:
                    mined = row
                    break
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
        ep = self.contracts.entry_point
        outcomes: dict[str, tuple[bool, str | None, str | None]] = {}
        for log_event in ep.events.UserOperationEvent().process_receipt(receipt, errors=DISCARD):
            outcomes["0x" + bytes(log_event["args"]["userOpHash"]).hex()] = (log_event["args"]["success"], None, None)
        for log_event in ep.events.UserOperationRevertReason().process_receipt(receipt, errors=DISCARD):
            error = decode_revert(bytes(log_event["args"]["revertReason"]))
            outcomes["0x" + bytes(log_event["args"]["userOpHash"]).hex()] = (False, reason_of(error), str(error))
        ids = [row.id for row in group]
        finished: list[int] = []
        async with self.sessions() as session, session.begin():
            for row in group:
                current = await session.get(OperatorTransaction, row.id)
                current.state = "mined" if row.id == mined.id else "replaced"
            current = await session.get(OperatorTransaction, mined.id)
            current.block_number, current.status = receipt["blockNumber"], receipt["status"]
            current.gas_used = receipt["gasUsed"]
            intents = (await session.execute(select(Intent).where(Intent.transaction_id.in_(ids)))).scalars()
            for intent in intents:
                intent.tx_hash, intent.block_number = mined.tx_hash, receipt["blockNumber"]
                if intent.user_op_hash is None:  # an operator call: the receipt's status says it all
                    if receipt["status"] == 1:
                        self._confirm(intent)
                    else:
                        self._fail(intent, "rejected", "operator transaction reverted")
                elif intent.user_op_hash in outcomes:
                    success, reason, detail = outcomes[intent.user_op_hash]
                    if success:
                        self._confirm(intent)
                        await self._after_confirm(session, intent, receipt["blockNumber"])
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


class IntentRejected(Exception):
    """An intent that cannot go on chain (its simulation reverts, or it is invalid): failed, never sent."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


__all__ = ["IntentRejected", "Outbox", "Worker", "WorkerOptions"]
