"""`coop run`, `coop telegram` and `coop whatsapp`: production refuses the development shortcuts (the embedded
chain without COOP_DEV=1, no chat transport) and says what to set; on the embedded defaults with COOP_DEV=1
/healthz answers with the database's and the chain's status, an unreachable Bot API is waited out, and SIGTERM
stops it cleanly."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from bot.cli import main
from bot.run import refusals
from bot.settings import Settings
from tests.bot.console import ROOT

WHATSAPP = {"WHATSAPP_TOKEN": "wa-token", "WHATSAPP_PHONE_NUMBER_ID": "1099", "WHATSAPP_APP_SECRET": "wa-secret",
            "WHATSAPP_VERIFY_TOKEN": "verify-me", "WHATSAPP_API_BASE": "http://127.0.0.1:9"}
TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token"}
ROLE_KEYS = {"COOP_REGISTRAR_KEY": "0x" + "01" * 32, "COOP_CERTIFIER_KEY": "0x" + "02" * 32,
             "COOP_TREASURER_KEY": "0x" + "03" * 32, "COOP_GAS_PAYER_KEY": "0x" + "04" * 32}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any of the assistant's settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "COOP_"))}
    return {**env, **settings}


@pytest.fixture
def coop(monkeypatch, capsys):
    """`coop ARGS` through the real entry point (bot.cli.main) in this process, with only `settings` set:
    returns the exit code and what it wrote on stderr and stdout."""

    def run(*args: str, **settings: str) -> tuple[int, str, str]:
        for name in list(os.environ):
            if name.startswith(("TELEGRAM_", "WHATSAPP_", "COOP_")):
                monkeypatch.delenv(name)
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, err, out

    return run


@pytest.mark.parametrize("command, settings", [("run", TELEGRAM), ("telegram", TELEGRAM), ("whatsapp", WHATSAPP)])
def test_production_commands_refuse_the_development_chain_and_say_what_to_set(tmp_path, coop, command, settings):
    code, err, out = coop(command, "--data-dir", str(tmp_path), **settings)
    assert code == 2, err
    assert "embedded development chain" in err
    for name in ("COOP_CHAIN_RPC_URL", "COOP_MASTER_KEY", *ROLE_KEYS, "COOP_DATABASE_URL", "COOP_DEV=1"):
        assert name in err
    assert "Traceback" not in err and not out
    assert not (tmp_path / "chain").exists()  # refused before anything started


def test_the_refusal_names_only_what_is_missing(tmp_path, coop):
    keys = {k: v for k, v in ROLE_KEYS.items() if k != "COOP_CERTIFIER_KEY"}
    code, err, _ = coop("run", "--data-dir", str(tmp_path), **TELEGRAM, **keys, COOP_MASTER_KEY="k" * 32,
                        COOP_DATABASE_URL="postgresql+asyncpg://coop@db/coop")
    assert code == 2
    assert "COOP_CHAIN_RPC_URL" in err and "COOP_CERTIFIER_KEY" in err
    assert not any(name in err for name in ("COOP_MASTER_KEY", "COOP_DATABASE_URL", *keys))


def test_a_node_without_the_production_keys_is_refused(tmp_path, coop):
    code, err, out = coop("telegram", "--data-dir", str(tmp_path), **TELEGRAM,
                          COOP_CHAIN_RPC_URL="http://127.0.0.1:9")
    assert code == 2 and "COOP_MASTER_KEY" in err and all(name in err for name in ROLE_KEYS)
    assert "embedded development chain" not in err and "Traceback" not in err and not out


def test_the_retired_operator_key_is_refused_naming_the_four_role_keys(tmp_path, coop):
    code, err, out = coop("run", "--data-dir", str(tmp_path), **TELEGRAM, **ROLE_KEYS, COOP_DEV="1",
                          COOP_OPERATOR_KEY="0x" + "ab" * 32)
    assert code == 2 and "COOP_OPERATOR_KEY is no longer read" in err
    assert all(name in err for name in ROLE_KEYS) and "ab" * 32 not in err and not out
    assert not (tmp_path / "chain").exists()


def test_one_key_for_two_roles_is_refused_on_a_node_unless_developing(tmp_path, coop):
    shared = {**ROLE_KEYS, "COOP_GAS_PAYER_KEY": ROLE_KEYS["COOP_REGISTRAR_KEY"]}
    node = {"COOP_CHAIN_RPC_URL": "http://127.0.0.1:9", "COOP_MASTER_KEY": "k" * 32}
    code, err, _ = coop("telegram", "--data-dir", str(tmp_path), **TELEGRAM, **shared, **node)
    assert code == 2 and "COOP_REGISTRAR_KEY and COOP_GAS_PAYER_KEY are the same key" in err
    assert ROLE_KEYS["COOP_REGISTRAR_KEY"][2:] not in err
    settings = Settings.from_env({**shared, **node, "COOP_DEV": "1"}, data_dir=tmp_path)
    assert refusals(settings, ["telegram"]) == []  # development may share one key between roles
    assert settings.role_keys().registrar.address == settings.role_keys().gas_payer.address


def test_coop_run_without_a_chat_transport_says_what_to_set(tmp_path, coop):
    code, err, out = coop("run", "--data-dir", str(tmp_path), COOP_DEV="1")
    assert code == 2, err
    assert "no chat transport" in err and "TELEGRAM_BOT_TOKEN" in err and "WHATSAPP_TOKEN" in err
    assert "embedded development chain" not in err  # COOP_DEV=1 lets the embedded chain pass
    assert "Traceback" not in err and not out


def test_a_malformed_development_switch_is_refused_politely(tmp_path, coop):
    code, err, _ = coop("run", "--data-dir", str(tmp_path), **TELEGRAM, COOP_DEV="maybe")
    assert code == 2 and "COOP_DEV" in err and "Traceback" not in err


class Running:
    """A `coop` process whose stderr is collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 90) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(found := [line for line in list(self.lines) if re.search(pattern, line)]) < count:
            assert self.process.poll() is None and time.monotonic() < deadline, self.stderr[-3000:]
            time.sleep(0.1)
        return found

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def test_an_unreachable_bot_api_is_retried_with_one_line_each_until_sigterm(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    bot = Running(["run", "--data-dir", str(tmp_path)],
                  clean_env(**TELEGRAM, TELEGRAM_API_BASE=closed, COOP_DEV="1", COOP_HTTP_PORT=str(free_port())))
    try:
        attempts = bot.wait_for(r"Bot API .* unreachable attempt=\d", count=2)
        assert "attempt=1" in attempts[0] and "attempt=2" in attempts[1]
        assert all(closed in line and "123456:TEST-token" not in line for line in attempts)
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(timeout=60) == 0
        time.sleep(0.2)
        assert "Traceback" not in bot.stderr, bot.stderr[-3000:]
    finally:
        bot.kill()


def test_coop_run_serves_healthz_until_sigterm(tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--data-dir", str(tmp_path)], cwd=ROOT,
                               env=clean_env(**WHATSAPP, COOP_DEV="1", COOP_HTTP_PORT=str(port)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-2000:]
                time.sleep(0.2)
        assert answer.status_code == 200
        health = answer.json()
        assert (health["database"], health["chain"]) == ("ok", "ok") and health["block"] > 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_role_key_whose_account_lacks_the_role_on_chain_is_refused_at_start(tmp_path, coop):
    """Keys put in each other's settings are said at start-up, not as every registration failing."""
    from chain import start_anvil
    from chain.deploy import deploy
    from tests.conftest import TEST_PARAMS

    chain = start_anvil()
    try:
        deployer, guardian = chain.new_account(), chain.new_account()
        keys = chain.new_role_keys()
        deploy(chain.w3, deployer, keys.roles(guardian.address), TEST_PARAMS, tmp_path / "chain-manifest.json")
        swapped = {"COOP_REGISTRAR_KEY": keys.certifier.key.hex(), "COOP_CERTIFIER_KEY": keys.registrar.key.hex(),
                   "COOP_TREASURER_KEY": keys.treasurer.key.hex(), "COOP_GAS_PAYER_KEY": keys.gas_payer.key.hex()}
        code, err, out = coop("telegram", "--data-dir", str(tmp_path), **TELEGRAM, **swapped,
                              TELEGRAM_API_BASE="http://127.0.0.1:9", COOP_MASTER_KEY="k" * 32,
                              COOP_CHAIN_RPC_URL=chain.w3.provider.endpoint_uri)
    finally:
        chain.close()
    assert code == 2, err
    assert f"COOP_REGISTRAR_KEY is the key of {keys.certifier.address}, which does not hold REGISTRAR_ROLE" in err
    assert f"COOP_CERTIFIER_KEY is the key of {keys.registrar.address}, which does not hold CERTIFIER_ROLE" in err
    assert "COOP_TREASURER_KEY" not in err and "Traceback" not in err and not out
