"""The outbox: durable intents and the worker that drives each to exactly one outcome.

An intent is written (with its idempotency key) before anything is signed. The worker bundles pending
member intents into user operations (chain.operations) carried by one `handleOps` transaction from the
gas payer's account, and sends operator intents (recording a deposit, registering a member) as plain
transactions, each from the account of its kind's role (chain.intents, chain.roles); every transaction
is stored signed before it is sent and followed to its receipt across crashes (chain.transactions).
User-operation nonces make an operation run at most once; an intent's state changes with its
transaction's in one commit.

States: pending -> submitted -> confirmed | failed (with a reason code, see chain.intents).
"""
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from eth_abi.exceptions import EncodingError
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import Web3

from chain.accounts import Signers
from chain.bundler_client import BundlerClient, BundlerError, BundlerUnavailable, receipt_failure
from chain.artifacts import function
from chain.db import Intent, OperatorTransaction, SmartAccount, utcnow
from chain.deploy import CoopSystem
from chain.intents import (BUNDLER_REFUSED, INVALID, MEMBER_KINDS, OPERATOR_KINDS, REJECTED, SIGNATURE_REJECTED,
                           reason_of)
from chain.operations import OPERATION_OVERHEAD, IntentRejected, IntentWaits, OperationBuilder, operation_outcomes
from chain.roles import RoleKeys
from chain.transactions import (DEFAULT_MAX_FEE, OPEN_TX, FeeCeilingReached, Fence, NotLeader, OperatorTransactions,
                                TransactionRefused, crash_point, fenced)
from chain.userop import DUMMY_SIGNATURE, UserOperation

log = logging.getLogger(__name__)

FINAL = ("confirmed", "failed")
MAX_ATTEMPTS = 3  # bundles an intent may ride in that revert as a whole before it fails
RETRY_FIRST, RETRY_MAX = 1.0, 300.0  # seconds before a subscriber that raised hears an outcome again
# With an external bundler an account's EntryPoint deposit pays its operations' gas: when it holds less than the
# next operation may cost (its gas limits at its fee), the gas payer tops it up to this many such operations.
DEPOSIT_OPERATIONS = 10  # one top-up (~45,000 gas) shared by ten operations adds ~2 % to each

Subscriber = Callable[[Intent], Awaitable[None] | None]


class Outbox:
    """Where callers write intents and hear how they end."""

    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions
        self._subscribers: list[Subscriber] = []
        self._retry_at: dict[int, float] = {}  # intent id -> when a failed subscriber may hear it again
        self._retry_wait: dict[int, float] = {}

    async def submit(self, idempotency_key: str, member_id: str | None, kind: str, params: dict[str, Any]) -> Intent:
        """Records an intent; the same key always gives the same intent (a double tap or a retried webhook
        changes nothing)."""
        try:
            async with self.sessions() as session, session.begin():
                intent = self.add(session, idempotency_key, member_id, kind, params)
            return intent
        except IntegrityError:
            async with self.sessions() as session:
                return (await session.execute(
                    select(Intent).where(Intent.idempotency_key == idempotency_key))).scalar_one()

    @staticmethod
    def add(session: AsyncSession, idempotency_key: str, member_id: str | None, kind: str,
            params: dict[str, Any]) -> Intent:
        """Records an intent in the caller's transaction, so it commits with what the caller writes (a new
        member and their registration); a key already used fails the whole transaction."""
        if kind not in MEMBER_KINDS and kind not in OPERATOR_KINDS:
            raise ValueError(f"unknown intent kind {kind!r}")
        intent = Intent(idempotency_key=idempotency_key, member_id=member_id, kind=kind, params=params)
        session.add(intent)
        return intent

    async def get(self, intent_id: int) -> Intent | None:
        async with self.sessions() as session:
            return await session.get(Intent, intent_id)

    def subscribe(self, callback: Subscriber) -> None:
        """`callback(intent)` runs once an intent is confirmed or failed (again after a crash, if the
        outcome was recorded but not yet told, or after it raised): it must be idempotent."""
        self._subscribers.append(callback)

    async def notify(self, intent_ids: list[int]) -> None:
        """Runs the subscribers on each finished intent; an intent is marked told (`notified_at`) only when
        every subscriber returned, so one that raised (a bug, the database away) hears it again later."""
        now = time.monotonic()
        due = [i for i in intent_ids if self._retry_at.get(i, 0.0) <= now]
        if not due:
            return
        async with self.sessions() as session:
            intents = (await session.execute(select(Intent).where(Intent.id.in_(due)).order_by(Intent.id))).scalars()
        told = []
        for intent in intents:
            ok = True
            for callback in self._subscribers:
                try:
                    result = callback(intent)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:  # a subscriber's failure must not stop the outbox, nor lose the outcome
                    log.exception("intent subscriber failed on intent %s", intent.id)
                    ok = False
            if ok:
                told.append(intent.id)
                self._retry_at.pop(intent.id, None)
                self._retry_wait.pop(intent.id, None)
            else:  # tried again after a pause that doubles, up to RETRY_MAX (subscribers must be idempotent)
                self._retry_wait[intent.id] = min(RETRY_MAX, self._retry_wait.get(intent.id, RETRY_FIRST / 2) * 2)
                self._retry_at[intent.id] = now + self._retry_wait[intent.id]
        if told:
            async with self.sessions() as session, session.begin():
                await session.execute(update(Intent).where(Intent.id.in_(told)).values(notified_at=utcnow()))


