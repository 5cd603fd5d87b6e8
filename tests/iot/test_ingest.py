"""Ingestion against the real broker, on SQLite and PostgreSQL: no valid reading lost, none stored
twice, nothing malformed stored, and ingestion never stops."""
import asyncio
import json
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from chain.db import create_engine, sessionmaker
from iot.ingest import Ingestor
from iot.store import Device, Reading
from tests.iot.conftest import register, until


class Listener:
    """What the Ingestor told its listeners about the test's site, in order (the broker is shared:
    other sites' messages come too)."""

    def __init__(self, site: str):
        self.site, self.telemetry, self.status = site, [], []

    async def on_telemetry(self, t) -> None:
        if t.site == self.site:
            self.telemetry.append(t)

    async def on_status(self, site, device, online, at) -> None:
        if site == self.site:
            self.status.append((device, online))


def malformed(ingestor: Ingestor, site: str) -> int:
    return sum(n for device, n in ingestor.stats.malformed_by_device.items() if device.startswith(f"{site}/"))


@pytest.fixture
async def ingest(sessions, mqtt_url, site):
    """start(url=…, sessions=…) -> (Ingestor, Listener), subscribed (boards dev1 and dev2 registered);
    stopped (session ended) afterwards."""
    made = []
    await register(sessions, site, "dev1", "dev2")

    async def start(url: str = mqtt_url, sessions=sessions, client_id: str | None = None):
        listener = Listener(site)
        ingestor = Ingestor(sessions, url, client_id=client_id or f"ingest-{site}-{len(made)}",
                            on_telemetry=listener.on_telemetry, on_status=listener.on_status)
        made.append(ingestor)
        await ingestor.start()
        await asyncio.wait_for(ingestor.subscribed.wait(), 10)
        return ingestor, listener

    yield start
    for ingestor in made:
        await ingestor.stop(end_session=True)


async def stored(sessions, site: str) -> list[tuple]:
    """(device, boot, seq, key, value) of every stored reading of `site`."""
    async with sessions() as session:
        rows = await session.execute(select(Reading.device, Reading.boot, Reading.seq, Reading.key, Reading.value)
                                     .where(Reading.site == site).order_by(Reading.id))
    return [tuple(row) for row in rows]


MALFORMED = [
    b"{not json",
    b"[1, 2, 3]",
    json.dumps({"v": 2, "seq": 1, "readings": {"temp_c": 20}}).encode(),
    json.dumps({"v": 1, "seq": "7", "readings": {"temp_c": 20}}).encode(),
    json.dumps({"v": 1, "seq": 1, "readings": {"temp_c": "warm"}}).encode(),
    json.dumps({"v": 1, "seq": 1, "readings": {"water_temp_c": 85.0}}).encode(),  # DS18B20 power-on value
    json.dumps({"v": 1, "seq": 1, "readings": {}}).encode(),
    b"\xff\xfe garbage",
]


async def test_a_burst_of_malformed_messages_loses_no_valid_reading_and_is_counted_per_device(
        sessions, site, boards, ingest):
    ingestor, listener = await ingest()
    dev1, dev2 = boards("dev1"), boards("dev2")
    valid = Counter()
    for i in range(1000):
        board = dev1 if i % 5 < 3 else dev2  # 600 malformed from dev1, 400 from dev2
        board.publish(MALFORMED[i % len(MALFORMED)])
        if i % 5 == 0:
            for good in (dev1, dev2):
                good.reading(valid[good.device], temp_c=20 + i / 100)
                valid[good.device] += 1
    await until(lambda: malformed(ingestor, site) == 1000 and len(listener.telemetry) == 400, what="the burst")
    dev2.reading(valid["dev2"])  # after the burst, ingestion goes on
    valid["dev2"] += 1
    await until(lambda: len(listener.telemetry) == 401, what="the reading after the burst")

    rows = await stored(sessions, site)
    for device in ("dev1", "dev2"):
        assert sorted({seq for d, _, seq, _, _ in rows if d == device}) == list(range(valid[device]))
    assert len(rows) == 400 + 2  # temp_c in the burst; temp_c and rh_pct after it
    assert len(listener.telemetry) == 401
    async with sessions() as session:
        counts = dict((row.device, row.malformed) for row in await session.execute(
            select(Device.device, Device.malformed).where(Device.site == site)))
        last = await session.scalar(select(Device.last_malformed_topic).where(Device.site == site,
                                                                             Device.device == "dev1"))
    assert counts == {"dev1": 600, "dev2": 400}
    assert ingestor.stats.malformed_by_device[f"{site}/dev1"] == 600
    assert ingestor.stats.malformed_by_device[f"{site}/dev2"] == 400
    assert last == f"coop/{site}/dev1/telemetry"


