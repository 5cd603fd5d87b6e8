"""MQTT topics and payloads (docs/interfaces.md §5) checked at the boundary: what passes is trusted inside.

Plain Python with no I/O, so the rules for "malformed" are tested alone. A malformed message is
dropped whole (never half stored) and its reason is a short code for counting and logs.
"""
import json
import math
import re
from dataclasses import dataclass

# Plausible sensor ranges, not alert thresholds: outside them a sensor or board is broken (a DS18B20
# reads 85.0 after a power glitch and -127 when unplugged), so the value is absurd, not a warm tank.
KNOWN_READINGS: dict[str, tuple[float, float]] = {
    "temp_c": (-40.0, 85.0),
    "rh_pct": (0.0, 100.0),
    "water_temp_c": (-5.0, 60.0),
    "ph": (0.0, 14.0),
    "ec_ms_cm": (0.0, 20.0),
    "water_level_pct": (0.0, 100.0),
    "lux": (0.0, 200_000.0),
}
MAX_PAYLOAD = 4096  # bytes; a board sends ~100
MAX_READINGS = 32
# Before this a board's clock is wrong rather than unset (MicroPython counts from 2000, not 1970).
EARLIEST_TS = 1_577_836_800  # 2020-01-01
MAX_CLOCK_AHEAD = 24 * 3600  # seconds a board's clock may run ahead of ours

TELEMETRY_TOPIC = "coop/+/+/telemetry"
STATUS_TOPIC = "coop/+/+/status"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # sites and devices: no wildcards, no slashes
_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BOOT = re.compile(r"[A-Za-z0-9_.-]{0,32}")


class Malformed(ValueError):
    """A message that does not follow docs/interfaces.md §5. `reason` is one of: bad_json, not_object,
    bad_version, bad_seq, bad_boot, bad_ts, bad_readings, bad_value, absurd_value, too_large,
    bad_topic, bad_status."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Telemetry:
    site: str
    device: str
    boot: str  # "" when the board sends none
    seq: int
    ts: float  # Unix seconds
    readings: dict[str, float]
    stamped: bool  # the board had no time: ts is when the backend received it


def parse_topic(topic: str) -> tuple[str, str, str]:
    """`coop/<site>/<device>/<kind>` -> (site, device, kind), kind being telemetry or status."""
    parts = topic.split("/")
    if (len(parts) != 4 or parts[0] != "coop" or parts[3] not in ("telemetry", "status")
            or not _NAME.fullmatch(parts[1]) or not _NAME.fullmatch(parts[2])):
        raise Malformed("bad_topic", topic[:200])
    return parts[1], parts[2], parts[3]


def valid_name(name: str) -> bool:
    """A site or device name as it may appear in a topic."""
    return bool(_NAME.fullmatch(name))


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: int | float) -> bool:
    """math.isfinite, without converting an int to float (a 400-digit integer would overflow)."""
    return isinstance(value, int) or math.isfinite(value)


def parse_telemetry(site: str, device: str, payload: bytes, arrived: float) -> Telemetry:
    """A telemetry payload, checked; `arrived` (Unix seconds) stands in for a missing or zero ts."""
    if len(payload) > MAX_PAYLOAD:
        raise Malformed("too_large", f"{len(payload)} bytes")
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError; NaN passes: checked below
        raise Malformed("bad_json", str(e)[:100]) from None
    except RecursionError:  # 4 KB of "[" nests deeper than Python recurses
        raise Malformed("bad_json", "nested too deeply") from None
    if not isinstance(message, dict):
        raise Malformed("not_object")
    if message.get("v") != 1 or isinstance(message.get("v"), bool):
        raise Malformed("bad_version", repr(message.get("v"))[:20])
    seq = message.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise Malformed("bad_seq", repr(seq)[:30])
    boot = message.get("boot", "")
    if _number(boot) and _finite(boot) and boot == int(boot) and boot >= 0:
        boot = str(int(boot))
    if not isinstance(boot, str) or not _BOOT.fullmatch(boot):
        raise Malformed("bad_boot", repr(boot)[:40])
    ts = message.get("ts")
    stamped = ts is None or ts == 0
    if stamped:
        ts = arrived
    elif not _number(ts) or not _finite(ts) or not EARLIEST_TS <= ts <= arrived + MAX_CLOCK_AHEAD:
        raise Malformed("bad_ts", repr(ts)[:30])
    readings = message.get("readings")
    if not isinstance(readings, dict) or not 0 < len(readings) <= MAX_READINGS:
        raise Malformed("bad_readings")
    checked: dict[str, float] = {}
    for key, value in readings.items():
        if not _KEY.fullmatch(key):
            raise Malformed("bad_readings", f"key {key[:40]!r}")
        if not _number(value) or not _finite(value):
            raise Malformed("bad_value", f"{key}={value!r}"[:60])
        low, high = KNOWN_READINGS.get(key, (-1e12, 1e12))  # unknown keys: kept, only kept finite
        if not low <= value <= high:
            raise Malformed("absurd_value", f"{key}={value!r}"[:60])
        checked[key] = float(value)
    return Telemetry(site, device, boot, seq, float(ts), checked, stamped)


def parse_status(payload: bytes) -> bool:
    """The availability payload: True for `online`, False for `offline`."""
    if payload == b"online":
        return True
    if payload == b"offline":
        return False
    raise Malformed("bad_status", repr(payload[:20]))
