"""The sensors' part of the composition root: the broker (COOP_MQTT_URL, or an embedded one), ingestion
into the database, and alerts delivered through the Announcer (and so the notifier)."""
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.scheduler import Scheduler
from bot.settings import Settings
from handlers.readings import CHARTS_DIR
from iot import store as iot_store
from iot.alerts import Alerts, Notice, QuietHours
from iot.broker import EmbeddedBroker
from iot.ingest import Ingestor
from iot.schema import Telemetry

log = logging.getLogger(__name__)

MQTT_URL_FILE = "mqtt.url"  # the embedded broker's URL, in the data dir, for `coop simulate` and tests
ALERT_CHECK_SECONDS = 15.0  # reminders, sensors gone offline (told together), the summary after quiet hours
TIDY_SECONDS = 3600.0


def ingest_client_id(database_url: str, name: str = "") -> str:
    """One persistent MQTT session per database (and per `coop ingest --name`): what arrives while the
    process is down waits for it. The URL is hashed: it may hold a password."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return f"coop-ingest-{digest}-{name}" if name else f"coop-ingest-{digest}"


class Sensors:
    def __init__(self, settings: Settings, sessions: async_sessionmaker, scheduler: Scheduler,
                 tell: Callable[[Notice], Awaitable[None]]):
        """`tell`: delivers an alert's notice to the members who hear it (the Announcer)."""
        s = settings
        self.settings, self.sessions, self.scheduler = settings, sessions, scheduler
        self.broker: EmbeddedBroker | None = None
        self.alerts = Alerts(sessions, tell, zone=s.timezone,
                             quiet=QuietHours.parse(s.quiet_hours) if s.quiet_hours else None,
                             offline_after=s.sensor_offline_after, remind_seconds=s.alert_remind_after)
        self.ingestor: Ingestor | None = None

    async def start(self) -> None:
        s = self.settings
        await self.alerts.load()
        if unheard := await iot_store.heard_but_unregistered(self.sessions):
            log.warning("sensors: boards that published before are not registered, so not heard: %s; an admin "
                        "registers each real one with /device add SITE DEVICE",
                        ", ".join(repr(f"{site}/{device}") for site, device in unheard))
        url = s.mqtt_url
        if url is None:
            self.broker = EmbeddedBroker()
            url = await self.broker.start()
            (s.data_dir / MQTT_URL_FILE).write_text(url + "\n")
        self.ingestor = Ingestor(self.sessions, url, client_id=ingest_client_id(s.database_url),
                                 on_telemetry=self._telemetry, on_status=self.alerts.status)
        await self.ingestor.start()
        self.scheduler.every(ALERT_CHECK_SECONDS, self.alerts.check, "alerts")
        self.scheduler.every(TIDY_SECONDS, self._tidy, "tidy")

    async def _telemetry(self, t: Telemetry) -> None:
        await self.alerts.reading(t.site, t.device, t.readings, t.ts)

    async def _tidy(self) -> None:
        """Hourly: old raw readings into per-minute aggregates, and /readings charts older than an hour
        (sent long since) deleted."""
        cutoff = datetime.now().timestamp() - 3600
        for chart in (self.settings.data_dir / CHARTS_DIR).glob("*.png"):
            if chart.stat().st_mtime < cutoff:
                chart.unlink(missing_ok=True)
        days = self.settings.readings_raw_days
        moved = await iot_store.downsample(self.sessions, days, datetime.now(timezone.utc).replace(tzinfo=None))
        if moved:
            log.info("sensors: %d raw readings older than %s days kept as per-minute aggregates", moved, days)

    async def stop(self) -> None:
        if self.ingestor is not None:
            await self.ingestor.stop()
        if self.broker is not None:
            await self.broker.stop()
