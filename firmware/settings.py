"""Reads the board's settings from a JSON file and fills in defaults."""
import json

DEFAULTS = {
    "wifi": {"ssid": "", "password": "", "timeout_s": 20},
    # port 0: 8883 with TLS, else 1883. tls needs ca: the board has no trusted CAs of its own.
    "mqtt": {"host": "", "port": 0, "user": None, "password": None, "keepalive_s": 0, "tls": False, "ca": None},
    "site": "",
    "device": "",  # empty: derived from machine.unique_id()
    "interval_s": 30,
    "air": {"type": "dht22", "pin": 4, "sda": 21, "scl": 22, "addr": 0x44},
    "water": {"type": "ds18b20", "pin": 18},
    "ntp_host": "pool.ntp.org",
    "buffer": 120,  # telemetry kept while offline: ~150 bytes each
    "backoff_s": [1, 300],  # first and largest reconnect delay
    "wdt_s": 120,  # 0 disables the watchdog (bench work only)
}

AIR_TYPES = ("dht22", "dht11", "sht31", "none")
WATER_TYPES = ("ds18b20", "none")


class SettingsError(ValueError):
    pass


def _merge(defaults, given):
    for key in given:
        if key not in defaults:  # a typo would otherwise fall back to the default without a word
            raise SettingsError("unknown setting: %s" % key)
    out = {}
    for key in defaults:
        value = given.get(key, defaults[key])
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise SettingsError("%s must be an object" % key)
            value = _merge(defaults[key], value)
        out[key] = value
    return out


def parse(raw):
    """Returns the full settings dict for the decoded JSON `raw`; raises SettingsError."""
    if not isinstance(raw, dict):
        raise SettingsError("settings must be a JSON object")
    s = _merge(DEFAULTS, raw)
    if not s["site"] or "/" in s["site"] or "+" in s["site"] or "#" in s["site"]:
        raise SettingsError("site must be a non-empty topic level")
    if "/" in s["device"] or "+" in s["device"] or "#" in s["device"]:
        raise SettingsError("device must be a single topic level")
    m = s["mqtt"]
    if not m["host"]:
        raise SettingsError("mqtt.host is required")
    if m["tls"] not in (True, False):
        raise SettingsError("mqtt.tls must be true or false")
    if m["tls"] and not (isinstance(m["ca"], str) and m["ca"]):
        raise SettingsError("mqtt.tls needs mqtt.ca: the CA certificate file (PEM) on the board")
    if m["ca"] is not None and not m["tls"]:
        raise SettingsError("mqtt.ca is only used with mqtt.tls: true")
    if not m["port"]:
        m["port"] = 8883 if m["tls"] else 1883
    if s["air"]["type"] not in AIR_TYPES:
        raise SettingsError("air.type must be one of %s" % (AIR_TYPES,))
    if s["water"]["type"] not in WATER_TYPES:
        raise SettingsError("water.type must be one of %s" % (WATER_TYPES,))
    if not s["interval_s"] > 0 or not int(s["buffer"]) >= 1:
        raise SettingsError("interval_s must be > 0 and buffer >= 1")
    if not s["mqtt"]["keepalive_s"]:
        # the broker drops us after 1.5 x keepalive of silence; we speak once an interval
        s["mqtt"]["keepalive_s"] = int(s["interval_s"] * 2 + 30)
    return s


def load(path="config.json"):
    with open(path) as f:
        return parse(json.load(f))
