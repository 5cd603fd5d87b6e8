"""The backend's own transactions, one sender at a time: stored signed before they are sent, then
followed to a receipt. Each role's account (chain.roles) has its own nonces, stored rows and fee ceiling
report; the worker keeps one OperatorTransactions per account.

After a crash at any point a restart finds each one: a transaction mined while we were down is
recognised by its hash, one the node lost is sent again byte for byte, one stuck too long is replaced
with a higher fee (same nonce, so only one of them can be mined). Nonces come from the node, or past
our own stored transactions when the node has lost some.

Fees never go above a ceiling (COOP_MAX_FEE_GWEI): a transaction already at it is left to wait for
fees to fall, and `fee_ceiling_reached` hears of each sender's first one waiting so (the admins are told).

Where several processes may sign (replicas sharing a database), a `Fence` runs inside each transaction that
stores something signed: it commits only while this process still holds the leader lease.
"""
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import Web3
from web3.exceptions import Web3RPCError

from chain import rpc
from chain.db import Intent, OperatorTransaction, utcnow
from chain.errors import decode_revert
from chain.userop import UserOperation

log = logging.getLogger(__name__)

OPEN_TX = ("signed", "sent")
DEFAULT_MAX_FEE = 100 * 10**9  # wei per gas: the most each backend account pays unless COOP_MAX_FEE_GWEI says otherwise
PRIORITY_FEE = 10**9  # wei per gas offered to the block's producer at first

# (the sender's address, the nonce, the fee it waits at in wei per gas)
FeeCeilingReached = Callable[[str, int, int], Awaitable[None]]
# Asked inside the transaction that stores what was signed: whether this process still leads, the answer held
# until that transaction ends (chain/lease.py locks the lease's row), so no other process starts signing between.
Fence = Callable[[AsyncSession], Awaitable[bool]]


class NotLeader(Exception):
    """The fence refused: another process leads now, so what this one signed was neither stored nor sent."""


async def fenced(session: AsyncSession, fence: Fence | None) -> None:
    """Raises NotLeader, rolling back the caller's transaction, unless this process still leads."""
    if fence is not None and not await fence(session):
        raise NotLeader("the leader lease moved to another process: nothing signed here is stored or sent")


