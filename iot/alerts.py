"""From readings and availability to notices people should get, at the right time, once.

- Readings go through the rules (iot/rules.py): a condition's start, its end and (critical) reminders.
- A device is offline when its retained status says so (the board's last will) or when it has been silent
  longer than `offline_after`; that is a notice too, and so is its return. Boards that go offline between
  two checks (a power cut takes several) are one notice, at the next check: people get one message, not one
  a board.
- Quiet hours (in the co-op's time zone) hold warnings back; they are delivered as one summary when the
  quiet hours end. Criticals are never held.
- Open conditions, offline devices, held notices and admins' rules are stored, so a restart neither
  forgets an alert nor tells it twice.

`deliver(notice)` is the bot's (it knows who subscribed, and words it in their language).
"""
import asyncio
import logging
import time as clock_time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Float, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from iot.rules import CRITICAL, ENDED, REMINDER, STARTED, WARNING, Condition, Event, Rule, Rules
from iot.store import Device, IotBase, is_registered

log = logging.getLogger(__name__)

OFFLINE, ONLINE, SUMMARY = "offline", "online", "summary"
EASED = "eased"  # a critical condition is over but the reading is still outside its safe (warning) band


@dataclass(frozen=True)
class Notice:
    kind: str  # started | ended | reminder | offline | online | summary
    site: str
    device: str
    severity: str
    at: float
    key: str | None = None  # the reading, for rule notices
    side: str | None = None  # low | high
    value: float | None = None
    low: float | None = None  # the rule's safe band, to say what is safe
    high: float | None = None
    held: tuple["Notice", ...] = ()  # a summary's notices, oldest first; or the boards an offline notice is about

    @classmethod
    def of(cls, event: Event, safe: Rule, kind: str | None = None) -> "Notice":
        """`safe` is the reading's warning band: what people are told is safe, whatever the severity."""
        c = event.condition
        return cls(kind or event.kind, c.site, c.device, c.rule.severity, event.at, c.rule.key, c.side, event.value,
                   safe.low, safe.high)


# ---- what is stored ----

class StoredRule(IotBase):
    """An admin's rule (replaces the default for that site, reading and severity)."""

    __tablename__ = "iot_rules"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    hysteresis: Mapped[float] = mapped_column(Float)
    for_seconds: Mapped[float] = mapped_column(Float)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[float] = mapped_column(Float)


class OpenAlert(IotBase):
    """A condition people were told about and not yet told is over (key "" : the device is offline)."""

    __tablename__ = "iot_open_alerts"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    side: Mapped[str] = mapped_column(String(8))
    since: Mapped[float] = mapped_column(Float)
    started: Mapped[float] = mapped_column(Float)
    reminded: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)


class HeldNotice(IotBase):
    """A warning held back during quiet hours, for the summary (deleted once summarized); or a board gone
    offline, until the next check tells it with the others that went offline meanwhile (`notice` carries
    `UNTIL_CHECK`)."""

    __tablename__ = "iot_held_notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice: Mapped[dict[str, Any]] = mapped_column(JSON)


UNTIL_CHECK = "until_check"  # in a HeldNotice's JSON: not held for quiet hours, only until the next check


def _stored(notice: Notice, until_check: bool = False) -> dict[str, Any]:
    return asdict(notice) | ({UNTIL_CHECK: True} if until_check else {})


def _notice(row: HeldNotice) -> Notice:
    return Notice(**{k: v for k, v in row.notice.items() if k not in ("held", UNTIL_CHECK)})


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "QuietHours":
        """"22:00-07:00"."""
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        return cls(start, end)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # across midnight