async def test_duplicates_are_stored_once_and_told_once(sessions, site, boards, ingest):
    ingestor, listener = await ingest()
    board = boards()
    board.reading(1, boot="b1", temp_c=20.0)
    board.reading(1, boot="b1", temp_c=30.0)  # a resend: the first one stands
    board.reading(1, boot="b2", temp_c=21.0)  # the board rebooted: seq starts again, a new reading
    board.reading(2, boot="b1", temp_c=22.0)
    board.wait_sent()
    await until(lambda: len(listener.telemetry) == 3, what="three readings")
    await asyncio.sleep(0.2)  # a duplicate told twice would show here

    assert sorted((boot, seq, value) for _, boot, seq, key, value in await stored(sessions, site)
                  if key == "temp_c") == [("b1", 1, 20.0), ("b1", 2, 22.0), ("b2", 1, 21.0)]
    assert [(t.boot, t.seq) for t in listener.telemetry] == [("b1", 1), ("b2", 1), ("b1", 2)]
    assert ingestor.stats.duplicates >= 1


async def test_a_board_without_time_gets_the_arrival_time_and_unknown_keys_are_kept(sessions, site, boards, ingest):
    ingestor, listener = await ingest()
    board = boards()
    before = time.time()
    board.publish({"v": 1, "seq": 1, "ts": 0, "readings": {"temp_c": 20.5}})
    board.publish({"v": 1, "seq": 2, "readings": {"temp_c": 20.6, "co2_ppm": 812}})
    board.publish({"v": 1, "seq": 3, "ts": 1_764_000_000, "readings": {"temp_c": 20.7}})
    board.publish({"v": 1, "seq": 4, "readings": {"temp_c": 20.8}, "pad": "x" * 5000})  # over MAX_PAYLOAD
    await until(lambda: len(listener.telemetry) == 3 and malformed(ingestor, site) == 1, what="four messages")
    after = time.time()

    by_seq = {t.seq: t for t in listener.telemetry}
    assert sorted(by_seq) == [1, 2, 3]
    assert by_seq[1].stamped and by_seq[2].stamped and before <= by_seq[1].ts <= after
    assert not by_seq[3].stamped and by_seq[3].ts == 1_764_000_000
    assert ("dev1", "", 2, "co2_ppm", 812.0) in await stored(sessions, site)
    async with sessions() as session:
        device = await session.get(Device, (site, "dev1"))
    assert (device.malformed, device.last_malformed) == (1, "too_large")


async def test_availability_follows_the_status_topic_and_the_last_will(sessions, site, boards, ingest, mqtt_url):
    ingestor, listener = await ingest()
    board = boards()
    board.publish("online", kind="status", retain=True)
    await until(lambda: listener.status == [("dev1", True)], what="online")
    board.drop()  # no clean close: the broker publishes the board's will
    await until(lambda: listener.status == [("dev1", True), ("dev1", False)], what="the last will")
    async with sessions() as session:
        assert (await session.get(Device, (site, "dev1"))).online is False

    again, listener_again = await ingest()  # receives the retained `offline` anew: not a change
    await asyncio.sleep(0.3)
    assert listener_again.status == []


async def test_a_broker_restart_mid_stream_loses_no_reading_and_duplicates_none(
        sessions, site, boards, ingest, private_broker):
    private_broker.start()
    ingestor, listener = await ingest(url=private_broker.url)
    board = boards(url=private_broker.url)
    count = 400

    def stream() -> None:
        for seq in range(count):
            board.reading(seq, temp_c=20 + seq / 100)
            time.sleep(0.003)

    publisher = threading.Thread(target=stream)
    publisher.start()
    await until(lambda: len(listener.telemetry) >= 100, what="the stream to begin")
    private_broker.stop()
    await asyncio.sleep(0.5)  # the board goes on publishing into paho's queue
    private_broker.start()
    await asyncio.to_thread(publisher.join)
    await until(lambda: len(listener.telemetry) >= count, timeout=20, what="every reading")
    await asyncio.sleep(0.3)  # late redeliveries, if any, would show here

    assert sorted(t.seq for t in listener.telemetry) == list(range(count))  # each once
    rows = await stored(sessions, site)
    assert sorted(seq for _, _, seq, key, _ in rows if key == "temp_c") == list(range(count))


async def test_messages_received_but_not_stored_come_back_after_a_crash(
        sessions, site, boards, ingest, tmp_path):
    """The first Ingestor cannot store (its database has no tables), so it acknowledges nothing; it dies
    without a clean close, and the next one with the same client id gets every message again."""
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    first, _ = await ingest(sessions=sessionmaker(broken), client_id=f"crash-{site}")
    board = boards()
    for seq in range(10):
        board.reading(seq)
    board.wait_sent()
    # Received: parsed, or waiting behind a batch that is retrying its store.
    await until(lambda: first.stats.received + len(first._inbox) >= 10, what="the first ingestor to receive")
    first._task.cancel()  # the crash: no more storing, no acknowledgement, no DISCONNECT
    first._client.loop_stop()
    first._client.socket().close()
    first._task = None
    await broken.dispose()

    second, listener = await ingest(client_id=f"crash-{site}")
    await until(lambda: len(listener.telemetry) == 10, what="the redelivery")
    assert sorted(t.seq for t in listener.telemetry) == list(range(10))
    assert len(await stored(sessions, site)) == 20


