"""Two `coop run` replicas on one PostgreSQL database, one anvil node and one Telegram bot in webhook mode:
an update delivered to both is answered once; intents written by either are signed by the leader only; the
leader killed with SIGKILL while intents are in flight hands over to the other within the lease, and every
intent ends confirmed exactly once (the balance on chain says so), its transactions one per nonce. In Telegram's
long-polling mode only the leader polls getUpdates.

PostgreSQL as in tests/chain/conftest.py: skipped when unreachable, except under CI=true."""
import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot import store
from bot.app import MANIFEST_FILE
from chain.lease import LeaderLease
from bot.transports.telegram import SECRET_HEADER, WEBHOOK_PATH
from chain import start_anvil
from chain.db import create_engine
from chain.deploy import deploy
from tests.bot.telegram_api import TelegramAPI
from tests.bot.test_run import TELEGRAM, Running, clean_env, free_port
from tests.bot.test_telegram import ADMIN_ID
from tests.chain.conftest import _postgres_database
from tests.conftest import TEST_PARAMS

SECRET = "replica-secret"
LEASE = 3  # seconds (COOP_LEADER_LEASE)
DEPOSITS = 6  # in flight when the leader is killed


@pytest.fixture
def database() -> Iterator[str]:
    yield from _postgres_database()


@pytest.fixture
def node(tmp_path: Path):
    """An anvil node with the co-op deployed by `coop deploy`'s function; the replicas' settings for it."""
    chain = start_anvil()
    try:
        deployer, guardian = chain.new_account(), chain.new_account()
        keys = chain.new_role_keys()
        contracts = deploy(chain.w3, deployer, keys.roles(guardian.address), TEST_PARAMS, tmp_path / MANIFEST_FILE)
        settings = {"COOP_CHAIN_RPC_URL": chain.w3.provider.endpoint_uri, "COOP_MASTER_KEY": "k" * 32,
                    "COOP_REGISTRAR_KEY": keys.registrar.key.hex(), "COOP_CERTIFIER_KEY": keys.certifier.key.hex(),
                    "COOP_TREASURER_KEY": keys.treasurer.key.hex(), "COOP_GAS_PAYER_KEY": keys.gas_payer.key.hex()}
        yield chain, contracts, settings
    finally:
        chain.close()


class Replica:
    def __init__(self, name: str, tmp_path: Path, env: dict[str, str]):
        data = tmp_path / name
        data.mkdir()
        shutil.copy(tmp_path / MANIFEST_FILE, data / MANIFEST_FILE)
        self.port = free_port()
        self.process = Running(["run", "--data-dir", str(data)], clean_env(**env, COOP_HTTP_PORT=str(self.port)))
        self.url = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    async def post(self, client: aiohttp.ClientSession, update: dict) -> None:
        async with client.post(self.url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200

    async def wait_for(self, pattern: str, timeout: float = 90) -> list[str]:
        return await asyncio.to_thread(self.process.wait_for, pattern, 1, timeout)


async def rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql))]
    finally:
        await engine.dispose()


