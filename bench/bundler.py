"""The chain gateway's figures against what a co-op would run instead, on one anvil node (the embedded chain's
kind) with the outbox on SQLite. Every figure is the median of ROUNDS rounds in which ours and the anchor take
turns (ours, anchor, ours, anchor…), so a load that comes and goes on the machine falls on both.

- bundler.throughput.instant / .blocks_1s: joins confirmed per second, 20 members joining 3 times each
  (round after round, as members act), by the worker as in production (WorkerOptions of bot/app.py: a 0.1 s
  bundling window, up to 20 operations a bundle), against a plain web3.py sender: 20 members' EOAs, which
  approved beforehand, each joining directly; it writes one outbox row per intent in SQLite (WAL, as ours), signs
  with nonces it counts itself, sends everything at once and polls the receipts every 0.1 s. With instant mining,
  then with a block a second (anvil's interval mining, as `anvil --block-time 1`). The clock runs from the
  first intent written to the last confirmed.
- bundler.gas_per_op.N: the gas of one handleOps transaction carrying N members' joins of a fresh order (approve +
  join from each smart account, accounts already created), per operation, for N = 1, 2, 5, 20, against N EOAs
  joining that way directly (their approval not counted: the strictest anchor).
- bundler.gas_per_op.median: the same at the median bundle size the worker sends under the demo's kind of load
  (8 members' joins arriving every 50–200 ms, production options, instant mining); goal <= 1.25.
- bundler.gas_per_op.first: one bundle of 20 members' first joins, which also create their accounts (once).
- bundler.gas_per_op.forwarder.N / .forwarder.median: the same bundles against OpenZeppelin's stock
  ERC2771Forwarder.executeBatch carrying N members' signed requests (the meta-transaction way to the same no-ETH
  experience), each calling AnchorJoinTarget.join (a join's writes and a stock ERC-20 transferFrom: GroupBuy
  reads msg.sender, so it cannot sit behind a forwarder; the target does less than GroupBuy does).
- chain.confirm_latency.p50 / .p95: from writing a join intent to its confirmation, joins arriving every
  50–200 ms from 20 members, a block a second, the worker as in production (confirmation depth 0, what
  `coop run` uses), against a plain send-and-wait of the same joins from the EOAs (send_raw_transaction then
  wait_for_transaction_receipt, web3's 0.1 s polling), each join in its own thread.
"""
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain import DeployParams, deploy_contract, deploy_system, send, start_anvil
from chain.accounts import ensure_account
from chain.db import create_engine, migrate, sessionmaker
from chain.deploy import CoopSystem
from chain.devchain import DevChain
from chain.keystore import Keystore
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.roles import RoleKeys

MEMBERS = 20
PRICE = 1_000_000
DAY = 24 * 3600
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}
ROUNDS = 3  # each side's rounds per figure, taking turns
SIZES = (1, 2, 5, 20)  # operations per bundle
JOINS_EACH = 3  # throughput: joins per member per round
TRICKLE = (0.05, 0.2)  # seconds between two intents, the demo's kind of load
LOAD_MEMBERS, LOAD_INTENTS = 8, 40  # the load whose bundles give the median size
LATENCY_INTENTS = 15  # per round
BLOCK_TIME = 1
ZERO_ADDRESS = "0x" + "00" * 20
JOIN_GAS = 200_000  # an EOA join's limit, above its estimate: the plain sender estimates nothing
PRODUCTION = {"window": 0.1}  # what bot/app.py changes from WorkerOptions' defaults (confirmations stay 0)
FORWARD_REQUEST = [{"name": n, "type": t} for n, t in (
    ("from", "address"), ("to", "address"), ("value", "uint256"), ("gas", "uint256"), ("nonce", "uint256"),
    ("deadline", "uint48"), ("data", "bytes"))]


