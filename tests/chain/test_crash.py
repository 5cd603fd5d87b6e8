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
from chain.roles import KEY_SETTINGS, RoleKeys
from tests.conftest import DAY, TEST_PARAMS

PRICE = 2_500_000
MASTER_KEY = "crash test master key"
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}
STAGES = ["before_sign", "after_sign", "after_send", "before_receipt"]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """An anvil node of this module's own, with the co-op deployed and its manifest written."""
    chain = start_anvil()
    deployer, guardian, supplier = (chain.new_account() for _ in range(3))
    keys = chain.new_role_keys()
    manifest = tmp_path_factory.mktemp("deployment") / "manifest.json"
    contracts = deploy(chain.w3, deployer, keys.roles(guardian.address), TEST_PARAMS, manifest_path=manifest)
    yield chain, contracts, keys, supplier, manifest
    chain.close()


def key_settings(keys: RoleKeys) -> dict[str, str]:
    """COOP_REGISTRAR_KEY and the others, as the worker process reads them."""
    return {name: keys.of(role).key.hex() for role, name in KEY_SETTINGS.items()}


def run_worker(database_url: str, node, *extra: str) -> subprocess.CompletedProcess:
    chain, _, keys, _, manifest = node
    env = {**os.environ, "COOP_MASTER_KEY": MASTER_KEY, **key_settings(keys)}
    return subprocess.run(
        [sys.executable, "-m", "chain.worker", "--database-url", database_url, "--rpc-url",
         chain.w3.provider.endpoint_uri, "--manifest", str(manifest), *extra],
        env=env, capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("stage", STAGES)
async def test_a_worker_killed_at_any_stage_finishes_each_intent_exactly_once(database_url, node, stage):
    chain, contracts, keys, supplier, _ = node
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
    await Worker(chain.w3, contracts, outbox, keystore, keys, WorkerOptions(window=0)).drain()
    send(chain, contracts.group_buy.functions.createOrder(
        supplier.address, keccak(text="beans"), PRICE, 100, 1, 10, 1, chain.now() + 7 * DAY), keys.treasurer)
    order = contracts.group_buy.functions.orderCount().call()
    intents = [await outbox.submit(f"join-{name}", name, "join", {"order_id": order, "units": 2 + i})
               for i, name in enumerate(names)]
    nonce = chain.w3.eth.get_transaction_count(keys.gas_payer.address)

    crashed = run_worker(database_url, node, "--until-idle", "--crash-at", stage)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    finished = run_worker(database_url, node, "--until-idle")
    assert finished.returncode == 0, finished.stderr[-2000:]

    for i, (intent, name) in enumerate(zip(intents, names)):
        intent = await outbox.get(intent.id)
        assert intent.state == "confirmed", (intent.reason, intent.detail)
        assert contracts.group_buy.functions.getMember(order, accounts[name]).call()[0] == 2 + i
        assert contracts.food_usd.functions.balanceOf(accounts[name]).call() == (10 - 2 - i) * PRICE
    assert chain.w3.eth.get_transaction_count(keys.gas_payer.address) == nonce + 1  # one bundle, mined once
    async with sessions() as session:
        from sqlalchemy import select
        mined = (await session.execute(select(OperatorTransaction).where(
            OperatorTransaction.state == "mined", OperatorTransaction.sender == keys.gas_payer.address,
            OperatorTransaction.nonce == nonce))).scalars().all()
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
    chain, _, keys, _, manifest = node
    base = [sys.executable, "-m", "chain.worker", "--database-url", database_url, "--rpc-url",
            chain.w3.provider.endpoint_uri, "--manifest", str(manifest), "--until-idle"]
    env = {k: v for k, v in os.environ.items() if k != "COOP_MASTER_KEY"}
    missing = subprocess.run(base, env={**env, **key_settings(keys)}, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "COOP_MASTER_KEY" in missing.stderr
    wrong = subprocess.run(base, env={**env, **key_settings(keys), "COOP_MASTER_KEY": "not it"},
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2
    assert "COOP_MASTER_KEY does not match" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "not it" not in wrong.stderr + wrong.stdout  # the key itself is never echoed


@pytest.mark.parametrize("change, said", [
    ({"COOP_OPERATOR_KEY": "0x" + "ab" * 32}, "COOP_OPERATOR_KEY is no longer read"),
    ({"COOP_CERTIFIER_KEY": None}, "COOP_CERTIFIER_KEY must be set"),
    ({"COOP_GAS_PAYER_KEY": "@COOP_TREASURER_KEY"}, "COOP_TREASURER_KEY and COOP_GAS_PAYER_KEY are the same key"),
    # keys in each other's settings: said at start, not as every registration failing
    ({"COOP_REGISTRAR_KEY": "@COOP_CERTIFIER_KEY", "COOP_CERTIFIER_KEY": "@COOP_REGISTRAR_KEY"},
     "COOP_REGISTRAR_KEY is the key of {certifier}, which does not hold REGISTRAR_ROLE"),
])
def test_the_worker_refuses_role_keys_missing_shared_or_replaced_by_one_operator_key(database_url, node, change, said):
    chain, _, keys, _, manifest = node
    given = key_settings(keys)
    env = {**os.environ, "COOP_MASTER_KEY": MASTER_KEY, **given}
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:  # "@NAME": that setting's own key
            env[name] = given[value[1:]] if value.startswith("@") else value
    said = said.format(certifier=keys.certifier.address)
    result = subprocess.run(
        [sys.executable, "-m", "chain.worker", "--database-url", database_url, "--rpc-url",
         chain.w3.provider.endpoint_uri, "--manifest", str(manifest), "--until-idle"],
        env=env, capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 2 and said in result.stderr, result.stderr
    assert keys.treasurer.key.hex() not in result.stderr  # never echoed
