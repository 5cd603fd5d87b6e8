"""The outbox with an external bundler (COOP_BUNDLER_URL): member operations go over the standard
ERC-4337 JSON-RPC to a bundler (our local bundler server, its own operator paying), and come back as
outcomes; a bundler that is away holds them, then gets them once."""
import asyncio
import socket

import pytest
from aiohttp import web
from web3 import Web3

from chain.accounts import ensure_account
from chain.bundler_client import BundlerClient
from tests.chain.bundler_server import make_app
from chain.db import create_engine, sessionmaker
from chain.keystore import Keystore
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.transact import contract_at
from tests.chain.test_outbox import CHEAP_KDF, PRICE, open_order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BundlerServer:
    """Our bundler server on a fixed port, started and stopped by the test."""

    def __init__(self, coop, port: int):
        self.w3 = Web3(Web3.HTTPProvider(coop.w3.provider.endpoint_uri, request_kwargs={"timeout": 30}))
        self.entry_point = contract_at(self.w3, "EntryPoint", coop.contracts.entry_point.address)
        self.operator = coop.chain.new_account()  # not the worker's gas payer: each keeps its own nonces
        self.port = port
        self.runner = None

    async def start(self) -> None:
        self.runner = web.AppRunner(make_app(self.w3, self.entry_point, self.operator, window=0.05))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def setup(database_url, anvil_coop):
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    outbox = Outbox(sessions)
    keystore = Keystore(sessions, "test master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    server = BundlerServer(anvil_coop, free_port())
    client = BundlerClient(f"http://127.0.0.1:{server.port}/", anvil_coop.contracts.entry_point.address)
    worker = Worker(anvil_coop.w3, anvil_coop.contracts, outbox, keystore, anvil_coop.keys,
                    WorkerOptions(window=0, bump_after=0.2), bundler=client)
    yield anvil_coop, outbox, worker, keystore, sessions, server
    await client.close()
    await server.stop()
    await engine.dispose()


async def funded_member(coop, outbox, worker, keystore, sessions, name, deposit):
    address = (await ensure_account(sessions, keystore, coop.contracts, name)).address
    await outbox.submit(f"register-{name}", name, "register", {"resident_id": f"resident-{name}"})
    await outbox.submit(f"deposit-{name}", name, "deposit", {"amount": deposit, "ref": f"cash-{name}"})
    await worker.drain()  # operator intents: the role accounts' own transactions, no bundler needed
    return address


async def test_joins_go_through_the_external_bundler(setup):
    coop, outbox, worker, keystore, sessions, server = setup
    await server.start()
    address = await funded_member(coop, outbox, worker, keystore, sessions, "gus", 9 * PRICE)
    order = open_order(coop, target=20)
    payer_nonce = coop.w3.eth.get_transaction_count(coop.gas_payer.address)
    joined = await outbox.submit("gus-join", "gus", "join", {"order_id": order, "units": 3})
    # Each alone is affordable; after the first, the second is not (6 × PRICE left for 7 units).
    short = await outbox.submit("gus-join-more", "gus", "join", {"order_id": order, "units": 7})
    await worker.drain()
    joined, short = await outbox.get(joined.id), await outbox.get(short.id)
    assert (joined.state, joined.reason) == ("confirmed", None)
    assert (short.state, short.reason) == ("failed", "insufficient_funds")
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 3
    # The bundler sent the operations; the gas payer only topped up the account's EntryPoint deposit, once,
    # which paid both (the bundler prices them; this one has no pimlico_getUserOperationGasPrice: the node's fees).
    assert coop.w3.eth.get_transaction_count(coop.gas_payer.address) == payer_nonce + 1
    assert coop.w3.eth.get_transaction_count(server.operator.address) > 0
    assert 0 < coop.contracts.entry_point.functions.balanceOf(address).call() < 10**18


async def test_a_bundler_that_is_away_gets_the_operation_once_it_is_back(setup):
    coop, outbox, worker, keystore, sessions, server = setup
    await server.start()
    address = await funded_member(coop, outbox, worker, keystore, sessions, "hal", 10 * PRICE)
    order = open_order(coop)
    await server.stop()
    intent = await outbox.submit("hal-join", "hal", "join", {"order_id": order, "units": 2})
    deposit = await outbox.submit("deposit-hal-2", "hal", "deposit", {"amount": PRICE, "ref": "cash-hal-2"})
    await worker.run_once()  # the estimate needs the bundler: the join waits, the operator's deposit goes
    assert (await outbox.get(intent.id)).state == "pending"
    assert (await outbox.get(deposit.id)).state in ("submitted", "confirmed")
    await server.start()
    await worker.drain()
    assert (await outbox.get(intent.id)).state == "confirmed"
    assert coop.contracts.group_buy.functions.getMember(order, address).call()[0] == 2


async def test_a_bundler_serving_another_entry_point_is_named_at_start(setup, caplog):
    coop, outbox, worker, keystore, sessions, server = setup
    await server.start()
    worker.bundler.entry_point = "0x" + "ab" * 20  # as for a co-op whose EntryPoint is not the canonical one
    stop = asyncio.Event()
    stop.set()
    await worker.run(stop)
    assert f"not this co-op's 0x{'ab' * 20}" in caplog.text and coop.contracts.entry_point.address in caplog.text