async def test_an_unregistered_board_is_counted_dropped_and_logged_once_until_an_admin_registers_it(
        sessions, site, boards, ingest, caplog):
    ingestor, listener = await ingest()
    stranger, ours = boards("stranger"), boards("dev1")
    stranger.publish("online", kind="status", retain=True)
    for seq in range(5):
        stranger.reading(seq, water_temp_c=30.0)
    stranger.wait_sent()
    ours.reading(1)
    await until(lambda: len(listener.telemetry) == 1 and ingestor.stats.unknown_by_device[f"{site}/stranger"] == 6,
                what="the stranger's messages and ours")

    assert [t.device for t in listener.telemetry] == ["dev1"] and listener.status == []
    assert {device for device, *_ in await stored(sessions, site)} == {"dev1"}
    async with sessions() as session:
        assert await session.get(Device, (site, "stranger")) is None
    logged = [r for r in caplog.records if "unregistered" in r.getMessage() and site in r.getMessage()]
    assert len(logged) == 1 and "'stranger'" in logged[0].getMessage()

    await register(sessions, site, "stranger")
    stranger.reading(5, water_temp_c=23.0)
    await until(lambda: [t.device for t in listener.telemetry] == ["dev1", "stranger"], what="the board, registered")
    assert ingestor.stats.unknown_by_device[f"{site}/stranger"] == 6


async def test_a_message_that_breaks_reading_it_does_not_stop_the_next(sessions, site, boards, ingest):
    ingestor, listener = await ingest()
    board = boards()
    board.publish(b"[" * 4000)  # deeper than Python's recursion limit
    board.publish(b'{"v": 1, "seq": 1, "readings": {"temp_c": 1' + b"0" * 400 + b"}}")  # no float holds it
    board.publish(b'{"v": 1, "seq": 1, "boot": NaN, "readings": {"temp_c": 20}}')
    board.reading(2, temp_c=21.0)
    await until(lambda: len(listener.telemetry) == 1, what="the good reading after the bad ones")
    assert malformed(ingestor, site) == 3 and ingestor.stats.failed == 0
    assert [(seq, key, value) for _, _, seq, key, value in await stored(sessions, site) if key == "temp_c"] == [
        (2, "temp_c", 21.0)]


POISON = {  # the database refuses one value, as it might refuse any row it finds wrong
    "sqlite": ["CREATE TRIGGER poison BEFORE INSERT ON iot_readings WHEN NEW.value = 13.0 "
               "BEGIN SELECT RAISE(ABORT, 'poison'); END"],
    "postgresql": ["CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.value = 13.0 THEN "
                   "RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER poison BEFORE INSERT ON iot_readings FOR EACH ROW EXECUTE FUNCTION poison()"],
}


async def test_a_message_the_database_refuses_is_dropped_alone_and_ingestion_goes_on(
        sessions, site, boards, ingest, caplog):
    from sqlalchemy import text

    async with sessions() as session, session.begin():
        for statement in POISON[session.bind.dialect.name]:
            await session.execute(text(statement))
    ingestor, listener = await ingest()
    board = boards()
    for seq, value in enumerate([20.0, 13.0, 21.0], start=1):
        board.reading(seq, temp_c=value)
    board.wait_sent()
    await until(lambda: ingestor.stats.failed == 1 and len(listener.telemetry) == 2, timeout=10,
                what="the two good readings")
    board.reading(4, temp_c=22.0)
    await until(lambda: len(listener.telemetry) == 3, what="the reading after")
    assert [seq for _, _, seq, key, _ in await stored(sessions, site) if key == "temp_c"] == [1, 3, 4]
    assert any("the database refused it" in r.getMessage() and f"'{site}'" in r.getMessage()
               for r in caplog.records)


async def test_the_broker_does_not_send_a_payload_larger_than_the_ingestor_takes(sessions, site, boards, ingest,
                                                                                mqtt_url):
    if "protocol=3.1.1" in mqtt_url:
        pytest.skip("MQTT 5's Maximum-Packet-Size needs Mosquitto; the embedded broker speaks 3.1.1")
    ingestor, listener = await ingest()
    board = boards()
    board.publish({"v": 1, "seq": 1, "readings": {"temp_c": 20.0}, "pad": "x" * 64_000})
    board.reading(2)
    await until(lambda: len(listener.telemetry) == 1, what="the reading after the large one")
    assert malformed(ingestor, site) == 0  # never received: the broker dropped it for us
