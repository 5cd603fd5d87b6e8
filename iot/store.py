"""The sensors' tables (SQLAlchemy 2, async) and their migrations (Alembic, iot/migrations).

Boards admins registered (only these are heard), devices as ingestion saw them, raw readings (one row per reading key of a telemetry message), and
per-minute aggregates that replace raw rows past the retention time. Tables are prefixed `iot_` and
versioned in `iot_alembic_version`, beside chain/'s and bot/'s in the same database.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import BigInteger, Float, Index, Integer, MetaData, String, UniqueConstraint, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chain.db import NAMING_CONVENTION
from chain.db import migrate as _migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "iot_alembic_version"


class IotBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RegisteredDevice(IotBase):
    """A board an admin registered (`/device add SITE DEVICE`): ingestion drops what any other client
    publishes, so a stranger who can reach the broker raises no alert."""

    __tablename__ = "iot_registered_devices"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class Device(IotBase):
    """A registered board as ingestion saw it, from its first message. `online` is its retained status (None: never said)."""

    __tablename__ = "iot_devices"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    online: Mapped[bool | None]
    status_at: Mapped[datetime | None]
    malformed: Mapped[int] = mapped_column(Integer, default=0)
    last_malformed: Mapped[str | None] = mapped_column(String(16))  # the reason code (iot.schema.Malformed)
    last_malformed_topic: Mapped[str | None] = mapped_column(String(200))


class Reading(IotBase):
    """One value of one telemetry message. (site, device, boot, seq, key) is unique: a QoS 1 redelivery
    is stored once."""

    __tablename__ = "iot_readings"
    __table_args__ = (UniqueConstraint("site", "device", "boot", "seq", "key"),
                      Index("ix_iot_readings_series", "site", "device", "key", "ts"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    boot: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime]  # UTC, naive
    value: Mapped[float] = mapped_column(Float)


class MinuteAggregate(IotBase):
    """Raw readings of one minute, once they are older than the retention time."""

    __tablename__ = "iot_minutes"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class LatestReading:
    site: str
    device: str
    key: str
    value: float
    ts: datetime


def migrate(url: str, revision: str = "head") -> None:
    """Brings the iot_ tables at `url` to `revision` (blocks; safe inside a running loop)."""
    _migrate(url, revision, migrations=MIGRATIONS)


def dialect_insert(dialect: str, table):
    """INSERT with ON CONFLICT support, on either engine."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def register_device(sessions: async_sessionmaker, site: str, device: str, by: str, now: datetime) -> bool:
    """Registers a board (`now` UTC, naive); False if it already was."""
    async with sessions() as session, session.begin():
        if await session.get(RegisteredDevice, (site, device)) is not None:
            return False
        session.add(RegisteredDevice(site=site, device=device, added_by=by[:64], added_at=now))
    return True


async def unregister_device(sessions: async_sessionmaker, site: str, device: str) -> bool:
    """Forgets a board (its readings stay); False if it was not registered."""
    async with sessions() as session, session.begin():
        result = await session.execute(delete(RegisteredDevice).where(RegisteredDevice.site == site,
                                                                      RegisteredDevice.device == device))
    return result.rowcount > 0


async def registered_devices(sessions: async_sessionmaker) -> list[tuple[str, str]]:
    """(site, device) of every registered board, sorted."""
    async with sessions() as session:
        rows = await session.execute(select(RegisteredDevice.site, RegisteredDevice.device)
                                     .order_by(RegisteredDevice.site, RegisteredDevice.device))
    return [tuple(row) for row in rows]


def is_registered():
    """A condition on Device rows: an admin registered that board."""
    return select(RegisteredDevice).where(RegisteredDevice.site == Device.site,
                                          RegisteredDevice.device == Device.device).exists()