@dataclass
class Setup:
    chain: DevChain
    coop: CoopSystem
    keys: RoleKeys
    outbox: Outbox
    keystore: Keystore
    supplier: LocalAccount
    names: list[str]  # the members with a smart account
    eoas: list[LocalAccount]  # members joining directly, GroupBuy approved

    @property
    def w3(self):
        return self.chain.w3

    def worker(self, **options) -> Worker:
        return Worker(self.w3, self.coop, self.outbox, self.keystore, self.keys, WorkerOptions(**options))

    def new_order(self) -> int:
        send(self.w3, self.coop.group_buy.functions.createOrder(
            self.supplier.address, keccak(text="rice"), PRICE, 10_000, 1, 1000, 1, self.chain.now() + 30 * DAY),
            self.keys.treasurer)
        return self.coop.group_buy.functions.orderCount().call()


def run() -> Iterator[str]:
    yield from asyncio.run(_run())


async def _run() -> list[str]:
    chain = start_anvil()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = create_engine(url)
        try:
            setup = await _setup(chain, sessionmaker(engine))
            lines = await _gas_lines(setup)
            lines.append(await _throughput_line(setup, "instant", Path(tmp)))
            chain.w3.provider.make_request("evm_setIntervalMining", [BLOCK_TIME])
            lines.append(await _throughput_line(setup, "blocks_1s", Path(tmp)))
            lines += await _latency_lines(setup)
            return lines
        finally:
            await engine.dispose()
            chain.close()


async def _setup(chain: DevChain, sessions) -> Setup:
    w3 = chain.w3
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    coop = deploy_system(w3, deployer, keys.roles(guardian.address), DeployParams())
    keystore = Keystore(sessions, "bench master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    setup = Setup(chain, coop, keys, Outbox(sessions), keystore, supplier, [f"member-{i}" for i in range(MEMBERS)],
                  [chain.new_account(ether=1) for _ in range(MEMBERS)])
    for name in setup.names:
        await ensure_account(sessions, keystore, coop, name)
        await setup.outbox.submit(f"register-{name}", name, "register", {"resident_id": name})
        await setup.outbox.submit(f"deposit-{name}", name, "deposit", {"amount": 1000 * PRICE, "ref": name})
    await setup.worker(window=0).drain()
    for i, eoa in enumerate(setup.eoas):
        send(w3, coop.registry.functions.addMember(eoa.address, keccak(text=f"eoa-{i}")), keys.registrar)
        send(w3, coop.food_usd.functions.recordDeposit(eoa.address, 1000 * PRICE, keccak(text=f"eoa-{i}")),
             keys.treasurer)
        send(w3, coop.food_usd.functions.approve(coop.group_buy.address, 2**255), eoa)
    return setup


def _ratio(name: str, ours: float, anchor: float, unit: str, goal: str, what: str, fmt: str = ",.0f") -> str:
    return (f"{name}: ratio {ours / anchor:.2f} (ours {ours:{fmt}} {unit} vs anchor {anchor:{fmt}} {unit}) "
            f"goal {goal} ({what})")


# ---- gas per operation ----

async def _gas_lines(s: Setup) -> list[str]:
    first = await _bundle_gas(s, MEMBERS, "first") / MEMBERS  # creates the accounts: the figures below are later ops
    median = await _median_bundle_size(s)
    forwarder = _Forwarder(s)
    sizes = sorted({*SIZES, median})
    ours: dict[int, list[float]] = {n: [] for n in sizes}
    eoa: dict[int, list[float]] = {n: [] for n in sizes}
    meta: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(ROUNDS):
        for n in sizes:
            ours[n].append(await _bundle_gas(s, n, f"gas-{r}-{n}") / n)
            eoa[n].append(_eoa_gas(s, n) / n)
            meta[n].append(forwarder.batch_gas(n) / n)
    rounds = f"median of {ROUNDS} alternating rounds, accounts already created"
    lines = []
    for label, n, goal in [*((str(n), n, "none") for n in SIZES), ("median", median, "<= 1.25")]:
        size = f"{n} join{'s' if n > 1 else ''} a bundle" + (
            f", the median size under the demo's load (joins every 50-200 ms from {LOAD_MEMBERS} members)"
            if label == "median" else "")
        lines.append(_ratio(f"bundler.gas_per_op.{label}", statistics.median(ours[n]), statistics.median(eoa[n]),
                            "gas", goal, f"{size}; anchor: EOAs joining directly, approval not counted; {rounds}"))
    for label, n, goal in [*((str(n), n, "none") for n in SIZES), ("median", median, "<= 1.25")]:
        lines.append(_ratio(f"bundler.gas_per_op.forwarder.{label}", statistics.median(ours[n]),
                            statistics.median(meta[n]), "gas", goal,
                            f"{n} join{'s' if n > 1 else ''} a bundle; anchor: OpenZeppelin ERC2771Forwarder.executeBatch of {n} signed "
                            f"requests to a minimal ERC-2771 join target; {rounds}"))
    lines.append(_ratio("bundler.gas_per_op.first", first, statistics.median(eoa[MEMBERS]), "gas",
                        "none", f"{MEMBERS} members' first operations, which also create their accounts; one bundle"))
    return lines


