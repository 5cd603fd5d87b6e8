"""Follows the co-op's contract events into chain_history from a stored cursor, undoing what a reorg removed.

One eth_getLogs per batch of blocks (every contract address, every history topic), decoded by topic.
A batch's history rows, its blocks (chain_blocks) and the cursor commit in one transaction, so a
restart resumes after the last committed block and never records an event twice. Blocks are applied
only once `confirmations` blocks sit on top of them. Before each batch the cursor's block is checked
against the node: if its hash changed, the indexer walks back through the blocks it remembers to the
newest one the node still has, deletes the history above it, moves the cursor there and re-applies.
Subscribers hear of each applied event, and of each one a reorg removed, after the commit.

One indexer per cursor name: two processes following the same cursor would race.
"""
import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import collapse_if_tuple, event_abi_to_log_topic, to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import Web3
from web3.exceptions import BlockNotFound

from chain.db import Cursor, HistoryEvent, SeenBlock
from chain.deploy import CoopSystem
from chain.errors import ChainError

log = logging.getLogger(__name__)

# The events members see, by contract (CoopSystem field), each with the argument naming the member
# concerned (None for order- and proposal-level events). FoodUSD Transfer is left out on purpose: every
# join, refund and payout would appear twice, once as its own event and once as a transfer.
HISTORY_EVENTS: dict[str, dict[str, str | None]] = {
    "registry": {"MemberAdded": "account", "MemberRemoved": "account"},
    "food_usd": {"DepositRecorded": "member", "WithdrawalRecorded": "member"},
    "gro": {"BatchCertified": "grower", "Redeemed": "holder"},
    "escrow": {"Locked": "account", "Withdrawn": "account"},
    "group_buy": {
        "OrderCreated": None, "Joined": "member", "ToleranceChanged": "member", "OrderExecuted": None,
        "OrderRefunded": None, "OrderCancelled": None, "Claimed": "member",
        "ClosedEarly": None,  # an admin's /closeorder: OrderExecuted or OrderRefunded follows in its transaction
    },
    "governor": {
        "ProposalCreated": "proposer", "VoteCast": "voter", "VoteCastWithParams": "voter",
        "ProposalQueued": None, "ProposalExecuted": None, "ProposalCanceled": None,
    },
}
DEFAULT_CURSOR = "history"
# Integers up to this many bits stay JSON numbers (exact in every JSON reader); wider ones are strings.
_JSON_SAFE_BITS = 53


class ReorgTooDeep(ChainError):
    """The node no longer has any block the indexer remembers: the reorg is deeper than its window."""

    def __init__(self, cursor: str, block_number: int, oldest_remembered: int | None):
        self.cursor, self.block_number, self.oldest_remembered = cursor, block_number, oldest_remembered
        super().__init__(f"cursor {cursor} at block {block_number}: no remembered block down to "
                         f"{oldest_remembered} is still on the chain")


@dataclass(frozen=True)
class RolledBack:
    """A history row a reorg removed (its transaction may come back in another block)."""

    event: HistoryEvent


Notice = HistoryEvent | RolledBack
Subscriber = Callable[[Notice], Awaitable[None] | None]


# ---- decoding ----

@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    inputs: tuple[dict[str, Any], ...]
    account_arg: str | None


def event_specs(contracts: CoopSystem) -> dict[tuple[str, bytes], EventSpec]:
    """The history events by (contract address, topic 0)."""
    specs = {}
    for contract_name, events in HISTORY_EVENTS.items():
        contract = getattr(contracts, contract_name)
        found = {abi["name"]: abi for abi in contract.abi if abi["type"] == "event" and abi["name"] in events}
        if missing := set(events) - set(found):
            raise ValueError(f"{contract_name} ABI lacks events {sorted(missing)}")
        for name, abi in found.items():
            key = (to_checksum_address(contract.address), event_abi_to_log_topic(abi))
            specs[key] = EventSpec(contract_name, name, tuple(abi["inputs"]), events[name])
    return specs


