"""Kill the outbox worker (SIGKILL, a real process) at each stage of an intent, start it again: every
intent ends confirmed exactly once, and the balances say so."""
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from eth_utils import keccak

from chain import start_anvil
from chain.accounts import ensure_account
from chain.db import Intent, OperatorTransaction, create_engine, sessionmaker
from chain.deploy import deploy
from chain.keystore import Keystore
from chain.outbox import Outbox, Worker, WorkerOptions
from tests.conftest import DAY, TEST_PARAMS

PRICE = 2_500_000
MASTER_KEY = "crash test master key"
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}
STAGES = ["before_sign", "after_sign", "after_send", "before_receipt"]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """An anvil node of this module's own, with the co-op deployed and its manifest written."""
    chain = start_anvil()
    deployer, operator, supplier = (chain.new_account() for _ in range(3))
    manifest = tmp_path_factory.mktemp("deployment") / "manifest.json"
    contracts = deploy(chain.w3, deployer, operator.address, TEST_PARAMS, manifest_path=manifest)
    yield chain, contracts, operator, supplier, manifest
    chain.close()


def run_worker(database_url: str, node, *extra: str) -> subprocess.CompletedProcess:
    chain, _, operator, _, manifest = node
    env = {**os.environ, "COOP_MASTER_KEY": MASTER_KEY, "COOP_OPERATOR_KEY": operator.key.hex()}
    return subprocess.run(
        [sys.executable, "-m", "chain.worker", "--database-url", database_url, "--rpc-url",
         chain.w3.provider.endpoint_uri, "--manifest", str(manifest), *extra],
        env=env, capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("stage", STAGES)
async def test_a_worker_killed_at_any_stage_finishes_each_intent_exactly_once(database_url, node, stage):
    chain, contracts, operator, supplier, _ = node
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    keystore = Keystore(sessions, MASTER_KEY, kdf_params=CHEAP_KDF)
    await keystore.open()
    outbox = Outbox(sessions)
    run = uuid.uuid4().hex[:8]  # the node is shared by the module's tests: names, ids and refs stay apart
    names = [f"{stage}-{run}-{i}" for i in range(3)]
    accounts = {}
    for name in names:  # members with Food-USD, set up by a worker in this process
        accounts[name] = (await ensure_account(sessions, keystore, contracts, name)).address
        await outbox.submit(f"register-{name}", name, "register", {"resident_id": name})
        await outbox.submit(f"deposit-{name}", name, "deposit", {"amount": 10 * PRICE, "ref": f"cash-{name}"})
    await Worker(chain.w3, contracts, outbox, keystore, operator, WorkerOptions(window=0)).drain()
    send(chain, contracts.group_buy.functions.createOrder(
        supplier.address, keccak(text="beans"), PRICE, 100, 1, 10, 1, chain.now() + 7 * DAY), operator)
    order = contracts.group_buy.functions.orderCount().call()
    intents = [await outbox.submit(f"join-{name}", name, "join", {"order_id": order, "units": 2 + i})
               for i, name in enumerate(names)]
    nonce = chain.w3.eth.get_transaction_count(operator.address)

    crashed = run_worker(database_url, node, "--until-idle", "--crash-at", stage)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    finished = run_worker(database_url, node, "--until-idle")
    assert finished.returncode == 0, finished.stderr[-2000:]

    for i, (intent, name) in enumerate(zip(intents, names)):
        intent = await outbox.get(intent.id)
        assert intent.state == "confirmed", (intent.reason, intent.detail)
        assert contracts.group_buy.functions.getMember(order, accounts[name]).call()[0] == 2 + i
        assert contracts.food_usd.functions.balanceOf(accounts[name]).call() == (10 - 2 - i) * PRICE
    assert chain.w3.eth.get_transaction_count(operator.address) == nonce + 1  # one bundle, mined once
    async with sessions() as session:
        from sqlalchemy import select
        mined = (await session.execute(select(OperatorTransaction).where(
            OperatorTransaction.state == "mined", OperatorTransaction.nonce == nonce))).scalars().all()
        assert len(mined) == 1
        assert {i.tx_hash for i in (await session.execute(select(Intent).where(
            Intent.kind == "join"))).scalars()} == {mined[0].tx_hash}
    await engine.dispose()


def send(chain, call, sender):
    from chain import send as send_tx

    return send_tx(chain.w3, call, sender)


async def test_the_worker_refuses_to_start_without_the_right_master_key(database_url, node):
    engine = create_engine(database_url)
    keystore = Keystore(sessionmaker(engine), MASTER_KEY, kdf_params=CHEAP_KDF)
    await keystore.open()  # the database's master key is MASTER_KEY
    await engine.dispose()
    chain, _, operator, _, manifest = node
    base = [sys.executable, "-m", "chain.worker", "--database-url", database_url, "--rpc-url",
            chain.w3.provider.endpoint_uri, "--manifest", str(manifest), "--until-idle"]
    env = {k: v for k, v in os.environ.items() if k != "COOP_MASTER_KEY"}
    missing = subprocess.run(base, env={**env, "COOP_OPERATOR_KEY": operator.key.hex()}, capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "COOP_MASTER_KEY" in missing.stderr
    wrong = subprocess.run(base, env={**env, "COOP_OPERATOR_KEY": operator.key.hex(), "COOP_MASTER_KEY": "not it"},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert "COOP_MASTER_KEY does not match" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "not it" not in wrong.stderr + wrong.stdout  # the key itself is never echoed
