"""The firmware's main loop against the shared Mosquitto: availability, telemetry per docs/interfaces.md §5, last will."""
import json
import time

from .conftest import FakeClock, Subscriber, clear_retained, make_node


def telemetry(sub):
    return [json.loads(m.payload) for m in sub.on("telemetry")]


def test_publishes_retained_online_and_telemetry_per_design(broker, site):
    sub = Subscriber(broker[1], "coop/%s/#" % site)
    board = make_node(site, broker[1])
    try:
        board.run(cycles=3)
        assert sub.wait_for(lambda: len(sub.on("telemetry")) == 3)
        late = Subscriber(broker[1], "coop/%s/+/status" % site)  # joins after: sees only what is retained
        assert late.wait_for(lambda: late.on("status"))
        status = late.on("status")[0]
        assert (status.topic, status.payload, status.retain) == ("coop/%s/esp32-a1/status" % site, b"online", True)
        late.close()

        messages = sub.on("telemetry")
        assert {m.topic for m in messages} == {"coop/%s/esp32-a1/telemetry" % site}
        assert {m.qos for m in messages} == {1}
        bodies = telemetry(sub)
        assert [b["seq"] for b in bodies] == [1, 2, 3]
        for body in bodies:
            assert set(body) == {"v", "seq", "boot", "ts", "readings"}
            assert body["v"] == 1 and body["boot"] == board.boot and len(board.boot) == 8
            assert isinstance(body["ts"], int) and abs(body["ts"] - time.time()) < 120
            r = body["readings"]
            assert set(r) == {"temp_c", "rh_pct", "water_temp_c"}
            assert 10 < r["temp_c"] < 35 and 20 < r["rh_pct"] < 95 and 10 < r["water_temp_c"] < 30
        # readings every interval of the (fake) clock
        assert bodies[1]["ts"] - bodies[0]["ts"] == 10
    finally:
        board.close()
        sub.close()
        clear_retained(broker[1], site)


def test_last_will_fires_offline_when_the_connection_drops_uncleanly(broker, site):
    sub = Subscriber(broker[1], "coop/%s/#" % site)
    board = make_node(site, broker[1])
    try:
        board.run(cycles=2)
        assert sub.wait_for(lambda: [m.payload for m in sub.on("status")] == [b"online"])

        board.mqtt.sock.close()  # power cut / link loss as the broker sees it: no DISCONNECT
        assert sub.wait_for(lambda: [m.payload for m in sub.on("status")] == [b"online", b"offline"])

        board.run(cycles=2)  # the board notices, reconnects, says online again and goes on counting
        assert sub.wait_for(lambda: len(sub.on("telemetry")) >= 4)
        assert [m.payload for m in sub.on("status")] == [b"online", b"offline", b"online"]
        seqs = [b["seq"] for b in telemetry(sub)]
        assert seqs[-1] == 4 and sorted(set(seqs)) == [1, 2, 3, 4]
    finally:
        board.close()
        sub.close()
        clear_retained(broker[1], site)


def test_a_new_boot_has_a_new_boot_id_and_counts_from_one(broker, site):
    sub = Subscriber(broker[1], "coop/%s/+/telemetry" % site)
    first, second = make_node(site, broker[1]), make_node(site, broker[1], clock=FakeClock())
    try:
        first.run(cycles=2)
        first.close()
        second.run(cycles=1)
        assert sub.wait_for(lambda: len(sub.on("telemetry")) == 3)
        bodies = telemetry(sub)
        assert [(b["boot"], b["seq"]) for b in bodies] == [(first.boot, 1), (first.boot, 2), (second.boot, 1)]
        assert first.boot != second.boot
    finally:
        second.close()
        sub.close()
        clear_retained(broker[1], site)


def test_ts_is_zero_until_the_clock_is_set_and_unix_seconds_on_a_2000_epoch_port():
    from .conftest import free_port

    clock = FakeClock()
    clock.gmtime = lambda secs: (2000, 1, 1, 0, 0, 0, 5, 1)  # an ESP32 port counting from 2000-01-01
    clock._epoch = 0  # RTC never set: time() is seconds since power-on
    board = make_node("fwtest-clock", free_port(), clock=clock)  # no broker: the reading stays in the ring
    board.cycle()
    clock._epoch = 1764000000 - 946684800  # what ntptime.settime() would leave in the RTC
    board.cycle()
    first, second = (json.loads(board.ring.pop()) for _ in range(2))
    assert first["ts"] == 0
    assert second["ts"] == 1764000000 + clock.ms // 1000
