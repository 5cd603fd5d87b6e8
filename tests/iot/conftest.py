"""Fixtures for the sensors: an MQTT broker, a migrated database on SQLite and PostgreSQL, and a
publisher that talks to the broker as a board does.

The broker is Mosquitto at 127.0.0.1:1883 (the CI machine's). Under CI=true it must answer: a missing
broker fails the tests. Elsewhere, without it, they fall back to the embedded broker (amqtt) and say so.
"""
import asyncio
import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from chain.db import create_engine, sessionmaker
from iot.broker import EmbeddedBroker, MqttURL
from iot.store import migrate, register_device
from tests.chain.conftest import migrated_database

MOSQUITTO = ("127.0.0.1", 1883)


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class BrokerThread:
    """The embedded broker on an event loop of its own thread, so it outlives any test's loop."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.broker = EmbeddedBroker()

    def start(self) -> str:
        return asyncio.run_coroutine_threadsafe(self.broker.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.stop(), self.loop).result(10)


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    if answers(*MOSQUITTO):
        yield "mqtt://127.0.0.1:1883"
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Mosquitto is required under CI=true and does not answer at 127.0.0.1:1883")
    print("\ntests/iot: no MQTT broker at 127.0.0.1:1883; using the embedded broker (amqtt) instead")
    broker = BrokerThread()
    yield broker.start()
    broker.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database with the iot_ tables migrated, on each engine."""
    yield from migrated_database(request.param, tmp_path, migrate)


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    yield sessionmaker(engine)
    await engine.dispose()


async def register(sessions, site: str, *devices: str) -> None:
    """Registers boards, as an admin's /device add does: only registered boards are heard."""
    for device in devices:
        await register_device(sessions, site, device, "test", datetime.now(UTC).replace(tzinfo=None))


@pytest.fixture
def site() -> str:
    """A site name of this test's own: tests share the broker, and a persistent session of another
    test must never see this one's messages as its own."""
    return f"t{uuid.uuid4().hex[:10]}"


class Board:
    """Publishes as a board does (MQTT 3.1.1, QoS 1, last will `offline`), through paho's own queue:
    messages published while the broker is away are sent when it is back."""

    def __init__(self, url: str, site: str, device: str, *, will: bool = True):
        parsed = MqttURL.parse(url)
        self.site, self.device = site, device
        # A clean session, as umqtt has: paho still resends unacknowledged QoS 1 messages after a reconnect.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{site}-{device}")
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)  # int in paho's hints; floats work
        self.connected = threading.Event()
        self.client.on_connect = lambda *_: self.connected.set()
        self.client.on_disconnect = lambda *_: self.connected.clear()
        if will:
            self.client.will_set(self.topic("status"), b"offline", qos=1, retain=True)
        parsed.connect(self.client, keepalive=5)
        self.client.loop_start()
        assert self.connected.wait(10), f"the board could not connect to {url}"

    def topic(self, kind: str) -> str:
        return f"coop/{self.site}/{self.device}/{kind}"

    def publish(self, payload: bytes | str | dict, kind: str = "telemetry", retain: bool = False):
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return self.client.publish(self.topic(kind), payload, qos=1, retain=retain)

    def reading(self, seq: int, boot: str = "b1", ts: float | None = None, **readings: float):
        return self.publish({"v": 1, "seq": seq, "boot": boot, "ts": int(time.time()) if ts is None else ts,
                             "readings": readings or {"temp_c": 21.5, "rh_pct": 60.0}})

    def wait_sent(self, timeout: float = 15) -> None:
        """Until every QoS 1 message was acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while self.client._out_messages and time.monotonic() < deadline:  # paho has no public "all sent"
            time.sleep(0.02)
        assert not self.client._out_messages, "the broker did not acknowledge every message"

    def drop(self) -> None:
        """Goes away without a clean close (power cut, Wi-Fi lost): the broker publishes the last will."""
        self.client.loop_stop()
        self.client.socket().close()

    def close(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()


def clear_retained(url: str, topics: list[str]) -> None:
    """Empties retained topics: the shared broker keeps them across runs."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    MqttURL.parse(url).connect(client)
    client.loop_start()
    connected.wait(10)
    for topic in topics:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def boards(mqtt_url: str, site: str):
    """Board(device) publishing to `mqtt_url` under this test's site; closed after the test."""
    made: list[tuple[Board, str]] = []

    def make(device: str = "dev1", url: str = mqtt_url, **kwargs) -> Board:
        made.append((Board(url, site, device, **kwargs), url))
        return made[-1][0]

    yield make
    for board, _ in made:
        board.close()
    clear_retained(mqtt_url, [board.topic("status") for board, url in made if url == mqtt_url])


async def until(condition, timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class PrivateBroker:
    """Mosquitto of the test's own on a free port, with persistence, which the test may stop and start.
    (The embedded broker cannot stand in: it keeps sessions in memory, so a restart loses them.)"""

    def __init__(self, binary: str, directory: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.binary, self.directory = binary, directory
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.configure("allow_anonymous true")

    def configure(self, *lines: str) -> None:
        """Writes the configuration (read at the next start): the listener, persistence, and `lines`."""
        self.config = self.directory / "mosquitto.conf"
        # `user`: as root, mosquitto would otherwise switch to its own user and fail to save in our folder.
        self.config.write_text("\n".join([f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                                          "persistence true", f"persistence_location {self.directory}/",
                                          "max_queued_messages 100000", *lines, ""]))
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen([self.binary, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # mosquitto saves its sessions on the way out
            self._process.wait(10)
            self._process = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """Not started: call start() (after configure(), if the test needs more than anonymous access)."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the mosquitto binary is required under CI=true (Debian's mosquitto package)")
        pytest.skip("no mosquitto binary to run a broker of the test's own")
    broker = PrivateBroker(binary, tmp_path)
    yield broker
    broker.stop()
