"""The readings store on SQLite and PostgreSQL: latest values, a day's series, and retention (raw rows
past N days become per-minute aggregates)."""
from datetime import datetime, timedelta

from sqlalchemy import func, select

from iot.store import (MIGRATIONS, Device, MinuteAggregate, Reading, downsample, heard_but_unregistered, latest,
                       register_device, registered_devices, series, unregister_device)

NOW = datetime(2026, 11, 25, 12, 0, 0)


async def add(sessions, *rows: tuple) -> None:
    """Rows of (device, seq, key, ts, value) for site `hq`."""
    async with sessions() as session, session.begin():
        session.add_all(Reading(site="hq", device=device, boot="b1", seq=seq, key=key, ts=ts, value=value)
                        for device, seq, key, ts, value in rows)


def test_migrations_match_the_models(database_url):
    """A model changed without its migration fails here (Alembic's autogenerate finds the difference)."""
    from alembic import command

    from chain.db import alembic_config

    command.check(alembic_config(database_url, MIGRATIONS))


async def test_latest_gives_the_newest_value_of_each_reading_of_each_device(sessions):
    await add(sessions,
              ("dev1", 1, "temp_c", NOW - timedelta(minutes=2), 21.0),
              ("dev1", 2, "temp_c", NOW - timedelta(minutes=1), 22.0),
              ("dev1", 2, "rh_pct", NOW - timedelta(minutes=1), 60.0),
              ("dev2", 7, "temp_c", NOW - timedelta(hours=3), 19.5))
    async with sessions() as session, session.begin():
        session.add(Reading(site="lab", device="dev9", boot="", seq=1, key="ph", ts=NOW, value=6.1))

    rows = {(r.site, r.device, r.key): (r.value, r.ts) for r in await latest(sessions)}
    assert rows == {("hq", "dev1", "temp_c"): (22.0, NOW - timedelta(minutes=1)),
                    ("hq", "dev1", "rh_pct"): (60.0, NOW - timedelta(minutes=1)),
                    ("hq", "dev2", "temp_c"): (19.5, NOW - timedelta(hours=3)),
                    ("lab", "dev9", "ph"): (6.1, NOW)}
    assert {r.site for r in await latest(sessions, site="lab")} == {"lab"}


async def test_downsampling_keeps_recent_raw_rows_and_turns_older_ones_into_minute_aggregates(sessions):
    old = NOW - timedelta(days=8)
    await add(sessions,
              ("dev1", 1, "temp_c", old.replace(second=5), 20.0),
              ("dev1", 2, "temp_c", old.replace(second=35), 22.0),
              ("dev1", 3, "temp_c", old.replace(second=50), 24.0),
              ("dev1", 4, "temp_c", old + timedelta(minutes=1), 25.0),
              ("dev1", 5, "temp_c", NOW - timedelta(hours=1), 26.0))

    assert await downsample(sessions, raw_days=7, now=NOW) == 4
    async with sessions() as session:
        minutes = (await session.execute(select(MinuteAggregate).order_by(MinuteAggregate.minute))).scalars().all()
        raw = await session.scalar(select(func.count()).select_from(Reading))
    assert [(m.minute, m.count, m.min, m.max, m.mean) for m in minutes] == [
        (old, 3, 20.0, 24.0, 22.0), (old + timedelta(minutes=1), 1, 25.0, 25.0, 25.0)]
    assert raw == 1

    # A board's buffered readings from that minute arrive late: merged into the minute, weighted by count.
    await add(sessions, ("dev1", 9, "temp_c", old.replace(second=55), 30.0))
    assert await downsample(sessions, raw_days=7, now=NOW) == 1
    async with sessions() as session:
        merged = await session.get(MinuteAggregate, ("hq", "dev1", "temp_c", old))
    assert (merged.count, merged.min, merged.max, merged.mean) == (4, 20.0, 30.0, 24.0)
    assert await downsample(sessions, raw_days=7, now=NOW) == 0


async def test_a_series_joins_minute_means_and_raw_values_oldest_first(sessions):
    old = NOW - timedelta(days=8)
    await add(sessions,
              ("dev1", 1, "temp_c", old, 20.0),
              ("dev1", 2, "temp_c", old + timedelta(seconds=30), 21.0),
              ("dev1", 3, "temp_c", NOW - timedelta(minutes=10), 23.0),
              ("dev1", 4, "temp_c", NOW - timedelta(minutes=5), 24.0),
              ("dev1", 4, "rh_pct", NOW - timedelta(minutes=5), 55.0),
              ("dev2", 4, "temp_c", NOW - timedelta(minutes=5), 30.0))
    await downsample(sessions, raw_days=7, now=NOW)

    assert await series(sessions, "hq", "dev1", "temp_c", since=NOW - timedelta(days=9)) == [
        (old, 20.5), (NOW - timedelta(minutes=10), 23.0), (NOW - timedelta(minutes=5), 24.0)]
    assert await series(sessions, "hq", "dev1", "temp_c", since=NOW - timedelta(hours=24)) == [
        (NOW - timedelta(minutes=10), 23.0), (NOW - timedelta(minutes=5), 24.0)]


async def test_the_registry_adds_once_removes_and_names_boards_heard_before_it_existed(sessions):
    assert await register_device(sessions, "hq", "esp32-a1", "luis", NOW)
    assert not await register_device(sessions, "hq", "esp32-a1", "luis", NOW)  # already there
    assert await register_device(sessions, "lab", "esp32-b2", "luis", NOW)
    async with sessions() as session, session.begin():  # boards that published before the allow-list existed
        session.add_all(Device(site="hq", device=name, first_seen=NOW, last_seen=NOW) for name in ("esp32-a1", "old"))
    assert await registered_devices(sessions) == [("hq", "esp32-a1"), ("lab", "esp32-b2")]
    assert await heard_but_unregistered(sessions) == [("hq", "old")]
    assert await unregister_device(sessions, "lab", "esp32-b2")
    assert not await unregister_device(sessions, "lab", "esp32-b2")
    assert await registered_devices(sessions) == [("hq", "esp32-a1")]