async def _median_bundle_size(s: Setup) -> int:
    """The median number of operations in the bundles the worker sends, as in production, while joins arrive
    every 50-200 ms from a few members."""
    order, pace = s.new_order(), random.Random(16)
    intents = []
    stop, worker = asyncio.Event(), s.worker(**PRODUCTION)
    running = asyncio.create_task(worker.run(stop))
    for i in range(LOAD_INTENTS):
        member = s.names[pace.randrange(LOAD_MEMBERS)]
        intents.append(await s.outbox.submit(f"load-{i}", member, "join", {"order_id": order, "units": 1}))
        await asyncio.sleep(pace.uniform(*TRICKLE))
    while await worker._open_intents():
        await asyncio.sleep(0.05)
    stop.set()
    await running
    sizes: dict[str, int] = {}
    for intent in intents:
        tx = (await s.outbox.get(intent.id)).tx_hash
        sizes[tx] = sizes.get(tx, 0) + 1
    return round(statistics.median(sizes.values()))


async def _bundle_gas(s: Setup, n: int, tag: str) -> int:
    order = s.new_order()
    intents = [await s.outbox.submit(f"{tag}-{m}", m, "join", {"order_id": order, "units": 1}) for m in s.names[:n]]
    await s.worker(window=0, max_ops=n).drain()
    hashes = {(await s.outbox.get(i.id)).tx_hash for i in intents}
    assert len(hashes) == 1, "the joins should travel in one bundle"
    return s.w3.eth.get_transaction_receipt(hashes.pop())["gasUsed"]


def _eoa_gas(s: Setup, n: int) -> int:
    order = s.new_order()
    return sum(send(s.w3, s.coop.group_buy.functions.join(order, 1), eoa)["gasUsed"] for eoa in s.eoas[:n])


class _Forwarder:
    """OpenZeppelin's stock forwarder and a join target behind it; the members sign, a relayer pays."""

    def __init__(self, s: Setup):
        self.w3, self.relayer = s.w3, s.keys.gas_payer
        deployer = s.chain.new_account()
        self.forwarder, _ = deploy_contract(self.w3, "AnchorForwarder", deployer)
        token, _ = deploy_contract(self.w3, "AnchorToken", deployer)
        self.target, _ = deploy_contract(self.w3, "AnchorJoinTarget", deployer, self.forwarder.address,
                                         token.address, PRICE)
        # The stock token is not ERC-2771-aware: the members approve the target themselves (not counted, as
        # the EOAs' approvals are not); their joins then need no ETH.
        self.members = [s.chain.new_account(ether=1) for _ in range(MEMBERS)]
        for m in self.members:
            send(self.w3, token.functions.mint(m.address, 1000 * PRICE), deployer)
            send(self.w3, token.functions.approve(self.target.address, 2**255), m)
        self.order = 0

    def batch_gas(self, n: int) -> int:
        self.order += 1
        call = self.target.functions.join(self.order, 1)._encode_transaction_data()
        requests = [self._request(m, self.target.address, call) for m in self.members[:n]]
        # No refund receiver: the batch is atomic, so a request that failed would revert it rather than be skipped.
        gas = send(self.w3, self.forwarder.functions.executeBatch(requests, ZERO_ADDRESS), self.relayer)["gasUsed"]
        assert self.target.functions.orderUnits(self.order).call() == n, "a forwarded join did not happen"
        return gas

    def _request(self, member: LocalAccount, to: str, data: str) -> tuple:
        nonce = self.forwarder.functions.nonces(member.address).call()
        deadline = 2**40
        message = {"from": member.address, "to": to, "value": 0, "gas": JOIN_GAS, "nonce": nonce,
                   "deadline": deadline, "data": bytes.fromhex(data[2:])}
        domain = {"name": "AnchorForwarder", "version": "1", "chainId": self.w3.eth.chain_id,
                  "verifyingContract": self.forwarder.address}
        signed = Account.sign_typed_data(member.key, domain, {"ForwardRequest": FORWARD_REQUEST}, message)
        return (member.address, to, 0, JOIN_GAS, deadline, message["data"], bytes(signed.signature))


