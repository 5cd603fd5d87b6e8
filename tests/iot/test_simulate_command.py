"""`coop simulate` as a person runs it: it says where it publishes, warns while no broker answers, follows the
console's embedded broker when a restarted console moves it, and ends with how many readings it published."""
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from iot.broker import MqttURL
from tests.iot.conftest import BrokerThread, clear_retained

ROOT = Path(__file__).resolve().parents[2]


class Simulate:
    """`coop simulate …` in a subprocess; its stderr read line by line."""

    def __init__(self, *args: str):
        env = {k: v for k, v in os.environ.items() if k not in ("COOP_MQTT_URL", "COOP_DATABASE_URL", "COOP_DATA_DIR")}
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "simulate", *args], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.said: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, starts: str, timeout: float = 60) -> str:
        """The next line starting with `starts` (earlier ones are kept in `said`)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.said.append(line)
            if line.startswith(starts):
                return line
        raise AssertionError(f"no line starting {starts!r}; said: {self.said}")

    def end(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


class Listener:
    """Counts the telemetry messages a broker receives for a site."""

    def __init__(self, url: str, site: str):
        self.count, self.subscribed = 0, threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *_: client.subscribe(f"coop/{site}/+/telemetry", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda *_: setattr(self, "count", self.count + 1)
        MqttURL.parse(url).connect(self.client)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def simulations():
    made: list[Simulate] = []
    yield lambda *args: made.append(Simulate(*args)) or made[-1]
    for simulation in made:
        simulation.kill()


def test_it_says_where_it_publishes_and_how_many_readings_it_published(mqtt_url, site, tmp_path, simulations):
    listener = Listener(mqtt_url, site)
    try:
        run = simulations("--url", mqtt_url, "--site", site, "--devices", "2", "--rate", "5", "--duration", "1",
                          "--data-dir", str(tmp_path))
        assert run.line("simulate: publishing") == (
            f"simulate: publishing to {MqttURL.parse(mqtt_url)} on coop/{site}/sim-0/telemetry … "
            f"coop/{site}/sim-1/telemetry (and each board's /status)")
        published = int(run.line("simulate: published ").split()[2])
        assert run.end() == 0
        assert run.said[-1] == f"simulate: published {published} readings from 2 boards"
        assert published >= 6
        deadline = time.monotonic() + 10
        while listener.count < published and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener.count == published
        assert not any("cannot connect" in line for line in run.said)
    finally:
        listener.close()
        clear_retained(mqtt_url, [f"coop/{site}/sim-{i}/status" for i in range(2)])


def test_without_a_broker_it_warns_keeps_trying_and_says_nothing_was_published(tmp_path, simulations):
    port = free_port()  # nobody listens there
    run = simulations("--url", f"mqtt://127.0.0.1:{port}", "--devices", "1", "--rate", "2", "--duration", "2",
                      "--data-dir", str(tmp_path))
    assert run.line("simulate: cannot connect") == (
        f"simulate: cannot connect to the MQTT broker at mqtt://127.0.0.1:{port}; trying again, and skipping "
        "readings until it answers")
    last = run.line("simulate: published ")
    assert last.startswith("simulate: published 0 readings from 1 board; ") and last.endswith(
        " skipped while no broker answered")
    assert run.end() == 1


def test_it_follows_the_consoles_embedded_broker_to_its_new_url(tmp_path, site, simulations):
    """The console restarted: its embedded broker is gone and a new one listens elsewhere, its URL in the file."""
    data = tmp_path / "data"
    data.mkdir()
    first, second = BrokerThread(), BrokerThread()
    first_url = first.start()
    (data / "mqtt.url").write_text(first_url + "\n")
    run = simulations("--data-dir", str(data), "--site", site, "--devices", "2", "--rate", "5", "--duration", "120")
    listener, running = None, [first]
    try:
        assert run.line("simulate: publishing").startswith(f"simulate: publishing to {MqttURL.parse(first_url)} on ")
        time.sleep(1)
        running.remove(first)
        first.stop()
        assert run.line("simulate: cannot connect", timeout=20) == (
            f"simulate: cannot connect to the MQTT broker at {MqttURL.parse(first_url)} (is `coop console` still "
            "running?); trying again, and skipping readings until it answers")

        second_url = second.start()
        running.append(second)
        listener = Listener(second_url, site)
        (data / "mqtt.url").write_text(second_url + "\n")
        assert run.line("simulate: the embedded broker moved", timeout=20) == (
            f"simulate: the embedded broker moved to {MqttURL.parse(second_url)} (the console restarted); "
            "following it")
        assert run.line("simulate: connected", timeout=20) == (
            f"simulate: connected to {MqttURL.parse(second_url)}; publishing again")
        deadline = time.monotonic() + 20
        while listener.count < 10:
            assert time.monotonic() < deadline, "no readings reached the new broker"
            time.sleep(0.05)

        run.process.send_signal(signal.SIGINT)  # Ctrl-C
        last = run.line("simulate: published ")
        assert last.endswith("skipped while no broker answered (stopped with Ctrl-C)")
        assert int(last.split()[2]) >= 10
        assert run.end() == 130
    finally:
        if listener is not None:
            listener.close()
        for broker in running:
            broker.stop()
