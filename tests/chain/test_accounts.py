"""Members' accounts: a key and the address its account will have, written together or not at all."""
import dataclasses
import socket

import pytest
from web3 import Web3

from chain.accounts import ensure_account
from chain.db import SmartAccount, create_engine, sessionmaker
from chain.keystore import Keystore
from tests.chain.test_outbox import CHEAP_KDF


def unreachable_node() -> Web3:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 5}))


async def test_a_key_is_stored_only_with_its_account(database_url, anvil_coop):
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    keystore = Keystore(sessions, "test master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    factory = anvil_coop.contracts.account_factory
    away = dataclasses.replace(anvil_coop.contracts, account_factory=unreachable_node().eth.contract(
        address=factory.address, abi=factory.abi))
    try:
        with pytest.raises(Exception):  # the node is away while the address is predicted
            await ensure_account(sessions, keystore, away, "ana")
        assert await keystore.address_of("ana") is None  # no key left without its account

        account = await ensure_account(sessions, keystore, anvil_coop.contracts, "ana")
        assert account.signer == await keystore.address_of("ana")
        assert account.address == factory.functions.predictAddress(account.signer, 0).call()
        assert (await ensure_account(sessions, keystore, anvil_coop.contracts, "ana")).address == account.address
        async with sessions() as session:
            assert (await session.get(SmartAccount, "ana")).signer == account.signer
    finally:
        await engine.dispose()


async def test_a_key_stored_without_its_account_gets_that_keys_account(database_url, anvil_coop):
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    keystore = Keystore(sessions, "test master key", kdf_params=CHEAP_KDF)
    await keystore.open()
    try:
        async with sessions() as session, session.begin():  # as an older version left it: a key, no account
            await keystore.add_key(session, keystore.new_key("ana"))
        signer = await keystore.address_of("ana")

        account = await ensure_account(sessions, keystore, anvil_coop.contracts, "ana")

        assert account.signer == signer == (await keystore.signer("ana")).address  # her key, not a new one
        assert account.address == anvil_coop.contracts.account_factory.functions.predictAddress(signer, 0).call()
        async with sessions() as session:
            assert (await session.get(SmartAccount, "ana")).address == account.address
    finally:
        await engine.dispose()