# ---- throughput ----

async def _throughput_line(s: Setup, mode: str, tmp: Path) -> str:
    ours, anchor = [], []
    for r in range(ROUNDS):
        ours.append(await _our_throughput(s, f"{mode}-{r}"))
        anchor.append(await asyncio.to_thread(_plain_throughput, s, tmp / f"plain-{mode}-{r}.db"))
    mining = "instant mining" if mode == "instant" else f"a block every {BLOCK_TIME} s"
    return _ratio(f"bundler.throughput.{mode}", statistics.median(ours), statistics.median(anchor), "joins/s",
                  ">= 1.0", f"{MEMBERS} members x {JOINS_EACH} joins, {mining}, production worker options; anchor: "
                  f"a plain web3.py sender pipelining the EOAs' joins with local nonces, one SQLite row per intent; "
                  f"median of {ROUNDS} alternating rounds", ".1f")


async def _our_throughput(s: Setup, tag: str) -> float:
    order = s.new_order()
    confirmed = asyncio.Event()
    done: set[int] = set()

    def heard(intent) -> None:
        if intent.idempotency_key.startswith(f"tp-{tag}-"):
            done.add(intent.id)
            if len(done) == MEMBERS * JOINS_EACH:
                confirmed.set()
    s.outbox.subscribe(heard)
    stop = asyncio.Event()
    running = asyncio.create_task(s.worker(**PRODUCTION).run(stop))
    started = time.perf_counter()
    for r in range(JOINS_EACH):
        for m in s.names:
            await s.outbox.submit(f"tp-{tag}-{r}-{m}", m, "join", {"order_id": order, "units": 1})
    await asyncio.wait_for(confirmed.wait(), 120)
    elapsed = time.perf_counter() - started
    stop.set()
    await running
    s.outbox._subscribers.remove(heard)
    return MEMBERS * JOINS_EACH / elapsed


def _plain_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE intents (id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE, member TEXT, kind TEXT, "
               "params TEXT, state TEXT, tx_hash TEXT, block_number INTEGER)")
    return db