async def heard_but_unregistered(sessions: async_sessionmaker) -> list[tuple[str, str]]:
    """Boards that published before the allow-list existed and nobody registered since (they are not heard)."""
    async with sessions() as session:
        rows = await session.execute(select(Device.site, Device.device).where(~is_registered())
                                     .order_by(Device.site, Device.device))
    return [tuple(row) for row in rows]


async def latest(sessions: async_sessionmaker, site: str | None = None) -> list[LatestReading]:
    """The newest raw value of every (site, device, key), optionally for one site."""
    newest = select(Reading.site, Reading.device, Reading.key, func.max(Reading.ts).label("ts")).group_by(
        Reading.site, Reading.device, Reading.key)
    if site is not None:
        newest = newest.where(Reading.site == site)
    newest = newest.subquery()
    query = (select(Reading.site, Reading.device, Reading.key, Reading.value, Reading.ts)
             .join(newest, (Reading.site == newest.c.site) & (Reading.device == newest.c.device)
                   & (Reading.key == newest.c.key) & (Reading.ts == newest.c.ts))
             .order_by(Reading.site, Reading.device, Reading.key, Reading.id.desc()))
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    result: dict[tuple[str, str, str], LatestReading] = {}
    for row in rows:  # two readings at the same ts: the one stored last (highest id, first here) wins
        result.setdefault((row.site, row.device, row.key), LatestReading(*row))
    return list(result.values())


async def series(sessions: async_sessionmaker, site: str, device: str, key: str,
                 since: datetime) -> list[tuple[datetime, float]]:
    """(time, value) of one reading since `since`, oldest first: minute means where raw rows were
    downsampled, raw values after."""
    raw = (select(Reading.ts, Reading.value)
           .where(Reading.site == site, Reading.device == device, Reading.key == key, Reading.ts >= since))
    minutes = (select(MinuteAggregate.minute, MinuteAggregate.mean)
               .where(MinuteAggregate.site == site, MinuteAggregate.device == device,
                      MinuteAggregate.key == key, MinuteAggregate.minute >= since))
    async with sessions() as session:
        points = [tuple(row) for row in (await session.execute(raw)).all()]
        points += [tuple(row) for row in (await session.execute(minutes)).all()]
    return sorted(points)


async def downsample(sessions: async_sessionmaker, raw_days: float, now: datetime) -> int:
    """Turns raw readings older than `raw_days` into per-minute aggregates and deletes them, in one
    transaction; returns how many raw rows went. A minute aggregated before (a board's late, buffered
    readings) is merged with the new rows, weighted by count."""
    cutoff = (now - timedelta(days=raw_days)).replace(second=0, microsecond=0)  # whole minutes only
    async with sessions() as session, session.begin():
        dialect = session.bind.dialect.name
        if dialect == "postgresql":
            minute = func.date_trunc("minute", Reading.ts)
            least, greatest = func.least, func.greatest
        else:  # the format SQLAlchemy stores SQLite datetimes in, so the result reads back as one
            minute = func.strftime("%Y-%m-%d %H:%M:00.000000", Reading.ts)
            least, greatest = func.min, func.max
        grouped = (select(Reading.site, Reading.device, Reading.key, minute, func.count(), func.min(Reading.value),
                          func.max(Reading.value), func.avg(Reading.value))
                   .where(Reading.ts < cutoff)
                   .group_by(Reading.site, Reading.device, Reading.key, minute))
        insert = dialect_insert(dialect, MinuteAggregate).from_select(
            ["site", "device", "key", "minute", "count", "min", "max", "mean"], grouped)
        old, new = MinuteAggregate.__table__.c, insert.excluded
        count = old["count"] + new["count"]
        await session.execute(insert.on_conflict_do_update(
            index_elements=["site", "device", "key", "minute"],
            set_={"count": count, "min": least(old["min"], new["min"]), "max": greatest(old["max"], new["max"]),
                  "mean": (old["mean"] * old["count"] + new["mean"] * new["count"]) / count}))
        deleted = await session.execute(delete(Reading).where(Reading.ts < cutoff))
    return deleted.rowcount
