"""Sensor ingestion throughput: iot.ingest.

Both consumers take the same stream of QoS 1 telemetry on the same broker in the same run: the anchor
is a bare paho-mqtt subscriber that only counts messages (acknowledged by paho as they arrive); ours
is the Ingestor, validating each message and storing it in SQLite before acknowledging it. Each runs
alone, with the same MQTT 5 session settings (persistent, a receive window of 10,000).

The publisher writes pre-encoded PUBLISH packets on a raw socket, so it costs next to nothing and
never limits the consumer, and it stays at most WINDOW messages ahead of what the consumer has taken
(Mosquitto drops QoS 1 messages past a client's window plus 1,000 queued). The broker is Mosquitto at
127.0.0.1:1883 when it answers, else the embedded one in a process of its own.
"""
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

MESSAGES = 30_000
CHUNK = 2_000
WINDOW = 8_000  # messages the publisher may be ahead of the consumer
DEVICES = 10


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + _varint(len(body)) + body


def _telemetry_packets(count: int) -> list[bytes]:
    now = int(time.time())
    packets = []
    for i in range(count):
        device = f"bench-{i % DEVICES}"
        payload = json.dumps({"v": 1, "seq": i // DEVICES, "boot": "b1", "ts": now,
                              "readings": {"temp_c": 20 + (i % 70) / 10, "rh_pct": 55 + (i % 20) / 2}}).encode()
        packets.append(_packet(0x32, _string(f"coop/bench/{device}/telemetry") + (i % 65535 + 1).to_bytes(2, "big")
                               + payload))
    return packets


class RawPublisher:
    """An MQTT 3.1.1 client that only publishes pre-encoded QoS 1 packets and discards the PUBACKs."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(_packet(0x10, _string("MQTT") + bytes([4, 0x02, 0, 60]) + _string("bench-publisher")))
        if self.sock.recv(4)[:1] != b"\x20":
            raise RuntimeError("the broker refused the publisher")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass

    def send(self, packets: list[bytes]) -> None:
        self.sock.sendall(b"".join(packets))

    def close(self) -> None:
        self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


async def _pump(host: str, port: int, packets: list[bytes], taken: Callable[[], int]) -> float:
    """Publishes every packet, staying at most WINDOW ahead of `taken()`; returns the seconds until
    the consumer has taken them all."""
    publisher = RawPublisher(host, port)
    started = time.perf_counter()
    for start in range(0, len(packets), CHUNK):
        while start - taken() > WINDOW:
            await asyncio.sleep(0.002)
        await asyncio.to_thread(publisher.send, packets[start:start + CHUNK])
    while taken() < len(packets):
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    publisher.close()
    return elapsed


async def _anchor(url: str, packets: list[bytes]) -> float:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from iot.broker import MqttURL

    parsed = MqttURL.parse(url)
    v5 = parsed.protocol == mqtt.MQTTv5
    count = 0
    subscribed = threading.Event()

    def on_message(client, userdata, message) -> None:
        nonlocal count
        count += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-anchor", protocol=parsed.protocol,
                         clean_session=None if v5 else True)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("coop/+/+/telemetry", 1)
    client.on_subscribe = lambda *_: subscribed.set()
    options = {}
    if v5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval, properties.ReceiveMaximum = 0, 10_000
        options = {"clean_start": True, "properties": properties}
    parsed.connect(client, **options)
    client.loop_start()
    await asyncio.to_thread(subscribed.wait, 10)
    elapsed = await _pump(parsed.host, parsed.port, packets, lambda: count)
    client.disconnect()
    client.loop_stop()
    return elapsed


async def _ours(url: str, packets: list[bytes], data: Path) -> float:
    from chain.db import create_engine, sessionmaker
    from iot.broker import MqttURL
    from iot.ingest import Ingestor
    from iot.store import migrate, register_device

    database = f"sqlite+aiosqlite:///{data / 'bench.db'}"
    migrate(database)
    engine = create_engine(database)
    for i in range(DEVICES):  # only registered boards are heard
        await register_device(sessionmaker(engine), "bench", f"bench-{i}", "bench", datetime.now(UTC).replace(tzinfo=None))
    ingestor = Ingestor(sessionmaker(engine), url, client_id="bench-ingest")
    await ingestor.start()
    await asyncio.wait_for(ingestor.subscribed.wait(), 10)
    parsed = MqttURL.parse(url)
    elapsed = await _pump(parsed.host, parsed.port, packets, lambda: ingestor.stats.stored)
    await ingestor.stop(end_session=True)
    await engine.dispose()
    return elapsed


def _broker() -> tuple[str, subprocess.Popen | None]:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return "mqtt://127.0.0.1:1883", None
    except OSError:
        process = subprocess.Popen([sys.executable, "-m", "iot.broker", "0"], stdout=subprocess.PIPE, text=True)
        return process.stdout.readline().strip(), process


def run() -> Iterator[str]:
    url, process = _broker()
    packets = _telemetry_packets(MESSAGES)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            anchor = MESSAGES / asyncio.run(_anchor(url, packets))
            ours = MESSAGES / asyncio.run(_ours(url, packets, Path(tmp)))
    finally:
        if process is not None:
            process.terminate()
            process.wait()
    yield f"iot.ingest: ratio {ours / anchor:.2f} (ours {ours:,.0f} msgs/s vs anchor {anchor:,.0f} msgs/s) goal >= 0.5"
    yield f"iot.ingest.absolute: {ours:,.0f} msgs/s (absolute) goal >= 2,000"


if __name__ == "__main__":
    for line in run():
        print(line)