async def test_two_replicas_answer_once_sign_from_one_and_hand_over_when_the_leader_is_killed(tmp_path, database,
                                                                                               node):
    chain, contracts, settings = node
    api = TelegramAPI(token=TELEGRAM["TELEGRAM_BOT_TOKEN"])
    await api.start()
    env = {**TELEGRAM, **settings, "TELEGRAM_API_BASE": api.base, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_WEBHOOK_URL": "https://coop.example/webhooks/telegram", "COOP_DATABASE_URL": database,
           "COOP_ADMINS": f"telegram:{ADMIN_ID}", "COOP_LEADER_LEASE": str(LEASE)}
    a = Replica("a", tmp_path, env)
    b = None
    try:
        await a.wait_for(r"listening on .*; leader\)")
        b = Replica("b", tmp_path, env)
        await b.wait_for(r"listening on .*; follower\)")
        async with aiohttp.ClientSession() as client:

            async def said(replica: Replica, contains: str, text: str | None = None, press: str | None = None):
                mark = len(api.calls)
                await replica.post(client, api.message(ADMIN_ID, text, username="admin", lang="en") if text
                                   else api.press(ADMIN_ID, press, username="admin", lang="en"))
                return await api.wait_for("sendMessage", ADMIN_ID, contains, after=mark, timeout=60)

            choice = await said(a, "·", text="/start")
            await said(b, "What would you like to do?", press=choice.buttons[0]["callback_data"])

            # (1) The same update delivered to both replicas at once is answered once.
            mark = len(api.calls)
            await said(a, "/balance", text="/help")
            await asyncio.sleep(0.5)
            once = len([c for c in api.calls[mark:] if c.method == "sendMessage"])
            update = api.message(ADMIN_ID, "/help", username="admin", lang="en")
            mark = len(api.calls)
            await asyncio.gather(a.post(client, update), b.post(client, update))
            await asyncio.sleep(1.0)
            assert len([c for c in api.calls[mark:] if c.method == "sendMessage"]) == once

            # (2) An intent written by the follower is signed by the leader.
            offer = await said(b, "cash deposit", text=f"/deposit telegram:{ADMIN_ID} 20")
            await said(b, "balance is now", press=offer.buttons[0]["callback_data"])
            (account,), = await rows(database, "SELECT a.address FROM chain_accounts a JOIN bot_members m "
                                               f"ON m.member_id = a.member_id WHERE m.handle = '{ADMIN_ID}'")
            one_deposit = contracts.food_usd.functions.balanceOf(account).call()
            assert one_deposit > 0 and "leader lease taken" not in b.process.stderr

            # (3) Deposits and a join confirmed on both replicas, in flight on a chain with one-second blocks, when the
            # leader is killed: the follower takes over and each is recorded exactly once.
            offer = await said(b, "rice", text="/neworder rice 2 10 10 1")
            await said(b, "Order #1 is open", press=offer.buttons[0]["callback_data"])
            offers = [await said((a, b)[i % 2], "cash deposit", text=f"/deposit telegram:{ADMIN_ID} 20")
                      for i in range(DEPOSITS)]
            offers.insert(2, await said(a, "#1", text="/join 1 2"))  # a member operation among them
            chain.w3.provider.make_request("evm_setAutomine", [False])
            chain.w3.provider.make_request("evm_setIntervalMining", [1])
            for i, offer in enumerate(offers):
                await (a, b)[i % 2].post(client, api.press(ADMIN_ID, offer.buttons[0]["callback_data"],
                                                           username="admin", lang="en"))
            while not await rows(database, "SELECT id FROM chain_intents WHERE state = 'submitted'"):
                await asyncio.sleep(0.05)
            a.process.process.kill()
            killed_at = asyncio.get_running_loop().time()
            await b.wait_for(r"leader lease taken", timeout=LEASE * 3)
            assert asyncio.get_running_loop().time() - killed_at < LEASE * 2
            deadline = asyncio.get_running_loop().time() + 90
            while open_ := await rows(database, "SELECT id, state FROM chain_intents "
                                                "WHERE state IN ('pending', 'submitted')"):
                assert asyncio.get_running_loop().time() < deadline, open_
                await asyncio.sleep(0.2)
        states = await rows(database, "SELECT kind, state, count(*) FROM chain_intents GROUP BY kind, state")
        assert ("deposit", "confirmed", DEPOSITS + 1) in states and not [s for s in states if s[1] != "confirmed"]
        assert contracts.food_usd.functions.totalSupply().call() == one_deposit * (DEPOSITS + 1)
        assert contracts.group_buy.functions.getMember(1, account).call()[0] == 2
        # One transaction per nonce of each account, all mined: no nonce used twice, none dropped.
        sent = await rows(database, "SELECT sender, nonce, state FROM chain_transactions")
        assert {state for *_, state in sent} == {"mined"} and len({(s, n) for s, n, _ in sent}) == len(sent)
        assert b.process.stderr.count("outbox cycle failed") <= 1, b.process.stderr[-3000:]  # no nonce error loop
    finally:
        for replica in (a, b):
            if replica is not None:
                replica.process.kill()
        await api.close()


async def test_in_polling_mode_a_follower_does_not_poll_until_it_leads(tmp_path, database, node):
    _, _, settings = node
    await asyncio.to_thread(store.migrate, database)
    leader = LeaderLease(create_engine(database), LEASE)  # a live leader elsewhere, renewing its lease
    assert await leader.take()
    stop_renewing = asyncio.Event()

    async def renewing() -> None:
        while not stop_renewing.is_set():
            assert await leader.renew()
            await asyncio.sleep(LEASE / 4)

    renewals = asyncio.create_task(renewing())
    api = TelegramAPI(token=TELEGRAM["TELEGRAM_BOT_TOKEN"])
    await api.start()
    replica = Replica("a", tmp_path, {**TELEGRAM, **settings, "TELEGRAM_API_BASE": api.base,
                                      "COOP_DATABASE_URL": database, "COOP_ADMINS": f"telegram:{ADMIN_ID}",
                                      "COOP_LEADER_LEASE": str(LEASE)})
    try:
        await replica.wait_for(r"listening on .*; follower\)")
        await replica.wait_for(r"Telegram long polling waits for the leader lease .* TELEGRAM_WEBHOOK_SECRET")
        await asyncio.sleep(LEASE)
        assert "getMe" in [c.method for c in api.calls]
        assert "getUpdates" not in [c.method for c in api.calls]  # the leader polls, not this replica

        stop_renewing.set()
        await renewals
        await leader.release()  # the leader stops: this replica leads, and polls
        await replica.wait_for(r"leader lease taken", timeout=LEASE * 2)
        await api.queue(api.message(ADMIN_ID, "/start", username="admin", lang="en"))
        await api.wait_for("sendMessage", ADMIN_ID, "·", timeout=60)
    finally:
        stop_renewing.set()
        await asyncio.gather(renewals, return_exceptions=True)
        replica.process.kill()
        await api.close()
        await leader.engine.dispose()
