"""The simulator: a plausible day in the room, and faults that reach the Ingestor as a real board's would."""
import argparse
import asyncio
import random
import statistics

import pytest

from iot.ingest import Ingestor
from iot.schema import KNOWN_READINGS
from iot.simulator import MALFORMED_BURST, Fault, room, simulate
from tests.iot.conftest import clear_retained, register, until


def longest_repeat(readings: list[dict]) -> int:
    """The longest run of consecutive messages with exactly the same values."""
    longest = run = 1
    for before, after in zip(readings, readings[1:]):
        run = run + 1 if after == before else 1
        longest = max(longest, run)
    return longest


def test_the_room_is_warmer_and_lit_by_day_and_stays_plausible():
    rng = random.Random(1)
    day = [room(15.0, 0, rng) for _ in range(50)]
    night = [room(3.0, 0, rng) for _ in range(50)]
    assert statistics.mean(r["temp_c"] for r in day) > statistics.mean(r["temp_c"] for r in night) + 3
    assert min(r["lux"] for r in day) > 10_000 and max(r["lux"] for r in night) < 50
    for reading in day + night + [room(h / 2, d, rng) for h in range(48) for d in range(5)]:
        assert set(reading) == set(KNOWN_READINGS)
        assert all(KNOWN_READINGS[k][0] <= v <= KNOWN_READINGS[k][1] for k, v in reading.items())
        assert 18 <= reading["temp_c"] <= 27 and 5.5 <= reading["ph"] <= 6.5  # inside lettuce's safe bands


def test_a_fault_is_read_from_the_command_line():
    assert Fault.parse("heat-spike:1@60+300") == Fault("heat-spike", 1, 60.0, 300.0)
    assert Fault.parse("offline@5") == Fault("offline", 0, 5.0, 0.0)
    with pytest.raises(argparse.ArgumentTypeError):
        Fault.parse("flood:1@5")


async def test_simulated_boards_and_their_faults_reach_the_ingestor(sessions, mqtt_url, site):
    telemetry, status = [], []

    async def on_telemetry(t) -> None:
        if t.site == site:
            telemetry.append(t)

    async def on_status(s, device, online, at) -> None:
        if s == site:
            status.append((device, online))

    await register(sessions, site, "sim-0", "sim-1", "sim-2")
    ingestor = Ingestor(sessions, mqtt_url, client_id=f"ingest-{site}", on_telemetry=on_telemetry,
                        on_status=on_status)
    await ingestor.start()
    await asyncio.wait_for(ingestor.subscribed.wait(), 10)
    faults = (Fault.parse("heat-spike:1@0+1.6"), Fault.parse("stuck:0@0.4+1"), Fault.parse("malformed:0@0.2"),
              Fault.parse("offline:2@0.5"))
    try:
        published = await asyncio.to_thread(simulate, mqtt_url, site=site, devices=3, rate=20, duration=1.6,
                                         faults=faults, seed=7)
        await until(lambda: len(telemetry) == published.telemetry, what="every simulated reading")
        await until(lambda: ingestor.stats.malformed_by_device[f"{site}/sim-0"] == MALFORMED_BURST,
                    what="the malformed burst")
        await until(lambda: ("sim-2", False) in status and ("sim-0", False) in status, what="offline")
    finally:
        await ingestor.stop(end_session=True)
        clear_retained(mqtt_url, [f"coop/{site}/sim-{i}/status" for i in range(3)])

    by_device = {name: [t for t in telemetry if t.device == name] for name in ("sim-0", "sim-1", "sim-2")}
    # Went away at 0.5 s of 1.6: under load the simulator's ticks stretch, so compared with a board that stayed.
    assert 1 <= len(by_device["sim-2"]) < len(by_device["sim-1"]) / 2
    assert max(t.readings["temp_c"] for t in by_device["sim-1"]) > 27  # the spike crossed the safe band
    assert longest_repeat([t.readings for t in by_device["sim-0"]]) >= 10  # stuck for 1 s of 20 a second
    assert longest_repeat([t.readings for t in by_device["sim-1"]]) == 1
    assert status.count(("sim-2", False)) == 1  # by its will, before the others closed cleanly


async def test_coop_simulate_on_an_embedded_data_dir_registers_its_boards(tmp_path, mqtt_url, site, monkeypatch):
    """`coop simulate` beside `coop console` (whose embedded broker's URL is in the data dir) registers the
    boards there, so the README's two commands show readings; against another broker it only says how."""
    from bot.cli import main
    from bot.settings import Settings
    from chain.db import create_engine, sessionmaker
    from iot.store import registered_devices

    for name in ("COOP_MQTT_URL", "COOP_DATABASE_URL", "COOP_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    (data / "mqtt.url").write_text(mqtt_url + "\n")
    run = ["simulate", "--site", site, "--devices", "2", "--rate", "5", "--duration", "0.2"]
    assert await asyncio.to_thread(main, [*run, "--data-dir", str(tmp_path / "other"), "--url", mqtt_url]) == 0
    assert await asyncio.to_thread(main, [*run, "--data-dir", str(data)]) == 0
    clear_retained(mqtt_url, [f"coop/{site}/sim-{i}/status" for i in range(2)])

    engine = create_engine(Settings.from_env({}, data_dir=data).database_url)
    try:
        assert await registered_devices(sessionmaker(engine)) == [(site, "sim-0"), (site, "sim-1")]
    finally:
        await engine.dispose()
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").glob("*.db"))
