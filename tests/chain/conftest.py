"""Fixtures for the chain gateway: a migrated database on SQLite and PostgreSQL, and an anvil node with
the co-op deployed.

PostgreSQL is COOP_TEST_POSTGRES_URL (default the CI machine's: trust auth on 127.0.0.1:5432, database
`test`); each test gets a database of its own, created from there and dropped afterwards. Without
PostgreSQL the PostgreSQL runs are skipped and say so, except under CI=true, where they fail.
"""
import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chain import DevChain, deploy_system, start_anvil
from chain.db import migrate
from tests.conftest import TEST_PARAMS, Coop

POSTGRES_URL = os.environ.get("COOP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _postgres_database() -> Iterator[str]:
    name = f"coop_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncio.TimeoutError) as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable at {POSTGRES_URL}: {e}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {e}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrated_database(engine: str, tmp_path: Path, migrate: Callable[[str], None]) -> Iterator[str]:
    """An empty database on `engine` (sqlite | postgresql), brought to head by `migrate`."""
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}"
        migrate(url)
        yield url
    else:
        for url in _postgres_database():
            migrate(url)
            yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database with the chain tables migrated, on each engine."""
    yield from migrated_database(request.param, tmp_path, migrate)


@pytest.fixture(scope="session")
def anvil() -> Iterator[DevChain]:
    dev = start_anvil()
    yield dev
    dev.close()


@pytest.fixture(scope="session")
def anvil_deployed(anvil: DevChain) -> Coop:
    """The co-op on anvil, with the backend's accounts (one per role, each paying its gas) and members
    who have keys but no ETH and are not registered yet."""
    deployer, guardian, supplier, outsider = (anvil.new_account() for _ in range(4))
    keys = anvil.new_role_keys()
    members = [anvil.new_account(ether=0) for _ in range(6)]
    contracts = deploy_system(anvil.w3, deployer, keys.roles(guardian.address), TEST_PARAMS)
    return Coop(anvil, contracts, deployer, keys, guardian, supplier, outsider, members)


@pytest.fixture
def anvil_coop(anvil_deployed: Coop) -> Iterator[Coop]:
    """The co-op on anvil, rolled back after the test."""
    snapshot = anvil_deployed.chain.snapshot()
    yield anvil_deployed
    anvil_deployed.chain.revert(snapshot)
