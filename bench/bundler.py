"""The chain gateway's figures, on an anvil node (the embedded chain's kind) with the outbox on SQLite.

- bundler.gas_per_op: the gas of one handleOps transaction carrying 20 members' joins (approve + join
  from each smart account, accounts already created), per operation, against 20 joins sent directly
  by EOAs that approved beforehand (the approval not counted: the strictest anchor).
- bundler.gas_per_op.first: the same for members' first operations, which also create their accounts.
- bundler.throughput: intents confirmed per second by the worker bundling up to 20 per transaction,
  against the same worker sending one transaction per intent, one after the other.
- chain.confirm_latency: from an intent's submission to its confirmation, with intents arriving every
  50 ms while the worker runs as in production (bundling window 0.2 s).
"""
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from eth_utils import keccak

from chain import DeployParams, deploy_system, send, start_anvil
from chain.accounts import ensure_account
from chain.db import create_engine, migrate, sessionmaker
from chain.keystore import Keystore
from chain.outbox import Outbox, Worker, WorkerOptions

MEMBERS = 20
PRICE = 1_000_000
DAY = 24 * 3600
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}


def run() -> Iterator[str]:
    yield from asyncio.run(_run())


async def _run() -> list[str]:
    chain = start_anvil()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = create_engine(url)
        try:
            return await _measure(chain, sessionmaker(engine))
        finally:
            await engine.dispose()
            chain.close()


async def _measure(chain, sessions) -> list[str]:
    w3 = chain.w3
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    coop = deploy_system(w3, deployer, keys.roles(guardian.address), DeployParams())
    keystore = Keystore(sessions, "bench master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    outbox = Outbox(sessions)

    def worker(**options) -> Worker:
        return Worker(w3, coop, outbox, keystore, keys, WorkerOptions(window=0, **options))

    names = [f"member-{i}" for i in range(MEMBERS)]
    for name in names:
        await ensure_account(sessions, keystore, coop, name)
        await outbox.submit(f"register-{name}", name, "register", {"resident_id": name})
        await outbox.submit(f"deposit-{name}", name, "deposit", {"amount": 1000 * PRICE, "ref": name})
    await worker().drain()

    def new_order() -> int:
        send(w3, coop.group_buy.functions.createOrder(supplier.address, keccak(text="rice"), PRICE, 10_000, 1, 1000, 1,
                                                      chain.now() + 30 * DAY), keys.treasurer)
        return coop.group_buy.functions.orderCount().call()

    async def bundle_gas(order: int, tag: str) -> int:
        intents = [await outbox.submit(f"{tag}-{n}", n, "join", {"order_id": order, "units": 1}) for n in names]
        await worker(max_ops=MEMBERS).drain()
        hashes = {(await outbox.get(i.id)).tx_hash for i in intents}
        assert len(hashes) == 1, "the joins should travel in one bundle"
        return w3.eth.get_transaction_receipt(hashes.pop())["gasUsed"]

    first = await bundle_gas(new_order(), "first")
    later = await bundle_gas(new_order(), "later")

    # Anchor: EOAs joining directly, each having approved beforehand.
    order = new_order()
    eoa_gas = []
    for i in range(MEMBERS):
        eoa = chain.new_account()
        send(w3, coop.registry.functions.addMember(eoa.address, keccak(text=f"eoa-{i}")),
             keys.registrar)  # members only
        send(w3, coop.food_usd.functions.recordDeposit(eoa.address, 10 * PRICE, keccak(text=f"eoa-{i}")),
             keys.treasurer)
        send(w3, coop.food_usd.functions.approve(coop.group_buy.address, 10 * PRICE), eoa)
        eoa_gas.append(send(w3, coop.group_buy.functions.join(order, 1), eoa)["gasUsed"])
    anchor = statistics.mean(eoa_gas)
    lines = [
        f"bundler.gas_per_op: ratio {later / MEMBERS / anchor:.2f} (ours {later / MEMBERS:,.0f} gas vs anchor "
        f"{anchor:,.0f} gas) goal <= 1.25",
        f"bundler.gas_per_op.first: ratio {first / MEMBERS / anchor:.2f} (ours {first / MEMBERS:,.0f} gas vs anchor "
        f"{anchor:,.0f} gas) goal none (reported: first operations also create the accounts)",
    ]

    async def throughput(max_ops: int, tag: str, rounds: int = 3) -> float:
        order = new_order()
        for r in range(rounds):
            for n in names:
                await outbox.submit(f"{tag}-{r}-{n}", n, "join", {"order_id": order, "units": 1})
        started = time.perf_counter()
        await worker(max_ops=max_ops).drain(timeout=600)
        return rounds * MEMBERS / (time.perf_counter() - started)

    batched = await throughput(MEMBERS, "batched")
    sequential = await throughput(1, "sequential")
    lines.append(f"bundler.throughput: ratio {batched / sequential:.2f} (ours {batched:.1f} intents/s vs anchor "
                 f"{sequential:.1f} intents/s) goal >= 5")

    # Latency under a steady trickle, the worker running as in production.
    order = new_order()
    submitted: dict[int, float] = {}
    latencies: list[float] = []
    outbox.subscribe(lambda intent: latencies.append(time.perf_counter() - submitted[intent.id])
                     if intent.id in submitted else None)
    stop = asyncio.Event()
    running = asyncio.create_task(
        Worker(w3, coop, outbox, keystore, keys, WorkerOptions(window=0.2, poll=0.05)).run(stop))
    for r in range(2):
        for n in names:
            intent = await outbox.submit(f"latency-{r}-{n}", n, "join", {"order_id": order, "units": 1})
            submitted[intent.id] = time.perf_counter()
            await asyncio.sleep(0.05)
    while len(latencies) < len(submitted):
        await asyncio.sleep(0.05)
    stop.set()
    await running
    cuts = statistics.quantiles(latencies, n=20)
    lines.append(f"chain.confirm_latency: p50 {statistics.median(latencies) * 1000:,.0f} ms, p95 {cuts[18] * 1000:,.0f} ms "
                 "(absolute) goal none (reported: embedded chain, intents every 50 ms)")
    return lines
