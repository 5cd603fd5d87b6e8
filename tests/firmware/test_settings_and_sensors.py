"""The board's settings file and the sensor drivers on the host stand-ins."""
from pathlib import Path

import pytest

import settings
import sht31
from sensors import Sensors

EXAMPLE = Path(__file__).resolve().parents[2] / "firmware" / "config.example.json"


def test_the_example_config_is_valid_and_defaults_fill_the_rest():
    s = settings.load(str(EXAMPLE))
    assert s["site"] == "greenhouse" and s["air"]["type"] == "dht22" and s["water"]["pin"] == 18
    assert s["mqtt"]["keepalive_s"] == 90  # two intervals and a margin: the broker's 1.5x never trips
    minimal = settings.parse({"mqtt": {"host": "10.0.0.2"}, "site": "s1"})
    assert minimal["interval_s"] == 30 and minimal["mqtt"]["port"] == 1883 and minimal["device"] == ""


def test_tls_takes_a_ca_file_and_the_tls_port_by_default():
    s = settings.parse({"mqtt": {"host": "mqtt.coop.lan", "tls": True, "ca": "ca.pem"}, "site": "s1"})
    assert (s["mqtt"]["tls"], s["mqtt"]["ca"], s["mqtt"]["port"]) == (True, "ca.pem", 8883)
    mine = settings.parse({"mqtt": {"host": "h", "tls": True, "ca": "ca.pem", "port": 9883}, "site": "s1"})
    assert mine["mqtt"]["port"] == 9883
    assert settings.parse({"mqtt": {"host": "h"}, "site": "s1"})["mqtt"]["tls"] is False


@pytest.mark.parametrize("raw", [
    {"site": "s1"},  # no broker
    {"mqtt": {"host": "h"}, "site": "a/b"},  # a site that would break the topic
    {"mqtt": {"host": "h"}, "site": "s1", "air": {"type": "bme280"}},
    {"mqtt": {"host": "h"}, "site": "s1", "wifi": "ssid"},
    {"mqtt": {"host": "h"}, "site": "s1", "intervall_s": 5},  # a typo is not silently ignored
    {"mqtt": {"host": "h", "tls": True}, "site": "s1"},  # TLS that could check nothing: no CA on the board
    {"mqtt": {"host": "h", "ca": "ca.pem"}, "site": "s1"},  # a CA but plain TCP: not what was meant
    {"mqtt": {"host": "h", "tls": "yes", "ca": "ca.pem"}, "site": "s1"},
    {"mqtt": {"host": "h", "tls": True, "ca": ""}, "site": "s1"},
    {"mqtt": {"host": "h", "cafile": "ca.pem"}, "site": "s1"},
])
def test_bad_settings_are_refused_with_a_reason(raw):
    with pytest.raises(settings.SettingsError):
        settings.parse(raw)


def test_sht31_air_and_ds18b20_water_are_read_on_their_pins():
    s = settings.parse({"mqtt": {"host": "h"}, "site": "s1", "air": {"type": "sht31", "sda": 21, "scl": 22}})
    readings = Sensors(s, lambda ms: None, lambda *a, **k: None).read()
    assert set(readings) == {"temp_c", "rh_pct", "water_temp_c"}
    assert 15 < readings["temp_c"] < 30 and 40 < readings["rh_pct"] < 80


def test_sht31_rejects_a_corrupted_reply():
    class NoisyBus:
        def writeto(self, addr, buf):
            pass

        def readfrom(self, addr, n):
            return bytes([0x66, 0x66, 0x00, 0x80, 0x00, 0x00])  # CRC bytes that do not match

    assert sht31.crc8(b"\xbe\xef") == 0x92  # the datasheet's example
    with pytest.raises(OSError):
        sht31.SHT31(NoisyBus()).measure(lambda ms: None)


def test_a_failing_air_sensor_leaves_the_water_reading():
    s = settings.parse({"mqtt": {"host": "h"}, "site": "s1", "air": {"type": "sht31", "addr": 0x45}})
    logged = []
    readings = Sensors(s, lambda ms: None, lambda event, **k: logged.append(event)).read()
    assert set(readings) == {"water_temp_c"} and logged == ["air_read_failed"]
