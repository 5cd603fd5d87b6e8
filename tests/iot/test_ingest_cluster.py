"""Two `coop ingest` processes split one stream through an MQTT 5 shared subscription, over TLS with a
password, on a broker bridged to the one the boards publish to: each reading stored exactly once, each
process storing some, and none lost when one of them is killed mid-stream."""
import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from bot.cli import main
from bot.settings import Settings, SettingsError
from iot.broker import BrokerURLError, MqttURL
from iot.ingest import Ingestor
from iot.store import Reading
from tests.iot.conftest import register, until
from tests.iot.test_ingest_broker import _self_signed

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr:t pass"  # a ':' and a space: both must survive the URL
STORED = re.compile(r"coop ingest (\w+): stored (\d+) telemetry messages \((\d+) already stored\)")


class Ingest:
    """`coop ingest --name NAME` in a process of its own; its output read on a thread."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name, self.lines = name, []
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", "--name", name], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    async def subscribed(self) -> None:
        await until(lambda: "coop ingest: subscribed to $share/coop/coop/+/+/telemetry" in self.output()
                    or self.process.poll() is not None, timeout=60, what=f"ingest {self.name} subscribing")
        assert self.process.poll() is None, self.output()

    def stop(self) -> tuple[int, int]:
        """SIGTERM; (new messages stored, duplicates) from its last line."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(30) == 0, self.output()
        time.sleep(0.1)  # the reading thread takes the last line
        found = STORED.search(self.output())
        assert found, self.output()
        return int(found[2]), int(found[3])

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def bridged(private_broker, mqtt_url: str, site: str, tmp_path: Path) -> str:
    """A second broker (Mosquitto, TLS, passwords and an ACL) bridging this test's site in from the broker the
    boards publish to; returns the URL `coop ingest` uses for it."""
    cert, key = _self_signed(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "ingest", PASSWORD], check=True)
    acl = tmp_path / "acl"  # docs/sensors.md's: the shared subscription needs no line of its own
    acl.write_text(f"user ingest\ntopic read coop/+/+/telemetry\ntopic read coop/{site}/probe\n")
    first = MqttURL.parse(mqtt_url)
    private_broker.configure(f"certfile {cert}", f"keyfile {key}", f"password_file {passwords}",
                             f"acl_file {acl}", "allow_anonymous false",
                             f"connection coop-{site}", f"address {first.host}:{first.port}",
                             # cleansession true: no session of ours is left behind on the shared broker
                             f"topic coop/{site}/# in 1", "cleansession true", "try_private false")
    private_broker.start()
    url = f"mqtts://ingest:{quote(PASSWORD, safe='')}@127.0.0.1:{private_broker.port}?ca={cert}"
    _wait_for_the_bridge(mqtt_url, url, site)
    return url


def _wait_for_the_bridge(first: str, second: str, site: str) -> None:
    """A probe published to the first broker until the second one hands it on (the bridge has subscribed)."""
    arrived = threading.Event()
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_connect = lambda client, *_: client.subscribe(f"coop/{site}/probe", 1)
    listener.on_message = lambda *_: arrived.set()
    MqttURL.parse(second).connect(listener)
    listener.loop_start()
    prober = mqtt.Client(CallbackAPIVersion.VERSION2)
    MqttURL.parse(first).connect(prober)
    prober.loop_start()
    try:
        deadline = time.monotonic() + 20
        while not arrived.wait(0.3):
            assert time.monotonic() < deadline, "the bridge never carried a message"
            prober.publish(f"coop/{site}/probe", b"?", qos=1)
    finally:
        for client in (listener, prober):
            client.disconnect()
            client.loop_stop()