@dataclass
class WorkerOptions:
    max_ops: int = 20  # operations per bundle
    window: float = 0.2  # seconds to wait for more intents before bundling
    poll: float = 0.2  # seconds between cycles when idle
    bump_after: float = 30.0  # seconds before a sent, unmined transaction is replaced with a higher fee
    max_fee: int = DEFAULT_MAX_FEE  # wei per gas each backend account pays at most (COOP_MAX_FEE_GWEI): no bump past it
    confirmations: int = 0  # blocks on top of a transaction before its intents are confirmed (a reorg
    # above that depth drops it and it is sent again); 0 suits the embedded chain, an L2 wants more
    crash_at: str | None = None  # tests only: SIGKILL this process at a named stage (see crash_point)


class Worker:
    """Drives intents to their outcome. One worker per set of role keys."""

    def __init__(self, w3: Web3, contracts: CoopSystem, outbox: Outbox, signers: Signers, keys: RoleKeys,
                 options: WorkerOptions | None = None, clock: Callable[[], float] = time.monotonic,
                 bundler: BundlerClient | None = None, fee_ceiling_reached: FeeCeilingReached | None = None,
                 may_sign: Callable[[], Awaitable[bool]] | None = None, fence: Fence | None = None):
        self.w3 = w3
        self.contracts = contracts
        self.outbox = outbox
        self.sessions = outbox.sessions
        self.signers = signers
        self.keys = keys
        self.options = options or WorkerOptions()
        self.clock = clock
        self._chain_id: int | None = None
        self.builder = OperationBuilder(w3, contracts, self.sessions, signers, self._rpc, self._chain)
        # One sender each: its own nonces and stored transactions (two roles sharing a key in development
        # share one).
        self.senders = {account.address: OperatorTransactions(
            w3, self.sessions, account, self._rpc, self._chain, clock, self.options.bump_after,
            self.options.confirmations, self.options.crash_at, self.options.max_fee, fee_ceiling_reached, fence)
            for account in keys.accounts()}
        # With an external bundler (COOP_BUNDLER_URL) member operations go to it; operator intents
        # remain the role accounts' own transactions.
        self.bundler = bundler
        self._op_sent_at: dict[str, float] = {}  # user operation hash -> when this process (re)sent it
        # Asked right before each cycle's signing: False while another replica leads (chain/lease.py). That is by
        # the clock; the fence, in each transaction storing what was signed, is by the lease's row.
        self.may_sign = may_sign
        self.fence = fence

    async def run(self, stop: asyncio.Event) -> None:
        """Cycles until `stop` is set, or until the fence says another process leads; a node or database outage
        is logged and retried."""
        await self.outbox.notify(await self._unnotified())
        if self.bundler is not None:
            await self._check_bundler()
        while not stop.is_set():
            try:
                busy = await self.run_once(wait=True)
            except NotLeader as e:  # signing is the new leader's now (it sends again what was stored here)
                log.error("outbox worker stops: %s", e)
                return
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
        await self.outbox.notify(await self._unnotified())  # outcomes a failed cycle could not tell yet
        if self.may_sign is not None and not await self.may_sign():
            return False
        settled = await self._settle_in_flight()  # replacements are signed here
        if not await self._pending(limit=1):
            return settled  # nothing to send: an idle cycle (five a second) stays at three reads, not five
        if wait and self.options.window:
            await asyncio.sleep(self.options.window)
        if self.may_sign is not None and not await self.may_sign():
            return settled
        sent = await self._send_pending()
        return settled or sent

    async def drain(self, timeout: float = 60.0) -> None:
        """Runs cycles until no intent is pending or submitted (tests and one-shot commands)."""
        deadline = self.clock() + timeout
        while await self._open_intents():
            if self.clock() > deadline:
                raise TimeoutError("intents still open")
            try:
                busy = await self.run_once()
            except ConnectionError as e:  # the node or the bundler is away for now, as in run()
                log.warning("outbox cycle failed, retrying: %s", e)
                busy = False
            if not busy:
                await asyncio.sleep(0.05)

    # ---- the chain, off the event loop ----

    async def _rpc(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs a blocking node call (web3 over HTTP) off the event loop."""
        return await asyncio.to_thread(fn, *args)

    async def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = await self._rpc(lambda: self.w3.eth.chain_id)
        return self._chain_id

    # ---- reading the database ----

    async def _pending(self, limit: int, kinds: Iterable[str] | None = None) -> list[Intent]:
        """The oldest pending intents (of `kinds` only, when given: older member intents waiting for an operator's
        top-up must not crowd the top-up out)."""
        query = select(Intent).where(Intent.state == "pending")
        if kinds is not None:
            query = query.where(Intent.kind.in_(list(kinds)))
        async with self.sessions() as session:
            return list((await session.execute(query.order_by(Intent.id).limit(limit))).scalars())

    async def _open_intents(self) -> int:
        async with self.sessions() as session:
            return (await session.execute(
                select(func.count()).select_from(Intent).where(Intent.state.in_(("pending", "submitted"))))).scalar_one()

    async def _unnotified(self) -> list[int]:
        async with self.sessions() as session:
            rows = await session.execute(select(Intent.id).where(Intent.state.in_(FINAL), Intent.notified_at.is_(None)))
            return list(rows.scalars())

    # ---- sending what is pending ----

    async def _send_pending(self) -> bool:
        member = await self._ready_member_intents()
        operator = await self._pending(limit=self.options.max_ops, kinds=OPERATOR_KINDS)
        after = [i for i in operator if OPERATOR_KINDS[i.kind].after_member]
        waiting = await self._members_busy(after)
        failed = await self._fail_after_failed([i for i in after if i.id not in waiting])
        operator = [i for i in operator if i.id not in waiting and i.id not in failed]
        if not member and not operator:
            await self.outbox.notify(failed)
            return bool(failed)
        sent = False
        try:
            if member:
                try:
                    failed += await self._send_bundle(member)
                    sent = True
                except ConnectionError as e:  # the bundler away, fees too high: the operator's own calls still go
                    log.warning("member operations wait: %s", e)
            for intent in operator:
                try:
                    failed += await self._send_operator_call(intent)
                    sent = True
                except ConnectionError as e:  # this one could not be estimated now: the others still go
                    log.warning("operator intent %s waits: %s", intent.id, e)
        finally:
            await self.outbox.notify(failed)
        return sent or bool(failed)  # nothing went: the run loop waits its poll before trying again

    async def _members_busy(self, intents: list[Intent]) -> set[int]:
        """Of these operator intents, those whose member still has an earlier member intent pending or submitted
        (a withdrawal waits for the approval written before it)."""
        if not intents:
            return set()
        async with self.sessions() as session:
            busy = list((await session.execute(select(Intent.member_id, Intent.id).where(
                Intent.state.in_(("pending", "submitted")), Intent.kind.in_(MEMBER_KINDS),
                Intent.member_id.in_({i.member_id for i in intents})))).all())
        return {i.id for i in intents if any(m == i.member_id and earlier < i.id for m, earlier in busy)}

    async def _fail_after_failed(self, intents: list[Intent]) -> list[int]:
        """Fails, unsent and with its reason, each of these operator intents whose intent written before it (key
        `KEY:n`, core/offers.py `_write_intent`) failed: a burn whose approval failed must not spend an allowance
        left from an earlier withdrawal."""
        failed = []
        for intent in intents:
            async with self.sessions() as session:
                before = (await session.execute(select(Intent).where(
                    Intent.member_id == intent.member_id, Intent.state == "failed",
                    Intent.idempotency_key.startswith(f"{intent.idempotency_key}:", autoescape=True))
                    .order_by(Intent.id).limit(1))).scalar_one_or_none()
            if before is not None:
                await self._reject(intent.id, before.reason or REJECTED,
                                   f"{before.kind} {before.idempotency_key} failed: {before.detail}")
                failed.append(intent.id)
        return failed

    async def _ready_member_intents(self) -> list[Intent]:
        """Pending member intents, oldest first, of members with no operation in flight: an operation's
        nonce follows the one before it, which must be settled first (read at the latest block, an
        unmined one would be signed again with the same nonce). With an external bundler, one per member."""
        in_flight = select(Intent.member_id).where(Intent.member_id.is_not(None), (
            (Intent.state == "submitted") & Intent.kind.in_(MEMBER_KINDS)) | (
            Intent.state.in_(("pending", "submitted")) & (Intent.kind == "top_up")))  # their gas is on its way
        async with self.sessions() as session:
            rows = list((await session.execute(select(Intent).where(
                Intent.state == "pending", Intent.kind.in_(MEMBER_KINDS), Intent.member_id.not_in(in_flight))
                .order_by(Intent.id).limit(self.options.max_ops * 4))).scalars())
        if self.bundler is not None:
            seen: set[str] = set()
            rows = [i for i in rows if not (i.member_id in seen or seen.add(i.member_id))]
        return rows[: self.options.max_ops]

    async def _send_bundle(self, intents: list[Intent]) -> list[int]:
        """Builds, simulates and signs one operation per intent, then stores and sends one handleOps
        transaction carrying those that would succeed. Returns the intents failed before sending."""
        crash_point(self.options.crash_at, "before_sign")
        limits = self._bundler_limits(await self._operation_fees()) if self.bundler else None
        built = await self.builder.build(intents, limits)
        failed, included = [], []
        for intent in intents:
            result = built.get(intent.id)
            if result is None:
                continue  # it waits (its account's gas is on its way)
            if isinstance(result, IntentRejected):
                await self._reject(intent.id, result.reason, result.detail)
                failed.append(intent.id)
            else:
                included.append((intent.id, *result))
        if not included:
            return failed
        if self.bundler is not None:
            return failed + await self._hand_to_bundler(included)
        ep = self.contracts.entry_point.address
        payer = self._transactions(self.keys.gas_payer)
        data = function("EntryPoint", "handleOps").encode([op.packed() for _, op, _ in included], payer.sender.address)
        # The operations' own limits bound the bundle's gas, so the node checks it with one run (eth_call)
        # instead of an estimate's binary search over twenty operations; unused gas is not paid for.
        limit = sum(op.verification_gas + op.call_gas + OPERATION_OVERHEAD for _, op, _ in included) + 50_000
        try:
            terms = await payer.terms(ep, data, gas_limit=limit)
        except TransactionRefused as e:  # validation refused an operation (FailedOp)
            index = e.error.args_by_name.get("opIndex")
            if e.error.name != "FailedOp" or index is None or "AA25" in str(e.error.args_by_name.get("reason")):
                # AA25: a nonce moved since it was read (a bundle just mined): build again next cycle
                raise ConnectionError(f"the bundle would revert: {e.error}") from None
            intent_id = included[index][0]
            await self._reject(intent_id, reason_of(e.error), str(e.error))
            return failed + [intent_id]  # the others go in the next cycle
        tx_id = await payer.store_and_sign(ep, data, terms, ops=included)
        await payer.broadcast(tx_id)
        return failed

    async def _send_operator_call(self, intent: Intent) -> list[int]:
        account = None
        if intent.member_id is not None:
            async with self.sessions() as session:
                row = await session.get(SmartAccount, intent.member_id)
            account = row.address if row else intent.params.get("account")
        kind = OPERATOR_KINDS[intent.kind]
        sender = self._transactions(self.keys.of(kind.role))
        try:
            call = kind.build(self.contracts, intent.params, account)
            terms = await sender.terms(call.target, call.data, value=call.value)
        except TransactionRefused as e:
            await self._reject(intent.id, reason_of(e.error), str(e.error))
            return [intent.id]
        except (KeyError, ValueError, TypeError, EncodingError) as e:
            await self._reject(intent.id, INVALID, f"bad parameters for {intent.kind}: {e!r}")
            return [intent.id]
        tx_id = await sender.store_and_sign(call.target, call.data, terms, ops=[(intent.id, None, None)],
                                            value=call.value)
        await sender.broadcast(tx_id)
        return []

    def _transactions(self, account: LocalAccount) -> OperatorTransactions:
        return self.senders[account.address]

    # ---- settling what is in flight ----

    async def _settle_in_flight(self) -> bool:
        """Settles the intents of every mined transaction (the others are resent or bumped), and of the
        operations an external bundler carried."""
        async with self.sessions() as session:  # one read for every account, so an idle cycle stays cheap
            busy = set((await session.execute(select(OperatorTransaction.sender).where(
                OperatorTransaction.state.in_(OPEN_TX)).distinct())).scalars())
        mined = [m for address, sender in self.senders.items() if address in busy for m in await sender.in_flight()]
        for m in mined:
            crash_point(self.options.crash_at, "before_receipt")
            await self._apply_receipt(m.row, m.group, m.receipt)
        bundled = await self._settle_with_bundler() if self.bundler is not None else False
        return bool(mined) or bundled

    # ---- an external bundler ----

    async def _check_bundler(self) -> None:
        """Says plainly, once at start, when the bundler does not serve our EntryPoint: it would refuse every
        operation (a co-op deployed before `coop deploy` put the EntryPoint at its canonical address)."""
        try:
            served = await self.bundler.supported_entry_points()
        except (BundlerUnavailable, BundlerError) as e:
            log.warning("bundler %s not reachable at start: %s", self.bundler.where, e)
            return
        if self.bundler.entry_point not in served:
            log.error("the bundler %s serves the EntryPoints %s, not this co-op's %s: it will refuse every member "
                      "operation (deploy the co-op again: `coop deploy` puts the EntryPoint at its canonical "
                      "address, where bundlers look for it)", self.bundler.where, ", ".join(served),
                      self.bundler.entry_point)

    async def _operation_fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for operations handed to the bundler now: what it asks for
        (pimlico_getUserOperationGasPrice) when it says, else the node's tip on twice the base fee. Above the
        fee ceiling (COOP_MAX_FEE_GWEI) nothing goes: the operations wait for fees to fall."""
        try:
            fees = await self.bundler.user_operation_gas_price()
        except (BundlerUnavailable, BundlerError) as e:
            raise ConnectionError(f"the bundler could not price operations now: {e}") from None
        if fees is None:
            tip, block = await self._rpc(lambda: (self.w3.eth.max_priority_fee, self.w3.eth.get_block("latest")))
            fees = (2 * block.get("baseFeePerGas", 0) + tip, tip)
        if fees[0] > self.options.max_fee:
            raise ConnectionError(f"operations wait: the bundler asks {fees[0]} wei per gas, over the ceiling "
                                  f"{self.options.max_fee}")
        return fees

    def _bundler_limits(self, fees: tuple[int, int]) -> Callable[[Intent, UserOperation], Awaitable[dict[str, int]]]:
        """Sets each operation's fees, then its gas limits as the bundler estimates them with a signature of
        the real length; a refusal fails the intent with its reason, a bundler away leaves it pending. The
        bundler simulates the operation paid for (AA21 otherwise), so an account whose deposit would not cover
        twice what our own limits allow waits for a top-up first."""
        async def limits(intent: Intent, op: UserOperation) -> dict[str, int]:
            priced = {"max_fee": fees[0], "max_priority_fee": fees[1]}
            if await self._deposit_short(intent, replace(op, **priced), margin=2):
                raise IntentWaits()
            try:
                found = await self.bundler.estimate_user_operation_gas(
                    replace(op, **priced, signature=DUMMY_SIGNATURE))
            except BundlerUnavailable as e:
                raise ConnectionError(f"bundler away: {e}") from None
            except BundlerError as e:
                if not e.refused:
                    raise ConnectionError(f"the bundler could not estimate now: {e}") from None
                raise IntentRejected(_refusal_reason(e), str(e)) from None
            # The bundler's call gas is the least that ran in its simulation; gas can depend on the block the
            # operation lands in (the escrow walks the weeks since its last checkpoint), so our own simulated
            # limit, with headroom, stands when it is higher.
            return {**priced, "call_gas": max(found["callGasLimit"], op.call_gas),
                    "verification_gas": found["verificationGasLimit"],
                    "pre_verification_gas": found["preVerificationGas"]}
        return limits

    async def _hand_to_bundler(self, included: list[tuple[int, UserOperation, bytes]]) -> list[int]:
        """Records the signed operations with their intents (submitted), then hands them to the bundler.
        One it refuses fails with its reason; one it cannot take now is handed again by _settle_with_bundler.
        An operation its account's deposit cannot pay for stays pending while the gas payer tops it up."""
        included, failed = await self._paid_for(included)
        if not included:
            return failed
        async with self.sessions() as session, session.begin():
            await fenced(session, self.fence)
            intents = {i.id: i for i in (await session.execute(
                select(Intent).where(Intent.id.in_([intent_id for intent_id, _, _ in included])))).scalars()}
            for intent_id, op, op_hash in included:
                intent = intents[intent_id]
                intent.state, intent.user_op, intent.user_op_hash = "submitted", op.to_json(), "0x" + op_hash.hex()
                intent.attempts += 1
                intent.submitted_at = utcnow()
        crash_point(self.options.crash_at, "after_sign")
        for intent_id, op, op_hash in included:
            if await self._send_to_bundler(intent_id, op, "0x" + op_hash.hex(), first=True):
                failed.append(intent_id)
        return failed

    async def _paid_for(self, included: list[tuple[int, UserOperation, bytes]]
                        ) -> tuple[list[tuple[int, UserOperation, bytes]], list[int]]:
        """The operations whose account's deposit covers what they may cost now that their limits are known,
        and the intents failed because a top-up failed; the others wait for theirs."""
        paid, failed = [], []
        for intent_id, op, op_hash in included:
            try:
                if not await self._deposit_short(await self.outbox.get(intent_id), op):
                    paid.append((intent_id, op, op_hash))
            except IntentRejected as e:
                await self._reject(intent_id, e.reason, e.detail)
                failed.append(intent_id)
        return paid, failed

    async def _deposit_short(self, intent: Intent, op: UserOperation, margin: int = 1) -> bool:
        """Whether `op`'s account's EntryPoint deposit holds less than `margin` times what the operation may
        cost (its gas limits at its fee). If so the gas payer's top-up intent is written (once per deposit seen:
        its key names it), to DEPOSIT_OPERATIONS such costs (the margin's more, if larger), and the member's intent waits for it
        (_ready_member_intents). IntentRejected if that top-up failed: nobody pays for the operation."""
        cost = (op.verification_gas + op.call_gas + op.pre_verification_gas) * op.max_fee
        deposit = await self._rpc(self.contracts.entry_point.functions.balanceOf(op.sender).call)
        if deposit >= cost * margin:
            return False
        top_up = await self.outbox.submit(f"top-up:{intent.id}:{deposit}", intent.member_id, "top_up",
                                          {"amount": str(cost * max(DEPOSIT_OPERATIONS, margin) - deposit)})
        if top_up.state == "failed":
            raise IntentRejected(REJECTED, f"the top-up of {op.sender}'s deposit failed: {top_up.detail}")
        return True

    async def _send_to_bundler(self, intent_id: int, op: UserOperation, op_hash: str, first: bool) -> bool:
        """Hands one operation to the bundler (again); True if it refused it and the intent failed. A refusal is
        final for a first hand-over; a resend's is not (the bundler may still hold it, "already known", or have
        had it mined under an earlier hash: its receipt settles it). A used nonce on a first hand-over (a nonce
        read before an operation mined) sends the intent back to pending, to be built again."""
        try:
            await self.bundler.send_user_operation(op)
        except BundlerUnavailable as e:
            log.warning("bundler away, operation %s waits: %s", op_hash, e)
            return False
        except BundlerError as e:
            if not first or not e.refused:
                log.warning("bundler did not take operation %s (%s); waiting for its receipt", op_hash, e)
                self._op_sent_at[op_hash] = self.clock()  # asked again after bump_after, not every cycle
                return False
            if e.aa_code == "AA25":
                async with self.sessions() as session, session.begin():
                    intent = await session.get(Intent, intent_id)
                    intent.state, intent.user_op, intent.user_op_hash = "pending", None, None
                return False
            await self._reject(intent_id, _refusal_reason(e), str(e))
            return True
        self._op_sent_at[op_hash] = self.clock()
        crash_point(self.options.crash_at, "after_send")
        return False

    async def _settle_with_bundler(self) -> bool:
        """Asks the bundler how each handed operation ended (under its hash or an earlier version's); hands
        again those it lost or never got, and re-prices those left waiting (bump_after). True if one ended."""
        async with self.sessions() as session:
            waiting = list((await session.execute(select(Intent).where(
                Intent.state == "submitted", Intent.transaction_id.is_(None),
                Intent.user_op_hash.is_not(None)))).scalars())
        if not waiting:
            return False
        head = await self._rpc(lambda: self.w3.eth.block_number)
        finished = []
        for intent in waiting:
            try:
                receipt = None
                for op_hash in (intent.user_op_hash, *intent.user_op.get("replaces", [])):
                    if (receipt := await self.bundler.get_user_operation_receipt(op_hash)) is not None:
                        break
            except BundlerUnavailable as e:
                log.warning("bundler away: %s", e)
                return False
            if receipt is None:
                sent_at = self._op_sent_at.get(intent.user_op_hash)
                if sent_at is None:  # lost by a restart (ours or the bundler's), or never taken
                    if await self._send_to_bundler(intent.id, UserOperation.from_json(intent.user_op),
                                                   intent.user_op_hash, first=False):
                        finished.append(intent.id)
                elif self.clock() - sent_at > self.options.bump_after:
                    await self._replace(intent)
                continue
            block = int(receipt["receipt"]["blockNumber"], 16)
            if block > head - self.options.confirmations:
                continue  # not deep enough yet
            crash_point(self.options.crash_at, "before_receipt")
            async with self.sessions() as session, session.begin():
                current = await session.get(Intent, intent.id)
                current.tx_hash, current.block_number = receipt["receipt"]["transactionHash"], block
                failure = receipt_failure(receipt)
                if failure is None:
                    self._confirm(current)
                    await self._after_confirm(session, current, block)
                else:
                    self._fail(current, reason_of(failure), str(failure))
            finished.append(intent.id)
        if finished:
            crash_point(self.options.crash_at, "before_tell")
        await self.outbox.notify(finished)
        return bool(finished)

    async def _replace(self, intent: Intent) -> None:
        """Re-prices an operation left waiting (a bundler takes a replacement only at fees a tenth higher: here
        an eighth, or what it asks now if more), signs it again and hands it over; the earlier hashes are kept
        with it, since the earlier version may still be the one mined. At the fee ceiling it is handed again
        as it is."""
        op = UserOperation.from_json(intent.user_op)
        try:
            asked = await self._operation_fees()
        except ConnectionError as e:
            log.warning("operation %s not re-priced: %s", intent.user_op_hash, e)
            asked = (0, 0)
        max_fee = min(max(op.max_fee * 9 // 8 + 1, asked[0]), self.options.max_fee)
        priority = min(max(op.max_priority_fee * 9 // 8 + 1, asked[1]), max_fee)
        if max_fee * 10 < op.max_fee * 11 or priority * 10 < op.max_priority_fee * 11:
            self._op_sent_at.pop(intent.user_op_hash, None)  # handed again, unchanged, next cycle
            return
        signer = (await self.signers.signers([intent.member_id]))[intent.member_id]
        new = replace(op, max_fee=max_fee, max_priority_fee=priority)
        new_hash = "0x" + new.sign(self.contracts.entry_point, signer, await self._chain()).hex()
        async with self.sessions() as session, session.begin():
            await fenced(session, self.fence)
            current = await session.get(Intent, intent.id)
            replaces = [*intent.user_op.get("replaces", []), intent.user_op_hash]
            current.user_op, current.user_op_hash = {**new.to_json(), "replaces": replaces}, new_hash
        if await self._send_to_bundler(intent.id, new, new_hash, first=False):
            await self.outbox.notify([intent.id])

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
            for intent in intents:
                intent.tx_hash, intent.block_number = mined.tx_hash, block
                if intent.user_op_hash is None:  # an operator call: the receipt's status says it all
                    if status == 1:
                        self._confirm(intent)
                    else:
                        self._fail(intent, REJECTED, "operator transaction reverted")
                elif intent.user_op_hash in outcomes:
                    success, reason, detail = outcomes[intent.user_op_hash]
                    if success:
                        self._confirm(intent)
                        await self._after_confirm(session, intent, block)
                    else:
                        self._fail(intent, reason or REJECTED, detail)
                elif intent.attempts >= MAX_ATTEMPTS:  # the bundle reverted as a whole, again
                    self._fail(intent, REJECTED, "the bundle carrying it reverted")
                else:
                    intent.state, intent.transaction_id = "pending", None
                    continue
                finished.append(intent.id)
        if finished:
            crash_point(self.options.crash_at, "before_tell")
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

    async def _reject(self, intent_id: int, reason: str, detail: str) -> None:
        """Fails an intent that never reached the chain (or that a bundler refused)."""
        async with self.sessions() as session, session.begin():
            self._fail(await session.get(Intent, intent_id), reason, detail)


def _refusal_reason(error: BundlerError) -> str:
    """The member's reason for a bundler's refusal: the contract's own when the bundler sent the revert, the
    signature's (AA24, e.g. an account taken into the member's own custody), else the bundler's refusal."""
    if error.aa_code == "AA24":
        return SIGNATURE_REJECTED
    if error.revert is not None and error.revert.name != "FailedOp" and reason_of(error.revert) != REJECTED:
        return reason_of(error.revert)
    return BUNDLER_REFUSED


__all__ = ["Outbox", "Worker", "WorkerOptions"]