def _plain_throughput(s: Setup, path: Path) -> float:
    """A plain sender: for each intent a row, a transaction signed with the member's next nonce counted here, the
    row marked sent; then receipts polled until every row is confirmed."""
    w3, db = s.w3, _plain_db(path)
    order = s.new_order()
    call = s.coop.group_buy.functions.join(order, 1)._encode_transaction_data()
    fee = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + 10**9
    chain_id = w3.eth.chain_id
    started = time.perf_counter()
    nonces = {e.address: w3.eth.get_transaction_count(e.address, "pending") for e in s.eoas}
    for r in range(JOINS_EACH):
        for eoa in s.eoas:
            cur = db.execute("INSERT INTO intents (idempotency_key, member, kind, params, state) VALUES (?,?,?,?,?)",
                             (f"{path.stem}-{r}-{eoa.address}", eoa.address, "join",
                              json.dumps({"order_id": order, "units": 1}), "pending"))
            signed = eoa.sign_transaction({
                "to": s.coop.group_buy.address, "data": call, "gas": JOIN_GAS, "nonce": nonces[eoa.address],
                "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9, "chainId": chain_id, "type": 2, "value": 0})
            nonces[eoa.address] += 1
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            db.execute("UPDATE intents SET state='submitted', tx_hash=? WHERE id=?", (tx_hash.hex(), cur.lastrowid))
    while waiting := db.execute("SELECT id, tx_hash FROM intents WHERE state='submitted'").fetchall():
        for row_id, tx_hash in waiting:
            receipt = _receipt(w3, tx_hash)
            if receipt is not None:
                assert receipt["status"] == 1, "a plain join reverted"
                db.execute("UPDATE intents SET state='confirmed', block_number=? WHERE id=?",
                           (receipt["blockNumber"], row_id))
        if db.execute("SELECT count(*) FROM intents WHERE state='submitted'").fetchone()[0]:
            time.sleep(0.1)
    elapsed = time.perf_counter() - started
    db.close()
    return MEMBERS * JOINS_EACH / elapsed


def _receipt(w3, tx_hash: str):
    from web3.exceptions import TransactionNotFound
    try:
        return w3.eth.get_transaction_receipt(tx_hash if tx_hash.startswith("0x") else "0x" + tx_hash)
    except TransactionNotFound:
        return None


# ---- latency ----

async def _latency_lines(s: Setup) -> list[str]:
    order = s.new_order()
    latencies: dict[int, float] = {}
    submitted: dict[int, float] = {}
    s.outbox.subscribe(lambda intent: latencies.setdefault(intent.id, time.perf_counter() - submitted[intent.id])
                       if intent.id in submitted else None)
    stop = asyncio.Event()
    running = asyncio.create_task(s.worker(**PRODUCTION).run(stop))
    pace = random.Random(17)
    ours_p50, ours_p95, plain_p50, plain_p95 = [], [], [], []
    call = s.coop.group_buy.functions.join(order, 1)
    for r in range(ROUNDS):
        ids = []
        for i in range(LATENCY_INTENTS):
            intent = await s.outbox.submit(f"latency-{r}-{i}", s.names[i % MEMBERS], "join",
                                           {"order_id": order, "units": 1})
            submitted[intent.id] = time.perf_counter()
            ids.append(intent.id)
            await asyncio.sleep(pace.uniform(*TRICKLE))
        while any(i not in latencies for i in ids):
            await asyncio.sleep(0.05)
        ours = [latencies[i] for i in ids]
        ours_p50.append(statistics.median(ours))
        ours_p95.append(statistics.quantiles(ours, n=20)[18])
        plain = await _plain_latencies(s, call, pace)
        plain_p50.append(statistics.median(plain))
        plain_p95.append(statistics.quantiles(plain, n=20)[18])
    stop.set()
    await running
    what = (f"ms from writing a join to its confirmation, joins every 50-200 ms from {MEMBERS} members, a block "
            f"every {BLOCK_TIME} s, production worker options, confirmation depth 0 (as `coop run`); anchor: the "
            f"EOAs' send_raw_transaction + wait_for_transaction_receipt; {LATENCY_INTENTS} joins a round, median of "
            f"{ROUNDS} alternating rounds")
    return [_ratio("chain.confirm_latency.p50", statistics.median(ours_p50) * 1000,
                   statistics.median(plain_p50) * 1000, "ms", "<= 1.5", what),
            _ratio("chain.confirm_latency.p95", statistics.median(ours_p95) * 1000,
                   statistics.median(plain_p95) * 1000, "ms", "<= 1.5", what)]


async def _plain_latencies(s: Setup, call, pace: random.Random) -> list[float]:
    w3, latencies = s.w3, []

    def send_and_wait(eoa: LocalAccount, started: float) -> None:
        tx = call.build_transaction({"from": eoa.address, "gas": JOIN_GAS,
                                     "nonce": w3.eth.get_transaction_count(eoa.address, "pending")})
        tx_hash = w3.eth.send_raw_transaction(eoa.sign_transaction(tx).raw_transaction)
        w3.eth.wait_for_transaction_receipt(tx_hash)
        latencies.append(time.perf_counter() - started)

    threads = []
    for i in range(LATENCY_INTENTS):
        thread = threading.Thread(target=send_and_wait, args=(s.eoas[i % MEMBERS], time.perf_counter()))
        thread.start()
        threads.append(thread)
        await asyncio.sleep(pace.uniform(*TRICKLE))
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    assert len(latencies) == LATENCY_INTENTS, "a plain join failed"
    return latencies