def replacement_fees(max_fee: int, priority: int, ceiling: int) -> tuple[int, int] | None:
    """The fees of a stuck transaction's replacement: a quarter more, at most `ceiling`; None when what the
    ceiling leaves is not a tenth more than now (a node refuses such a replacement as underpriced)."""
    new_max = min(max_fee * 5 // 4 + 1, ceiling)
    new_priority = min(priority * 5 // 4 + 1, new_max)
    if new_max * 10 < max_fee * 11 or new_priority * 10 < priority * 11:
        return None
    return new_max, new_priority


def crash_point(crash_at: str | None, name: str) -> None:
    """A named point between two durable steps; the crash tests kill the process here (`crash_at`)."""
    if crash_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


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


@dataclass(frozen=True)
class Mined:
    """A mined transaction, the others sharing its nonce (replacements), and its raw receipt."""

    row: OperatorTransaction
    group: list[OperatorTransaction]
    receipt: dict[str, Any]


class OperatorTransactions:
    """Signs, stores, sends and follows one account's transactions."""

    def __init__(self, w3: Web3, sessions: async_sessionmaker, sender: LocalAccount,
                 run: Callable[..., Awaitable[Any]], chain_id: Callable[[], Awaitable[int]],
                 clock: Callable[[], float], bump_after: float, confirmations: int = 0, crash_at: str | None = None,
                 max_fee: int = DEFAULT_MAX_FEE, fee_ceiling_reached: FeeCeilingReached | None = None,
                 fence: Fence | None = None):
        self.w3 = w3
        self.sessions = sessions
        self.sender = sender
        self._run = run  # runs a blocking node call off the event loop
        self._chain_id = chain_id
        self.clock = clock
        self.bump_after = bump_after
        self.confirmations = confirmations
        self.crash_at = crash_at
        self.max_fee = max_fee  # the ceiling, wei per gas
        self.fee_ceiling_reached = fee_ceiling_reached
        self.fence = fence
        self._sent_at: dict[str, float] = {}  # tx hash -> when this process (re)sent it
        self._at_ceiling: set[str] = set()  # tx hashes this process found waiting at the ceiling (logged once)

    async def terms(self, to: str, data: bytes, gas_limit: int | None = None, value: int = 0) -> "TxTerms":
        """One batch: the transaction's gas (estimated, or `gas_limit` checked by one eth_call; a revert
        raises TransactionRefused), fees from the latest block, and the sender's nonce as the node sees it."""
        tx = {"from": self.sender.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        check = ("eth_estimateGas", [tx, "latest"]) if gas_limit is None \
            else ("eth_call", [{**tx, "gas": hex(gas_limit)}, "latest"])
        result, block, count = await self._run(rpc.batch, self.w3, [
            check,
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getTransactionCount", [self.sender.address, "pending"])])
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
        base_fee = int(block["result"].get("baseFeePerGas", "0x3b9aca00"), 16)
        max_fee = min(2 * base_fee + PRIORITY_FEE, self.max_fee)  # the ceiling holds from the first offer
        return TxTerms(gas, max_fee, min(PRIORITY_FEE, max_fee), int(count["result"], 16))

    async def _next_nonce(self, on_chain: int) -> int:
        """The node's pending count, or past our own stored transactions if the node lost some."""
        async with self.sessions() as session:
            ours = (await session.execute(select(func.max(OperatorTransaction.nonce)).where(
                OperatorTransaction.sender == self.sender.address,
                OperatorTransaction.state.in_(OPEN_TX)))).scalar_one()
        return max(on_chain, (ours + 1) if ours is not None else 0)

    async def store_and_sign(self, to: str, data: bytes, terms: "TxTerms",
                              ops: list[tuple[int, UserOperation | None, bytes | None]], value: int = 0) -> int:
        """Signs the transaction and stores it with its intents marked submitted, in one commit (fenced)."""
        payload = {"to": to, "data": "0x" + data.hex(), "value": value, "gas": terms.gas,
                   "chainId": await self._chain_id()}
        nonce = await self._next_nonce(terms.pending_nonce)
        signed = self._sign(payload, nonce, terms.max_fee, terms.priority_fee)
        async with self.sessions() as session, session.begin():
            await fenced(session, self.fence)
            row = OperatorTransaction(sender=self.sender.address, nonce=nonce, tx_hash=signed[0], raw=signed[1],
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
        crash_point(self.crash_at, "after_sign")
        return tx_id

    def _sign(self, payload: dict[str, Any], nonce: int, max_fee: int, priority: int) -> tuple[str, bytes]:
        tx = {**payload, "nonce": nonce, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority, "type": 2}
        signed = self.sender.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def broadcast(self, tx_id: int) -> None:
        async with self.sessions() as session:
            row = await session.get(OperatorTransaction, tx_id)
        try:
            await self._run(self.w3.eth.send_raw_transaction, row.raw)
        except (Web3RPCError, ValueError) as e:  # already known / mined / nonce used: the receipt check settles it
            log.info("transaction %s not accepted again: %s", row.tx_hash, e)
        self._sent_at[row.tx_hash] = self.clock()
        crash_point(self.crash_at, "after_send")
        async with self.sessions() as session, session.begin():
            row = await session.get(OperatorTransaction, tx_id)
            if row.state == "signed":
                row.state, row.sent_at = "sent", utcnow()

    async def in_flight(self) -> list[Mined]:
        """Checks every open transaction: those mined `confirmations` blocks deep are returned for their
        intents to be settled (until then a reorg may still drop one: it is then sent again like a lost
        one); a lost one is sent again; one stuck too long is replaced with a higher fee."""
        async with self.sessions() as session:
            rows = list((await session.execute(select(OperatorTransaction).where(
                OperatorTransaction.sender == self.sender.address,
                OperatorTransaction.state.in_(OPEN_TX)).order_by(OperatorTransaction.nonce,
                                                                 OperatorTransaction.id))).scalars())
        if not rows:
            return []
        by_nonce: dict[int, list[OperatorTransaction]] = {}
        for row in rows:
            by_nonce.setdefault(row.nonce, []).append(row)
        # One batch: the head, the sender's mined nonce count and a receipt for every open transaction
        # (raw JSON: web3's receipt formatting costs more than the node's answer).
        responses = await self._run(rpc.batch, self.w3, [
            ("eth_blockNumber", []),
            ("eth_getTransactionCount", [self.sender.address, "latest"]),
            *(("eth_getTransactionReceipt", [row.tx_hash]) for row in rows)])
        for response in responses:
            if "error" in response:
                raise ConnectionError(f"the node could not answer: {response['error']}")
        head, mined_count = int(responses[0]["result"], 16), int(responses[1]["result"], 16)
        receipts = {row.tx_hash: response["result"] for row, response in zip(rows, responses[2:])}
        settled: list[Mined] = []
        first_waiting = True  # the lowest nonce still waiting holds up every later one
        for nonce, group in by_nonce.items():
            mined = next((row for row in group if receipts[row.tx_hash] is not None), None)
            if mined is not None:
                if int(receipts[mined.tx_hash]["blockNumber"], 16) <= head - self.confirmations:
                    settled.append(Mined(mined, group, receipts[mined.tx_hash]))
            elif nonce < mined_count and not await self._any_receipt(group):
                # The nonce went to a transaction we never stored: try the intents again. (Asked again first:
                # a node may answer a batch's requests concurrently, so a receipt read beside the nonce count
                # can miss a transaction mined between the two, and its intents would be done twice.)
                await self._abandon(group, "nonce used by another transaction")
            else:
                await self._resend_or_bump(group, first_waiting)
                first_waiting = False
        return settled

    async def _any_receipt(self, group: list[OperatorTransaction]) -> bool:
        responses = await self._run(rpc.batch, self.w3, [("eth_getTransactionReceipt", [row.tx_hash]) for row in group])
        if any("error" in response for response in responses):
            raise ConnectionError("the node could not answer")
        return any(response["result"] is not None for response in responses)

    async def _resend_or_bump(self, group: list[OperatorTransaction], first_waiting: bool) -> None:
        latest = group[-1]
        sent_at = self._sent_at.get(latest.tx_hash)
        if sent_at is None or latest.state == "signed":  # sent before a restart, or never: send it (again)
            await self.broadcast(latest.id)
            return
        fees = replacement_fees(latest.max_fee, latest.priority_fee, self.max_fee)
        if self.clock() - sent_at < self.bump_after or fees is None:
            known = await self._run(rpc.batch, self.w3, [("eth_getTransactionByHash", [latest.tx_hash])])
            if known[0].get("result") is None and "error" not in known[0]:  # dropped (a reorg, a node restart)
                await self.broadcast(latest.id)
            if fees is None and self.clock() - sent_at >= self.bump_after:
                await self._waiting_at_ceiling(latest, first_waiting)
            return
        max_fee, priority = fees
        tx_hash, raw = self._sign(latest.payload, latest.nonce, max_fee, priority)
        async with self.sessions() as session, session.begin():
            await fenced(session, self.fence)
            replacement = OperatorTransaction(sender=latest.sender, nonce=latest.nonce, tx_hash=tx_hash, raw=raw,
                                              payload=latest.payload, max_fee=max_fee, priority_fee=priority)
            session.add(replacement)
            await session.flush()
            for intent in (await session.execute(select(Intent).where(Intent.transaction_id == latest.id))).scalars():
                intent.transaction_id, intent.tx_hash = replacement.id, tx_hash
            replacement_id = replacement.id
        log.info("replacing stuck transaction %s (nonce %s) with %s", latest.tx_hash, latest.nonce, tx_hash)
        await self.broadcast(replacement_id)

    async def _waiting_at_ceiling(self, row: OperatorTransaction, first_waiting: bool) -> None:
        """Stuck, and no higher fee is allowed: it waits for fees to fall. The first one waiting is reported
        (the later ones wait behind it: one report, not one per transaction)."""
        if row.tx_hash not in self._at_ceiling:
            self._at_ceiling.add(row.tx_hash)
            log.warning("transaction waits at the fee ceiling tx=%s sender=%s nonce=%s max_fee_gwei=%s", row.tx_hash,
                        row.sender, row.nonce, row.max_fee / 10**9)
        if first_waiting and self.fee_ceiling_reached is not None:
            try:
                await self.fee_ceiling_reached(row.sender, row.nonce, row.max_fee)
            except Exception:  # telling must not stop the transactions
                log.exception("fee ceiling report failed nonce=%s", row.nonce)

    async def _abandon(self, group: list[OperatorTransaction], why: str) -> None:
        ids = [row.id for row in group]
        async with self.sessions() as session, session.begin():
            for row_id in ids:
                (await session.get(OperatorTransaction, row_id)).state = "dropped"
            for intent in (await session.execute(select(Intent).where(Intent.transaction_id.in_(ids)))).scalars():
                intent.state, intent.transaction_id, intent.detail = "pending", None, why


__all__ = ["DEFAULT_MAX_FEE", "FeeCeilingReached", "Fence", "Mined", "NotLeader", "OPEN_TX", "OperatorTransactions",
           "TransactionRefused", "TxTerms", "crash_point", "fenced", "replacement_fees"]
