"""What the boundary accepts (docs/interfaces.md §5) and the reason it gives for what it drops."""
import json

import pytest

from iot.schema import MAX_PAYLOAD, Malformed, parse_status, parse_telemetry, parse_topic

ARRIVED = 1_764_000_100.0


def telemetry(**message) -> bytes:
    return json.dumps({"v": 1, "seq": 5, "ts": 1_764_000_000, "readings": {"temp_c": 24.1}} | message).encode()


def test_a_board_message_is_read_as_sent():
    t = parse_telemetry("hq", "esp32-1", telemetry(boot="a1b2", readings={"temp_c": 24.1, "rh_pct": 61}), ARRIVED)
    assert (t.site, t.device, t.boot, t.seq, t.ts, t.stamped) == ("hq", "esp32-1", "a1b2", 5, 1_764_000_000, False)
    assert t.readings == {"temp_c": 24.1, "rh_pct": 61.0}


@pytest.mark.parametrize("ts", [0, None])
def test_a_board_without_time_is_stamped_with_the_arrival(ts):
    payload = json.loads(telemetry())
    payload["ts"] = ts
    if ts is None:
        del payload["ts"]
    t = parse_telemetry("hq", "d", json.dumps(payload).encode(), ARRIVED)
    assert (t.ts, t.stamped, t.boot) == (ARRIVED, True, "")


def test_unknown_reading_keys_are_kept():
    assert parse_telemetry("hq", "d", telemetry(readings={"co2_ppm": 812}), ARRIVED).readings == {"co2_ppm": 812.0}


@pytest.mark.parametrize("payload, reason", [
    (b"{", "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b'"online"', "not_object"),
    (telemetry(v=2), "bad_version"),
    (telemetry(v=True), "bad_version"),
    (telemetry(seq=-1), "bad_seq"),
    (telemetry(seq=1.5), "bad_seq"),
    (telemetry(seq=True), "bad_seq"),
    (telemetry(boot={"id": 1}), "bad_boot"),
    (telemetry(ts="yesterday"), "bad_ts"),
    (telemetry(ts=ARRIVED + 3 * 86400), "bad_ts"),  # a clock far ahead
    (telemetry(ts=820_000_000), "bad_ts"),  # MicroPython's epoch (2000) sent as Unix time
    (telemetry(readings=[24.1]), "bad_readings"),
    (telemetry(readings={}), "bad_readings"),
    (telemetry(readings={"Temp C": 1}), "bad_readings"),
    (telemetry(readings={"temp_c": "24.1"}), "bad_value"),
    (telemetry(readings={"temp_c": None}), "bad_value"),
    (telemetry(readings={"temp_c": False}), "bad_value"),
    (b'{"v": 1, "seq": 1, "readings": {"temp_c": NaN}}', "bad_value"),
    (telemetry(readings={"water_temp_c": -127.0}), "absurd_value"),  # DS18B20 unplugged
    (telemetry(readings={"rh_pct": 140}), "absurd_value"),
    (telemetry(readings={"ph": 15}), "absurd_value"),
    (telemetry(note="x" * MAX_PAYLOAD), "too_large"),
])
def test_malformed_telemetry_is_refused_with_its_reason(payload, reason):
    with pytest.raises(Malformed) as refused:
        parse_telemetry("hq", "d", payload, ARRIVED)
    assert refused.value.reason == reason


@pytest.mark.parametrize("topic, parsed", [
    ("coop/hq/esp32-1/telemetry", ("hq", "esp32-1", "telemetry")),
    ("coop/hq/esp32-1/status", ("hq", "esp32-1", "status")),
])
def test_topics_name_the_site_the_device_and_the_kind(topic, parsed):
    assert parse_topic(topic) == parsed


@pytest.mark.parametrize("topic", ["coop/hq/telemetry", "coop/hq/d/forecast", "farm/hq/d/telemetry",
                                   "coop/h q/d/telemetry", "coop/hq/" + "d" * 65 + "/telemetry"])
def test_other_topics_are_bad(topic):
    with pytest.raises(Malformed, match="bad_topic"):
        parse_topic(topic)


def test_status_is_online_or_offline():
    assert parse_status(b"online") is True
    assert parse_status(b"offline") is False
    with pytest.raises(Malformed, match="bad_status"):
        parse_status(b"ONLINE")
