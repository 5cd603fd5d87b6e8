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

It says where it publishes, warns while no broker answers (and keeps trying; readings are skipped
meanwhile), follows the broker to a new URL read from `--url-file` (the console's embedded broker moves
when the console restarts), and ends with how many readings it published.
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
from pathlib import Path

KINDS = {"heat-spike": 300.0, "stuck": 600.0, "malformed": 0.0, "offline": 0.0}  # default seconds each lasts
HEAT = 9.0  # °C a heat spike adds at its height
MALFORMED_BURST = 50
CONNECT_WAIT = 3.0  # seconds the boards get to connect before the first reading (and before a warning)
WARN_AGAIN = (10.0, 300.0)  # while no broker answers: the next warning after 10 s, doubling up to 5 minutes
RETRY_MAX = 10  # at most this many seconds between a board's attempts to reach the broker
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
    """One board's MQTT client: last will `offline`, retained `online` once connected; it reconnects by itself."""

    def __init__(self, url: str, site: str, name: str):
        self.name, self.site, self.prefix = name, site, f"coop/{site}/{name}"
        self.boot, self.seq, self.frozen, self.gone = f"{random.getrandbits(32):08x}", 0, None, False
        self.connected = threading.Event()
        self.client = self._connect(url)

    def _connect(self, url: str):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from iot.broker import MqttURL

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{self.site}-{self.name}")
        client.will_set(f"{self.prefix}/status", b"offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=RETRY_MAX)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_: self.connected.clear()
        MqttURL.parse(url).connect(client, keepalive=15)
        client.loop_start()
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.publish(f"{self.prefix}/status", b"online", qos=1, retain=True)
            self.connected.set()

    def move(self, url: str) -> None:
        """Connects to the broker at its new URL instead (the console restarted its embedded broker elsewhere)."""
        self.close()
        self.join()
        self.client = self._connect(url)

    def publish(self, readings: dict[str, float], ts: float) -> bool:
        """Publishes a reading if the broker is there (paho would queue it for a broker that may never come)."""
        if not self.connected.is_set():
            return False
        message = {"v": 1, "seq": self.seq, "boot": self.boot, "ts": int(ts), "readings": readings}
        self.client.publish(f"{self.prefix}/telemetry", json.dumps(message), qos=1)
        self.seq += 1
        return True

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
        """Switched off cleanly: says `offline` itself (a clean close discards the will). Then `join`."""
        if self.gone:
            return
        if self.connected.is_set():
            try:
                self.client.publish(f"{self.prefix}/status", b"offline", qos=1, retain=True).wait_for_publish(5)
            except RuntimeError:  # the broker went away meanwhile: its copy of the will says it
                pass
        self.connected.clear()
        self.client.disconnect()  # also ends paho's wait between attempts to reconnect (within a second)

    def join(self) -> None:
        if not self.gone:
            self.client.loop_stop()


@dataclass
class Published:
    telemetry: int = 0
    malformed: int = 0
    skipped: int = 0  # readings not sent because no broker answered
    interrupted: bool = False  # stopped by Ctrl-C before the duration was over


class Link:
    """Where the boards publish. Said once; while no broker answers, a warning (then less and less often);
    with `follow`, which reads the broker's URL again, the boards follow it when it has moved."""

    def __init__(self, url: str, boards: list[SimulatedBoard], log: Callable[[str], None],
                 follow: Callable[[], str | None] | None = None):
        self.url, self.boards, self.log, self.follow = url, boards, log, follow
        self.down_since: float | None = None
        self.warn_at, self.warn_every, self.warned = 0.0, WARN_AGAIN[0], False

    @property
    def shown(self) -> str:
        from iot.broker import MqttURL

        return str(MqttURL.parse(self.url))  # never the password

    def check(self, now: float) -> None:
        """Called every tick: notices the broker going, coming back, or moving."""
        down = [board for board in self.boards if not board.gone and not board.connected.is_set()]
        if not down:
            if self.warned:
                self.log(f"simulate: connected to {self.shown}; publishing again")
            self.down_since, self.warned = None, False
            return
        if self.down_since is None:
            self.down_since, self.warn_at, self.warn_every = now, now, WARN_AGAIN[0]
        moved = self.follow() if self.follow else None
        if moved and moved != self.url:
            self.url = moved
            self.log(f"simulate: the embedded broker moved to {self.shown} (the console restarted); following it")
            for board in self.boards:
                if not board.gone:
                    board.move(moved)
            self.down_since, self.warn_at, self.warned = now, now + CONNECT_WAIT, True
            return
        if now < self.warn_at:
            return
        if self.warned:
            self.log(f"simulate: still no MQTT broker at {self.shown} after {now - self.down_since:.0f} s; "
                     "trying again")
        else:
            hint = " (is `coop console` still running?)" if self.follow else ""
            self.log(f"simulate: cannot connect to the MQTT broker at {self.shown}{hint}; trying again, and "
                     "skipping readings until it answers")
        self.warned, self.warn_at = True, now + self.warn_every
        self.warn_every = min(self.warn_every * 2, WARN_AGAIN[1])


def simulate(url: str, *, site: str = "hq", devices: int = 3, rate: float = 1.0, duration: float = 60.0,
             faults: tuple[Fault, ...] = (), speed: float = 1.0, seed: int | None = None,
             clock: Callable[[], float] = time.time, log: Callable[[str], None] = lambda line: None,
             follow: Callable[[], str | None] | None = None) -> Published:
    """Runs the boards for `duration` seconds (or until Ctrl-C); `speed` runs the room's day that many times
    faster (timestamps stay real). `follow`: reads the broker's URL again, to follow it when it moves."""
    rng = random.Random(seed)
    boards = [SimulatedBoard(url, site, f"sim-{i}") for i in range(devices)]
    link = Link(url, boards, log, follow)
    last = f" … coop/{site}/sim-{devices - 1}/telemetry" if devices > 1 else ""
    log(f"simulate: publishing to {link.shown} on coop/{site}/sim-0/telemetry{last} (and each board's /status)")
    published, done = Published(), set()
    try:  # Ctrl-C while the boards connect stops them too
        deadline = time.monotonic() + CONNECT_WAIT
        for board in boards:
            board.connected.wait(max(0.0, deadline - time.monotonic()))
        started = clock()
        local = time.localtime(started)
        hour0 = local.tm_hour + local.tm_min / 60 + local.tm_sec / 3600
        tick = 0
        while (elapsed := clock() - started) < duration:
            link.check(time.monotonic())
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
                            published.malformed += MALFORMED_BURST
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
                if board.publish(board.frozen or readings, clock()):
                    published.telemetry += 1
                else:
                    published.skipped += 1
            tick += 1
            time.sleep(max(0.0, started + tick / rate - clock()))
    except KeyboardInterrupt:
        published.interrupted = True
    finally:
        for board in boards:  # all at once, then wait for all
            board.close()
        for board in boards:
            board.join()
    return published


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
    parser.add_argument("--url-file", type=Path, metavar="FILE",
                        help="read the broker's URL from FILE instead, and again whenever no broker answers, to "
                             "follow it (the console's embedded broker: mqtt.url in its data dir)")
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

    follow = None
    if args.url_file:
        follow = lambda: _read_url(args.url_file)  # noqa: E731
        args.url = follow()
        if not args.url:
            log(f"simulate: no broker URL in {args.url_file} (is `coop console` running on that data dir?)")
            return 1
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
        published = simulate(args.url, site=args.site, devices=args.devices, rate=args.rate, duration=args.duration,
                             faults=tuple(args.fault), speed=args.speed, seed=args.seed, log=log, follow=follow)
    except ValueError as e:  # the URL
        log(f"simulate: {e}")
        return 2
    malformed = f" and {published.malformed} malformed messages" if published.malformed else ""
    skipped = f"; {published.skipped} skipped while no broker answered" if published.skipped else ""
    stopped = " (stopped with Ctrl-C)" if published.interrupted else ""
    boards = f"{args.devices} board" + ("s" if args.devices != 1 else "")
    log(f"simulate: published {published.telemetry} readings{malformed} from {boards}{skipped}{stopped}")
    if published.interrupted:
        return 130
    return 0 if published.telemetry or not published.skipped else 1


def _read_url(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:  # not written yet, or being replaced
        return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m iot.simulator", description=__doc__.split("\n")[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
