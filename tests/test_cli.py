"""The `coop` command: help lists the subcommands; the demo runs the on-chain walkthrough."""
import subprocess
import sys


def coop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_subcommands():
    result = coop("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_demo_runs_a_group_buy_on_chain():
    result = coop("demo")
    assert result.returncode == 0, result.stderr
    assert "the supplier was paid $166.50" in result.stdout
    assert "Ana's Food-USD now: $126.00" in result.stdout


def test_rotate_master_key_rewraps_the_custodial_keys(tmp_path):
    import asyncio
    import os

    from chain.db import create_engine, migrate, sessionmaker
    from chain.keystore import Keystore, MasterKeyError

    url = f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}"
    migrate(url)

    async def keystore(master_key: str, create: str | None = None) -> str | None:
        engine = create_engine(url)
        try:
            sessions = sessionmaker(engine)
            store = Keystore(sessions, master_key, kdf_params={"n": 2**10, "r": 8, "p": 1})
            await store.open()
            if create:
                async with sessions() as session, session.begin():
                    await store.add_key(session, store.new_key(create))
            return (await store.signer("ana")).address
        finally:
            await engine.dispose()

    address = asyncio.run(keystore("old key", create="ana"))
    env = {**os.environ, "COOP_MASTER_KEY": "old key", "COOP_NEW_MASTER_KEY": "new key"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "rotate-master-key", "--database-url", url], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "1 member keys" in result.stdout and "new key" not in result.stdout
    assert asyncio.run(keystore("new key")) == address
    try:
        asyncio.run(keystore("old key"))
        raise AssertionError("the old master key still opens the keystore")
    except MasterKeyError as e:
        assert "coop rotate-master-key" in str(e)
    missing = subprocess.run([sys.executable, "-m", "bot.cli", "rotate-master-key", "--database-url", url],
                             env={k: v for k, v in env.items() if k != "COOP_NEW_MASTER_KEY"},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "COOP_NEW_MASTER_KEY" in missing.stderr