def _is_hashed_when_indexed(abi_type: str) -> bool:
    return abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("(")


def to_json(param: dict[str, Any], value: Any) -> Any:
    """An ABI value as JSON, by its ABI parameter: addresses checksummed, bytes as 0x-hex, integers wider
    than 53 bits as decimal strings (narrower ones, like a vote's support, stay numbers), structs as objects."""
    abi_type = param["type"]
    if abi_type.endswith("]"):
        inner = {**param, "type": abi_type[: abi_type.rindex("[")]}
        return [to_json(inner, item) for item in value]
    if abi_type == "tuple":
        return {c["name"]: to_json(c, item) for c, item in zip(param["components"], value, strict=True)}
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type.startswith(("uint", "int")):
        bits = int(abi_type.removeprefix("u").removeprefix("int") or 256)
        return value if bits <= _JSON_SAFE_BITS else str(value)
    return value  # bool, string


def decode_log(spec: EventSpec, entry: dict[str, Any]) -> dict[str, Any]:
    """The arguments of log `entry` by name, as JSON. An indexed string, bytes, array or struct is only
    its hash (as bytes32)."""
    topics = [bytes(t) for t in entry["topics"][1:]]
    indexed = [p for p in spec.inputs if p["indexed"]]
    plain = [p for p in spec.inputs if not p["indexed"]]
    values: dict[str, Any] = {}
    for param, topic in zip(indexed, topics, strict=True):
        abi_type = collapse_if_tuple(param)
        values[param["name"]] = to_json({"type": "bytes32"}, topic) if _is_hashed_when_indexed(abi_type) \
            else to_json(param, abi_decode([abi_type], topic)[0])
    decoded = abi_decode([collapse_if_tuple(p) for p in plain], bytes(entry["data"]))
    for param, value in zip(plain, decoded, strict=True):
        values[param["name"]] = to_json(param, value)
    return {p["name"]: values[p["name"]] for p in spec.inputs}


# ---- the indexer ----

@dataclass
class _Batch:
    first: int
    last: int
    headers: dict[int, Any]  # number -> block header, for every block the batch remembers
    logs: list[Any]


_COLUMNS = [c.key for c in HistoryEvent.__table__.columns]


def _detached(event: HistoryEvent) -> HistoryEvent:
    """A copy that outlives its session whatever the sessionmaker's expire_on_commit says."""
    return HistoryEvent(**{c: getattr(event, c) for c in _COLUMNS})


