"""Simulated boards: a hydroponics room's daily rhythm over MQTT (docs/interfaces.md §5), and its faults.

    python -m iot.simulator --url mqtt://127.0.0.1:1883 --site hq --devices 3 --rate 1 --duration 600 \\
        --fault heat-spike:1@60+300 --fault stuck:2@120 --fault malformed:0@30 --fault offline:2@400

Each board connects as the firmware does (last will `offline`, retained `online`), then publishes a
telemetry message per 1/RATE seconds. Faults are KIND[:DEVICE]@START[+SECONDS] (seconds from the
start; DEVICE counts from 0): heat-spike (the air warms ~9 °C, then recovers), stuck (every value
frozen), malformed (a burst of bad payloads), offline (the board vanishes without a clean close, so
the broker publishes its will). Only the standard library is imported until a simulation runs.

The assistant hears registered boards only: `--register` registers sim-0 … in its database first
(`--database-url`; `coop simulate` registers by itself when it uses the embedded broker of a data dir).
"""
import argparse
import json
import math
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

KINDS = {"heat-spike": 300.0, "stuck": 600.0, "malformed": 0.0, "offline": 0.0}  # default seconds each lasts
HEAT = 9.0  # °C a heat spike adds at its height
MALFORMED_BURST = 50
MALFORMED = [
    b"{\"v\": 1, \"seq\": ",  # cut short
    b"not json at all",
    b"{\"v\": 1, \"seq\": \"12\", \"readings\": {\"temp_c\": 22.0}}",
    b"{\"v\": 1, \"seq\": 12, \"readings\": {\"temp_c\": \"hot\"}}",
    b"{\"v\": 1, \"seq\": 12, \"readings\": {\"water_temp_c\": -127.0}}",  # a DS18B20 unplugged
    b"{\"v\": 9, \"seq\": 12, \"readings\": {}}",
    b"{\"v\": 1, \"seq\": 12, \"readings\": {\"temp_c\": 22.0}, \"pad\": \"" + b"x" * 5000 + b"\"}",  # too large
]


@dataclass(frozen=True)
class Fault:
    kind: str
    device: int
    start: float
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """KIND[:DEVICE]@START[+SECONDS], e.g. heat-spike:1@60+300."""
        try:
            head, when = text.split("@")
            kind, _, device = head.partition(":")
            start, _, seconds = when.partition("+")
            if kind not in KINDS:
                raise ValueError(f"unknown fault {kind!r} (one of {', '.join(KINDS)})")
            return cls(kind, int(device or 0), float(start), float(seconds) if seconds else KINDS[kind])
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{text!r}: {e}; expected KIND[:DEVICE]@START[+SECONDS]") from None

    def active(self, device: int, elapsed: float) -> bool:
        """For the faults that last: is it on now?"""
        return device == self.device and self.start <= elapsed < self.start + self.seconds

    def due(self, device: int, elapsed: float) -> bool:
        """For the faults that happen once: is it time?"""
        return device == self.device and elapsed >= self.start


def room(hour: float, device: int, rng: random.Random) -> dict[str, float]:
    """One board's readings at local `hour` (0–24): grow lights on 06:00–22:00 warm and dry the air
    (warmest mid-afternoon), the reservoir follows slowly, plants drink the water level down, and
    nutrients drift. Each board sits a little apart from the others."""
    day = math.sin(2 * math.pi * (hour - 9) / 24)  # -1 at 03:00, +1 at 15:00
    lights = 6 <= hour < 22
    return {
        "temp_c": round(22.0 + 2.5 * day + 0.4 * device + rng.gauss(0, 0.15), 2),
        "rh_pct": round(62.0 - 7.0 * day - device + rng.gauss(0, 0.8), 1),
        "water_temp_c": round(20.5 + 1.0 * math.sin(2 * math.pi * (hour - 11) / 24) + rng.gauss(0, 0.05), 2),
        "ph": round(6.0 + 0.15 * math.sin(2 * math.pi * hour / 12) + rng.gauss(0, 0.02), 2),
        "ec_ms_cm": round(1.8 - 0.1 * hour / 24 + rng.gauss(0, 0.02), 2),
        "water_level_pct": round(90.0 - 25.0 * hour / 24 + rng.gauss(0, 0.3), 1),  # topped up at midnight
        "lux": round(max(0.0, (18000.0 if lights else 0.0) + rng.gauss(0, 300 if lights else 2)), 0),
    }


class SimulatedBoard:
    """One board's MQTT client: last will `offline`, retained `online` once connected."""

    def __init__(self, url: str, site: str, name: str):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from iot.broker import MqttURL

        self.name, self.prefix = name, f"coop/{site}/{name}"
        self.boot, self.seq, self.frozen, self.gone = f"{random.getrandbits(32):08x}", 0, None, False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{site}-{name}")
        self.client.will_set(f"{self.prefix}/status", b"offline", qos=1, retain=True)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        MqttURL.parse(url).connect(self.client, keepalive=15)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.publish(f"{self.prefix}/status", b"online", qos=1, retain=True)
            self.connected.set()

    def publish(self, readings: dict[str, float], ts: float) -> None:
        message = {"v": 1, "seq": self.seq, "boot": self.boot, "ts": int(ts), "readings": readings}
        self.client.publish(f"{self.prefix}/telemetry", json.dumps(message), qos=1)
        self.seq += 1

    def publish_raw(self, payload: bytes) -> None:
        self.client.publish(f"{self.prefix}/telemetry", payload, qos=1)

    def drop(self) -> None:
        """Vanishes without DISCONNECT (power cut, Wi-Fi gone): the broker publishes the will. On a thread:
        stopping paho's loop waits up to a second, and the other boards go on meanwhile."""
        def vanish() -> None:
            self.client.loop_stop()
            if (sock := self.client.socket()) is not None:
                sock.close()

        self.gone = True
        threading.Thread(target=vanish, daemon=True).start()

    def close(self) -> None:
        """Switched off cleanly: says `offline` itself (a clean close discards the will)."""
        if not self.gone:
            self.client.publish(f"{self.prefix}/status", b"offline", qos=1, retain=True).wait_for_publish(5)
            self.client.disconnect()
            self.client.loop_stop()


