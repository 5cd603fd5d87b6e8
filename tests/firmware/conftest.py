"""Firmware tests: the MicroPython source on CPython through firmware/shims, against real brokers.

Time is a FakeClock (utime's interface) so a run of many cycles takes no wall time; MQTT is real.
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from firmware.host import use_shims

use_shims()  # before any test module imports the firmware: `machine`, `umqtt` are the host shims

import node  # noqa: E402  (the firmware's own modules, found through the paths above)
import settings  # noqa: E402

BROKER = ("127.0.0.1", 1883)
CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    """utime's interface on a virtual clock: sleep_ms advances it at once; time() follows it from now."""

    PERIOD = 1 << 30

    def __init__(self):
        self.ms = 5000
        self._epoch = int(time.time())
        self.slept_ms = 0

    def ticks_ms(self):
        return self.ms % self.PERIOD

    def ticks_add(self, ticks, delta):
        return (ticks + delta) % self.PERIOD

    def ticks_diff(self, a, b):
        return ((a - b + self.PERIOD // 2) % self.PERIOD) - self.PERIOD // 2

    def sleep_ms(self, ms):
        self.ms += ms
        self.slept_ms += ms

    gmtime = staticmethod(time.gmtime)

    def time(self):
        return self._epoch + self.ms // 1000


def listening(host, port):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def broker():
    """The real Mosquitto on 127.0.0.1:1883: required under CI=true, else a skip that says why."""
    if not listening(*BROKER):
        message = "no MQTT broker listening on 127.0.0.1:1883 (start mosquitto to run this test)"
        if CI:
            pytest.fail("CI=true: " + message)
        pytest.skip(message)
    return BROKER


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateBroker:
    """A broker process of our own on a free port that a test may stop and start again (the shared one
    must stay up): `mosquitto -p PORT`, or the backend's amqtt broker (`python -m iot.broker PORT`)."""

    def __init__(self, kind, binary):
        self.kind = kind
        self.port = free_port()
        self.command = [binary, "-p", str(self.port)] if kind == "mosquitto" else [
            sys.executable, "-m", "iot.broker", str(self.port)]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not listening("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start listening" % " ".join(self.command))
            time.sleep(0.02)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()  # no goodbye to clients: they see the connection drop
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


@pytest.fixture
def private_broker():
    """A broker on a free port that the test can stop mid-run: mosquitto if installed, else amqtt
    (COOP_TEST_PRIVATE_BROKER=amqtt picks amqtt anyway)."""
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)
    if binary and os.environ.get("COOP_TEST_PRIVATE_BROKER") != "amqtt":  # amqtt: try the fallback here
        b = PrivateBroker("mosquitto", binary)
    else:
        try:
            import amqtt.broker  # noqa: F401
        except ImportError:
            message = "neither a mosquitto binary nor amqtt is installed: no broker to stop and restart"
            if CI:
                pytest.fail("CI=true: " + message)
            pytest.skip(message)
        b = PrivateBroker("amqtt", sys.executable)
    b.start()
    yield b
    b.stop()


class Subscriber:
    """A paho client that records every message under `coop/<site>/#`; it resubscribes after a reconnect."""

    def __init__(self, port, topic, configure=None):
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages = []
        self.subscribed = threading.Event()
        self._topic = topic
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="fw-test-" + uuid.uuid4().hex[:8])
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_disconnect = lambda *a: self.subscribed.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
        if configure is not None:  # credentials, TLS
            configure(self.client)
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(5), "test subscriber did not subscribe"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe(self._topic, qos=1)

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append(message)

    def on(self, suffix):
        with self._lock:
            return [m for m in self.messages if m.topic.endswith("/" + suffix)]

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def site():
    """A site name of the test's own, so runs and other people's tests on the shared broker never mix."""
    return "fwtest-" + uuid.uuid4().hex[:8]


def make_node(site, port, clock=None, **overrides):
    raw = {"mqtt": {"host": "127.0.0.1", "port": port}, "site": site, "device": "esp32-a1",
           "interval_s": 10, "wdt_s": 60, "ntp_host": "127.0.0.1"}
    raw.update(overrides)
    return node.Node(settings.parse(raw), clock=clock or FakeClock())


def clear_retained(port, site, device="esp32-a1"):
    import paho.mqtt.publish as publish

    publish.single("coop/%s/%s/status" % (site, device), b"", retain=True, hostname="127.0.0.1", port=port)