class Indexer:
    """Applies the co-op's history events from cursor `cursor` onwards; see the module docstring.

    `reorg_window`: how many blocks below the newest applied one are remembered (each by hash) to find
    the common ancestor after a reorg; a deeper reorg raises ReorgTooDeep.
    """

    def __init__(
        self,
        w3: Web3,
        contracts: CoopSystem,
        sessions: async_sessionmaker,
        *,
        confirmations: int = 0,
        batch_blocks: int = 500,
        start_block: int = 0,
        cursor: str = DEFAULT_CURSOR,
        reorg_window: int = 64,
    ):
        if confirmations < 0 or batch_blocks < 1 or reorg_window < 1:
            raise ValueError("confirmations >= 0, batch_blocks >= 1 and reorg_window >= 1")
        self.w3 = w3
        self.sessions = sessions
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        self.start_block = start_block
        self.cursor_name = cursor
        self.reorg_window = reorg_window
        self._specs = event_specs(contracts)
        self._addresses = sorted({address for address, _ in self._specs})
        self._topics = sorted({Web3.to_hex(topic) for _, topic in self._specs})
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Calls `callback` (plain or async) with each HistoryEvent applied and a RolledBack for each one
        a reorg removed, after they are committed. Returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Polls every `interval` seconds until `stop` is set. A failed poll is logged and retried."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("indexer poll failed cursor=%s", self.cursor_name)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass

    async def reached(self, block: int) -> bool:
        """Whether the history has followed the chain up to `block` (as far as the confirmation depth allows)."""
        async with self.sessions() as session:
            cursor = await session.get(Cursor, self.cursor_name)
        return cursor is not None and cursor.block_number >= block - self.confirmations

    async def poll_once(self) -> int:
        """Applies every block that is `confirmations` deep and not applied yet, batch by batch (one
        transaction each), rolling back first if a reorg replaced applied blocks. Returns the number of
        history events applied."""
        applied, moved = 0, 0
        while True:
            head = await asyncio.to_thread(lambda: self.w3.eth.block_number)
            target = head - self.confirmations
            cursor = await self._cursor()
            if cursor is not None and await self._hash_at(cursor.block_number) != cursor.block_hash:
                await self._roll_back(cursor)
                continue
            first = cursor.block_number + 1 if cursor is not None else self.start_block
            if first > target:
                return applied
            last = min(target, first + self.batch_blocks - 1)
            batch = await asyncio.to_thread(self._fetch, first, last, target, cursor.block_hash if cursor else None)
            if batch is None:  # the chain moved while we read: look again, but not forever
                log.info("indexer chain moved during batch cursor=%s first=%d last=%d", self.cursor_name, first, last)
                moved += 1
                if moved >= 3:
                    return applied
                continue
            applied += await self._apply(batch)

    # ---- reading the node (in a worker thread) ----

    async def _hash_at(self, number: int) -> str | None:
        def read() -> str | None:
            try:
                return Web3.to_hex(self.w3.eth.get_block(number)["hash"])
            except BlockNotFound:
                return None
        return await asyncio.to_thread(read)

    def _fetch(self, first: int, last: int, target: int, parent_hash: str | None) -> _Batch | None:
        """The batch's logs and the headers it remembers, or None if the chain changed meanwhile. The
        last block is read before and after everything else: the same hash both times means all of it
        came from one chain (a hash commits to every ancestor)."""
        try:
            return self._read_batch(first, last, target, parent_hash)
        except BlockNotFound:  # the chain got shorter since we read its height
            return None

    def _read_batch(self, first: int, last: int, target: int, parent_hash: str | None) -> _Batch | None:
        eth = self.w3.eth
        tip = eth.get_block(last)
        logs = eth.get_logs({"fromBlock": first, "toBlock": last, "address": self._addresses, "topics": [self._topics]})
        # Near the target every block is remembered, so walking back after a reorg is exact; deeper
        # down (catching up) only the blocks with events and the batch's ends.
        numbers = {first, last, *(entry["blockNumber"] for entry in logs)}
        numbers.update(range(max(first, target - self.reorg_window + 1), last + 1))
        headers = {n: tip if n == last else eth.get_block(n) for n in sorted(numbers)}
        if eth.get_block(last)["hash"] != tip["hash"]:
            return None
        if parent_hash is not None and Web3.to_hex(headers[first]["parentHash"]) != parent_hash:
            return None  # a reorg since the cursor was checked; the next round rolls back
        if any(entry.get("removed") or entry["blockHash"] != headers[entry["blockNumber"]]["hash"] for entry in logs):
            return None
        return _Batch(first, last, headers, list(logs))

    # ---- writing ----

    async def _cursor(self) -> Cursor | None:
        async with self.sessions() as session:
            return await session.get(Cursor, self.cursor_name)

    def _rows(self, batch: _Batch) -> list[dict[str, Any]]:
        rows = []
        for entry in sorted(batch.logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            spec = self._specs.get((to_checksum_address(entry["address"]), bytes(entry["topics"][0])))
            if spec is None:
                continue
            args = decode_log(spec, entry)
            rows.append({
                "block_number": entry["blockNumber"],
                "block_hash": Web3.to_hex(entry["blockHash"]),
                "timestamp": batch.headers[entry["blockNumber"]]["timestamp"],
                "tx_hash": Web3.to_hex(entry["transactionHash"]),
                "log_index": entry["logIndex"],
                "contract": spec.contract,
                "event": spec.name,
                "account": args[spec.account_arg] if spec.account_arg else None,
                "args": args,
            })
        return rows

    async def _apply(self, batch: _Batch) -> int:
        rows = self._rows(batch)
        last_hash = Web3.to_hex(batch.headers[batch.last]["hash"])
        async with self.sessions() as session, session.begin():
            # Rows already there (say, written by an earlier run before a crash lost its cursor) stay as they are.
            existing = {(tx_hash, log_index) for tx_hash, log_index in await session.execute(
                select(HistoryEvent.tx_hash, HistoryEvent.log_index)
                .where(HistoryEvent.block_number.between(batch.first, batch.last))
            )}
            events = [HistoryEvent(**row) for row in rows if (row["tx_hash"], row["log_index"]) not in existing]
            session.add_all(events)
            await session.execute(delete(SeenBlock).where(
                (SeenBlock.number >= batch.first) | (SeenBlock.number <= batch.last - self.reorg_window)))
            session.add_all(SeenBlock(number=n, hash=Web3.to_hex(h["hash"]), parent_hash=Web3.to_hex(h["parentHash"]),
                                      timestamp=h["timestamp"]) for n, h in batch.headers.items()
                            if n > batch.last - self.reorg_window)
            await session.merge(Cursor(name=self.cursor_name, block_number=batch.last, block_hash=last_hash))
            await session.flush()
            notices = [_detached(e) for e in events]
        log.info("indexer applied cursor=%s first=%d last=%d events=%d",
                 self.cursor_name, batch.first, batch.last, len(notices))
        await self._notify(notices)
        return len(notices)

    async def _roll_back(self, cursor: Cursor) -> None:
        """Moves the cursor back to the newest remembered block the node still has, deleting what lies above."""
        async with self.sessions() as session:
            remembered = (await session.scalars(
                select(SeenBlock).where(SeenBlock.number < cursor.block_number).order_by(SeenBlock.number.desc())
            )).all()
        ancestor = None
        for block in remembered:
            if await self._hash_at(block.number) == block.hash:
                ancestor = block
                break
        oldest = remembered[-1].number if remembered else cursor.block_number
        if ancestor is None and oldest > self.start_block:
            raise ReorgTooDeep(self.cursor_name, cursor.block_number, oldest)
        # No remembered block survived, but nothing was ever forgotten either: start again from start_block.
        keep = ancestor.number if ancestor is not None else self.start_block - 1
        async with self.sessions() as session, session.begin():
            removed = (await session.scalars(
                select(HistoryEvent).where(HistoryEvent.block_number > keep)
                .order_by(HistoryEvent.block_number.desc(), HistoryEvent.log_index.desc())
            )).all()
            notices = [RolledBack(_detached(e)) for e in removed]
            await session.execute(delete(HistoryEvent).where(HistoryEvent.block_number > keep))
            await session.execute(delete(SeenBlock).where(SeenBlock.number > keep))
            if ancestor is not None:
                await session.merge(Cursor(name=self.cursor_name, block_number=keep, block_hash=ancestor.hash))
            else:
                await session.execute(delete(Cursor).where(Cursor.name == self.cursor_name))
        log.warning("indexer reorg cursor=%s from=%d ancestor=%d removed=%d",
                    self.cursor_name, cursor.block_number, keep, len(notices))
        await self._notify(notices)

    async def _notify(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            for callback in list(self._subscribers):
                try:
                    result = callback(notice)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # one failing subscriber must not stop the others, nor the indexer
                    log.exception("indexer subscriber failed cursor=%s", self.cursor_name)


async def history(session: AsyncSession, account: str, limit: int = 20) -> list[HistoryEvent]:
    """The newest `limit` history events naming `account`, newest first."""
    query = (
        select(HistoryEvent)
        .where(HistoryEvent.account == to_checksum_address(account))
        .order_by(HistoryEvent.block_number.desc(), HistoryEvent.log_index.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