def simulate(url: str, *, site: str = "hq", devices: int = 3, rate: float = 1.0, duration: float = 60.0,
             faults: tuple[Fault, ...] = (), speed: float = 1.0, seed: int | None = None,
             clock: Callable[[], float] = time.time, log: Callable[[str], None] = lambda line: None) -> dict[str, int]:
    """Runs the boards for `duration` seconds; `speed` runs the room's day that many times faster
    (timestamps stay real). Returns how many telemetry and malformed messages were published."""
    rng = random.Random(seed)
    boards = [SimulatedBoard(url, site, f"sim-{i}") for i in range(devices)]
    for board in boards:
        if not board.connected.wait(10):
            raise ConnectionError(f"no MQTT broker answers at the URL given (board {board.name})")
    started, counts, done = clock(), {"telemetry": 0, "malformed": 0}, set()
    local = time.localtime(started)
    hour0 = local.tm_hour + local.tm_min / 60 + local.tm_sec / 3600
    tick = 0
    try:
        while (elapsed := clock() - started) < duration:
            hour = (hour0 + elapsed * speed / 3600) % 24
            for i, board in enumerate(boards):
                for fault in faults:
                    if fault.kind in ("malformed", "offline") and fault.due(i, elapsed) and fault not in done:
                        done.add(fault)
                        log(f"{board.name}: {fault.kind} at {elapsed:.1f}s")
                        if fault.kind == "offline":
                            board.drop()
                        else:
                            for n in range(MALFORMED_BURST):
                                board.publish_raw(MALFORMED[n % len(MALFORMED)])
                            counts["malformed"] += MALFORMED_BURST
                if board.gone:
                    continue
                readings = room(hour, i, rng)
                for fault in faults:
                    if fault.active(i, elapsed) and fault.kind == "heat-spike":  # ramps up, holds, ramps down
                        ramp = min(60.0, fault.seconds / 4)
                        rise = min(1.0, (elapsed - fault.start) / ramp, (fault.start + fault.seconds - elapsed) / ramp)
                        readings["temp_c"] = round(readings["temp_c"] + HEAT * rise, 2)
                stuck = any(f.active(i, elapsed) and f.kind == "stuck" for f in faults)
                board.frozen = (board.frozen or readings) if stuck else None
                board.publish(board.frozen or readings, clock())
                counts["telemetry"] += 1
            tick += 1
            time.sleep(max(0.0, started + tick / rate - clock()))
    finally:
        for board in boards:
            board.close()
    return counts


def register_boards(database_url: str, site: str, devices: int) -> list[str]:
    """Registers the simulated boards in the assistant's database (migrated first: it may not have run yet),
    as an admin's /device add does; returns the names."""
    import asyncio
    from datetime import UTC, datetime

    from chain.db import create_engine, sessionmaker
    from iot.store import migrate, register_device

    names = [f"sim-{i}" for i in range(devices)]

    async def register() -> None:
        engine = create_engine(database_url)
        try:
            for name in names:
                await register_device(sessionmaker(engine), site, name, "simulator", datetime.now(UTC).replace(tzinfo=None))
        finally:
            await engine.dispose()

    migrate(database_url)
    asyncio.run(register())
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883", help="the broker (mqtt://user:pass@host:port)")
    parser.add_argument("--site", default="hq", help="the site in the topics (coop/SITE/DEVICE/...)")
    parser.add_argument("--devices", type=int, default=3, help="how many boards (named sim-0, sim-1, ...)")
    parser.add_argument("--rate", type=float, default=1.0, help="telemetry messages per second per board")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--speed", type=float, default=1.0, help="run the room's day this many times faster")
    parser.add_argument("--seed", type=int, help="for the same readings every run")
    parser.add_argument("--fault", type=Fault.parse, action="append", default=[], metavar="KIND[:DEVICE]@START[+SECONDS]",
                        help=f"inject a fault: {', '.join(KINDS)} (repeatable)")
    parser.add_argument("--register", action="store_true",
                        help="register the boards in the assistant's database first (only registered boards are heard)")
    parser.add_argument("--database-url", help="the assistant's database, for --register (coop simulate: its own)")


def run(args: argparse.Namespace) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.register:
        if not args.database_url:
            log("simulate: --register needs --database-url (the assistant's COOP_DATABASE_URL)")
            return 2
        try:
            names = register_boards(args.database_url, args.site, args.devices)
        except Exception as e:  # the database is away or not the assistant's: say so, not a traceback
            log(f"simulate: could not register the boards in the database: {type(e).__name__}: {str(e)[:200]}")
            return 1
        log(f"registered {', '.join(names)} at site {args.site}")
    else:
        log(f"the boards are not registered, so the assistant drops their readings unless an admin sent "
            f"/device add {args.site} sim-0 (and so on) or this runs with --register")
    try:
        counts = simulate(args.url, site=args.site, devices=args.devices, rate=args.rate, duration=args.duration,
                          faults=tuple(args.fault), speed=args.speed, seed=args.seed, log=log)
    except (ConnectionError, ValueError) as e:
        log(f"simulate: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    log(f"published {counts['telemetry']} telemetry and {counts['malformed']} malformed messages "
        f"from {args.devices} boards")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m iot.simulator", description=__doc__.split("\n")[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