@dataclass
class Alerts:
    sessions: Any  # async_sessionmaker
    deliver: Callable[[Notice], Awaitable[None]]
    zone: str = "America/New_York"
    quiet: QuietHours | None = None
    offline_after: float = 600.0  # seconds of silence
    remind_seconds: float = 3600.0
    clock: Callable[[], float] = clock_time.time
    rules: Rules = field(default_factory=Rules)
    _last_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _offline: set[tuple[str, str]] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.rules.remind_seconds = self.remind_seconds
        self._zone = ZoneInfo(self.zone)

    async def load(self) -> None:
        """Admins' rules, what was open before a restart, and when each board was last heard from (one that
        fell silent while the assistant was down is still noticed)."""
        async with self.sessions() as session:
            for row in (await session.scalars(select(Device).where(Device.online.is_not(False),
                                                                   is_registered()))).all():
                self._last_seen[(row.site, row.device)] = row.last_seen.replace(tzinfo=timezone.utc).timestamp()
            for row in (await session.scalars(select(StoredRule))).all():
                self.rules.set_rule(Rule(row.key, row.low, row.high, row.severity, row.hysteresis, row.for_seconds,
                                         row.site))
            for row in (await session.scalars(select(OpenAlert))).all():
                if row.key == "":
                    self._offline.add((row.site, row.device))
                    continue
                rule = next((r for r in self.rules.rules_for(row.site, row.key) if r.severity == row.severity), None)
                if rule is not None:
                    self.rules.open[(row.site, row.device, row.key, row.severity)] = Condition(
                        row.site, row.device, rule, row.side, row.since, row.value, True, row.started, row.reminded)

    # ---- what comes in ----

    async def reading(self, site: str, device: str, readings: dict[str, float], at: float) -> None:
        """A new (not duplicate) telemetry message, in order per device."""
        async with self._lock:
            self._last_seen[(site, device)] = self.clock()
            if (site, device) in self._offline:
                await self._back_online(site, device, at)
            events = self.rules.observe(site, device, readings, at)
            for event in events:
                await self._event(event, events)

    async def status(self, site: str, device: str, online: bool, at: float) -> None:
        async with self._lock:
            if online:
                self._last_seen[(site, device)] = self.clock()
                if (site, device) in self._offline:
                    await self._back_online(site, device, at)
            elif (site, device) not in self._offline:
                await self._gone_offline(site, device, at)

    async def check(self) -> None:
        """Regularly: reminders, silent devices, the boards gone offline since the last check (one notice),
        and the summary once quiet hours are over."""
        async with self._lock:
            now = self.clock()
            for event in self.rules.check(now):
                await self._store_open(event.condition)
                if (event.condition.site, event.condition.device) not in self._offline:  # no news from it
                    await self._emit(Notice.of(event, self._safe(event.condition)))
            for (site, device), seen in list(self._last_seen.items()):
                if now - seen > self.offline_after and (site, device) not in self._offline:
                    await self._gone_offline(site, device, now)
            await self._tell_offline()
            if not self._quiet(now):
                await self._summary(now)

    async def forget(self, site: str, device: str) -> None:
        """A board an admin removed: nothing more is told about it (not even that it fell silent), and what
        was open about it is closed without a word."""
        async with self._lock:
            self._last_seen.pop((site, device), None)
            self._offline.discard((site, device))
            for key in [k for k in self.rules.open if k[:2] == (site, device)]:
                del self.rules.open[key]
            async with self.sessions() as session, session.begin():
                await session.execute(delete(OpenAlert).where(OpenAlert.site == site, OpenAlert.device == device))
                untold = [row.id for row in await self._held_rows(session, until_check=True)
                          if (row.notice["site"], row.notice["device"]) == (site, device)]
                await session.execute(delete(HeldNotice).where(HeldNotice.id.in_(untold)))

    async def held(self) -> list[Notice]:
        """The warnings held for the summary after quiet hours, oldest first."""
        async with self.sessions() as session:
            return [_notice(row) for row in await self._held_rows(session, until_check=False)]

    def quiet_until(self) -> datetime | None:
        """When the quiet hours end, in the co-op's time zone, if they are on now."""
        now = self.clock()
        if not self._quiet(now):
            return None
        moment = datetime.fromtimestamp(now, timezone.utc).astimezone(self._zone)
        end = datetime.combine(moment.date(), self.quiet.end, self._zone)
        return end if end > moment else end + timedelta(days=1)

    async def set_rule(self, rule: Rule, by: str) -> None:
        async with self._lock:
            async with self.sessions() as session, session.begin():
                await session.merge(StoredRule(site=rule.site, key=rule.key, severity=rule.severity, low=rule.low,
                                               high=rule.high, hysteresis=rule.hysteresis,
                                               for_seconds=rule.for_seconds, changed_by=by, changed_at=self.clock()))
            self.rules.set_rule(rule)

    # ---- what goes out ----

    async def _event(self, event: Event, together: list[Event]) -> None:
        c = event.condition
        if event.kind == STARTED:
            # Reminders run on the assistant's clock (a board's backlog may carry old timestamps).
            c = self.rules.open[(c.site, c.device, c.rule.key, c.rule.severity)] = replace(c, reminded=self.clock())
            await self._store_open(c)
        elif event.kind == ENDED:
            await self._close(c.site, c.device, c.rule.key, c.rule.severity)
        kind = self._as_people_hear_it(event, together)
        if kind is not None:
            await self._emit(Notice.of(event, self._safe(c), kind))

    def _as_people_hear_it(self, event: Event, together: list[Event]) -> str | None:
        """A reading's warning and critical bands make one story: worse, better but not safe yet, back to
        normal, told once each (None: nothing new to tell)."""
        c = event.condition
        same = [e for e in together if e is not event and e.condition.rule.key == c.rule.key]
        other = self.rules.open.get((c.site, c.device, c.rule.key, WARNING if c.rule.severity == CRITICAL else CRITICAL))
        if c.rule.severity == WARNING and event.kind == STARTED:
            critical = any(e.kind == STARTED for e in same) or (other is not None and other.firing)
            return None if critical else STARTED  # the urgent alert says more
        if c.rule.severity == CRITICAL and event.kind == ENDED:
            if any(e.kind == ENDED for e in same):
                return None  # the warning's "back to normal" said it
            return EASED if other is not None else ENDED  # still outside the safe band, or back inside
        return event.kind

    def _safe(self, c: Condition) -> Rule:
        return next((r for r in self.rules.rules_for(c.site, c.rule.key) if r.severity == WARNING), c.rule)

    async def _gone_offline(self, site: str, device: str, at: float) -> None:
        """Stored with its notice, which waits for the next check (`_tell_offline`): a restart meanwhile
        neither loses it nor tells it twice."""
        self._offline.add((site, device))
        async with self.sessions() as session, session.begin():
            await session.merge(OpenAlert(site=site, device=device, key="", severity=WARNING, side="", since=at,
                                          started=at, reminded=at, value=None))
            session.add(HeldNotice(notice=_stored(Notice(OFFLINE, site, device, WARNING, at), until_check=True)))

    async def _tell_offline(self) -> None:
        """The boards gone offline since the last check, in one notice (during quiet hours, each is held for
        the summary). Kept until told: a failed delivery is tried again at the next check."""
        async with self.sessions() as session:
            rows = await self._held_rows(session, until_check=True)
        if not rows:
            return
        gone = tuple(sorted((_notice(row) for row in rows), key=lambda n: (n.site, n.device)))
        ids = [row.id for row in rows]
        if self._quiet(self.clock()):
            async with self.sessions() as session, session.begin():
                session.add_all(HeldNotice(notice=_stored(notice)) for notice in gone)
                await session.execute(delete(HeldNotice).where(HeldNotice.id.in_(ids)))
            log.info("alert held for quiet hours: offline %s", ", ".join(f"{n.site}/{n.device}" for n in gone))
            return
        together = gone[0] if len(gone) == 1 else Notice(OFFLINE, "", "", WARNING, max(n.at for n in gone), held=gone)
        try:
            await self.deliver(together)  # told once: the same rows make the same notice, and so the same event
        except Exception:
            log.exception("delivering an alert failed (tried again at the next check): %s", together)
            return
        async with self.sessions() as session, session.begin():
            await session.execute(delete(HeldNotice).where(HeldNotice.id.in_(ids)))

    async def _back_online(self, site: str, device: str, at: float) -> None:
        await self._tell_offline()  # its "stopped reporting" comes first
        self._offline.discard((site, device))
        await self._close(site, device, "", WARNING)
        await self._emit(Notice(ONLINE, site, device, WARNING, at))

    async def _store_open(self, c: Condition) -> None:
        async with self.sessions() as session, session.begin():
            await session.merge(OpenAlert(site=c.site, device=c.device, key=c.rule.key, severity=c.rule.severity,
                                          side=c.side, since=c.since, started=c.started, reminded=c.reminded,
                                          value=c.value))

    async def _close(self, site: str, device: str, key: str, severity: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(delete(OpenAlert).where(
                OpenAlert.site == site, OpenAlert.device == device, OpenAlert.key == key,
                OpenAlert.severity == severity))

    async def _emit(self, notice: Notice) -> None:
        if notice.severity != CRITICAL and self._quiet(self.clock()):
            async with self.sessions() as session, session.begin():
                session.add(HeldNotice(notice=_stored(notice)))
            log.info("alert held for quiet hours: %s site=%r device=%r key=%r", notice.kind, notice.site, notice.device,
                     notice.key)
            return
        await self._deliver(notice)

    async def _summary(self, now: float) -> None:
        async with self.sessions() as session, session.begin():
            rows = await self._held_rows(session, until_check=False)
            if not rows:
                return
            held = tuple(_notice(row) for row in rows)
            await session.execute(delete(HeldNotice).where(HeldNotice.id.in_([row.id for row in rows])))
        await self._deliver(Notice(SUMMARY, "", "", WARNING, now, held=held))

    @staticmethod
    async def _held_rows(session, until_check: bool) -> list[HeldNotice]:
        """Held notices, oldest first: those waiting for the next check, or those for the summary."""
        rows = (await session.scalars(select(HeldNotice).order_by(HeldNotice.id))).all()
        return [row for row in rows if bool(row.notice.get(UNTIL_CHECK)) == until_check]

    async def _deliver(self, notice: Notice) -> None:
        try:
            await self.deliver(notice)
        except Exception:
            log.exception("delivering an alert failed: %s", notice)

    def _quiet(self, at: float) -> bool:
        if self.quiet is None:
            return False
        return self.quiet.contains(datetime.fromtimestamp(at, timezone.utc).astimezone(self._zone).time())


__all__ = ["Alerts", "EASED", "ENDED", "HeldNotice", "Notice", "OFFLINE", "ONLINE", "OpenAlert", "QuietHours",
           "REMINDER", "STARTED", "StoredRule", "SUMMARY"]