@pytest.fixture
def ingest_env(bridged: str, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COOP_")}
    return {**env, "COOP_MQTT_URL": bridged, "COOP_DATABASE_URL": database_url,
            "COOP_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}


async def readings(sessions, site: str) -> tuple[int, set[int]]:
    """How many reading rows `site` has, and the distinct message seqs among them."""
    async with sessions() as session:
        count = await session.scalar(select(func.count()).where(Reading.site == site))
        seqs = set(await session.scalars(select(Reading.seq).where(Reading.site == site).distinct()))
    return count, seqs


N = 200


async def test_two_ingest_processes_split_the_stream_each_reading_stored_once(sessions, site, boards, ingest_env):
    await register(sessions, site, "dev1")
    first, second = Ingest(f"a{site}", ingest_env), Ingest(f"b{site}", ingest_env)
    try:
        await first.subscribed()
        await second.subscribed()
        board = boards("dev1")
        for seq in range(1, N + 1):
            board.reading(seq)
        board.wait_sent()
        await _all_stored(sessions, site)
    finally:
        stored_a, _ = first.stop()
        stored_b, _ = second.stop()
    assert stored_a + stored_b == N  # each message went to one of them
    assert stored_a > 0 and stored_b > 0  # and the broker split them
    assert await readings(sessions, site) == (2 * N, set(range(1, N + 1)))  # two keys per message, none twice
    assert "s3cr" not in first.output() + second.output()  # the password is never logged


async def test_a_process_killed_mid_stream_loses_nothing_and_doubles_nothing(sessions, site, boards, ingest_env):
    await register(sessions, site, "dev1")
    first, second = Ingest(f"a{site}", ingest_env), Ingest(f"b{site}", ingest_env)
    try:
        await first.subscribed()
        await second.subscribed()
        board = boards("dev1")
        for seq in range(1, N // 2 + 1):
            board.reading(seq)
        first.kill()  # mid-stream: what it had not acknowledged is the broker's again
        for seq in range(N // 2 + 1, N + 1):
            board.reading(seq)
        board.wait_sent()
        first = Ingest(first.name, ingest_env)  # the same name: the same session, and what waited in it
        await first.subscribed()
        await _all_stored(sessions, site)
    finally:
        first.stop()
        second.stop()
    assert await readings(sessions, site) == (2 * N, set(range(1, N + 1)))


async def _all_stored(sessions, site: str) -> None:
    deadline = time.monotonic() + 60
    while (await readings(sessions, site))[0] < 2 * N:
        assert time.monotonic() < deadline, f"stored {await readings(sessions, site)}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("group, taken", [(None, "coop"), ("", "coop"), ("greenhouse-2", "greenhouse-2")])
def test_the_share_group_is_a_setting(tmp_path, group, taken):
    env = {} if group is None else {"COOP_MQTT_SHARE_GROUP": group}
    assert Settings.from_env(env, data_dir=tmp_path).mqtt_share_group == taken


@pytest.mark.parametrize("group", ["a/b", "#", "co+op", "x" * 65])
def test_a_share_group_that_is_no_topic_level_is_refused(tmp_path, group):
    with pytest.raises(SettingsError, match="COOP_MQTT_SHARE_GROUP"):
        Settings.from_env({"COOP_MQTT_SHARE_GROUP": group}, data_dir=tmp_path)


@pytest.mark.parametrize("url, said", [
    (None, "coop ingest: set COOP_MQTT_URL to the broker (the embedded broker lives inside `coop run` and has no "
           "shared subscriptions)"),
    ("mqtt://127.0.0.1:1883?protocol=3.1.1",
     "coop ingest: COOP_MQTT_URL: shared subscriptions need MQTT 5: remove protocol=3.1.1"),
])
def test_coop_ingest_refuses_a_broker_without_shared_subscriptions(tmp_path, monkeypatch, capsys, url, said):
    monkeypatch.delenv("COOP_MQTT_URL", raising=False)
    if url:
        monkeypatch.setenv("COOP_MQTT_URL", url)
    assert main(["ingest", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == said


def test_a_shared_ingestor_needs_mqtt_5_and_takes_telemetry_only():
    with pytest.raises(BrokerURLError, match="MQTT 5"):
        Ingestor(None, "mqtt://127.0.0.1:1883?protocol=3.1.1", share_group="coop")
    assert Ingestor(None, "mqtt://127.0.0.1:1883", share_group="coop").topics == [
        ("$share/coop/coop/+/+/telemetry", 1)]  # statuses are retained: a shared subscription never gets them
    assert Ingestor(None, "mqtt://127.0.0.1:1883").topics == [("coop/+/+/telemetry", 1), ("coop/+/+/status", 1)]
