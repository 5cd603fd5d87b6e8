"""`coop ingest`: a process that only stores the boards' telemetry, one of a group that splits the stream.

Each process joins the MQTT 5 shared subscription `$share/<COOP_MQTT_SHARE_GROUP>/coop/+/+/telemetry`: the
broker gives each message to one member, and a member that dies leaves its unacknowledged messages to be
delivered again. Stored readings are unique by (site, device, boot, seq, key), so whatever is delivered twice
is stored once. Alerts and the boards' availability stay with `coop run` (docs/sensors.md).
"""
import asyncio
import logging
import signal
import socket
import sys

from bot.sensors import ingest_client_id
from bot.settings import Settings
from chain.db import create_engine, sessionmaker
from iot import store as iot_store
from iot.broker import BrokerURLError, MqttURL
from iot.ingest import Ingestor

log = logging.getLogger(__name__)


def run(settings: Settings, name: str | None) -> int:
    """Ingests until SIGINT or SIGTERM; returns the exit code (2: the settings do not allow it, said why)."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.mqtt_url is None:
        print("coop ingest: set COOP_MQTT_URL to the broker (the embedded broker lives inside `coop run` and has "
              "no shared subscriptions)", file=sys.stderr)
        return 2
    try:
        if MqttURL.parse(settings.mqtt_url).protocol != 5:
            raise BrokerURLError("shared subscriptions need MQTT 5: remove protocol=3.1.1")
    except BrokerURLError as e:
        print(f"coop ingest: COOP_MQTT_URL: {e}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # for the SQLite default
    try:
        iot_store.migrate(settings.database_url)  # the assistant may not have run against this database yet
    except Exception as e:  # the database is away or not the assistant's: say so, not a traceback
        print(f"coop ingest: could not open the database: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
        return 1
    return asyncio.run(_ingest(settings, name or socket.gethostname()))


async def _ingest(settings: Settings, name: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = create_engine(settings.database_url)
    try:
        ingestor = Ingestor(sessionmaker(engine), settings.mqtt_url, share_group=settings.mqtt_share_group,
                            client_id=ingest_client_id(settings.database_url, name))
        await ingestor.start()
        try:
            await _say_when_subscribed(ingestor, stop)
            await stop.wait()
        finally:
            await ingestor.stop()
    finally:
        await engine.dispose()
    s = ingestor.stats
    print(f"coop ingest {name}: stored {s.stored} telemetry messages ({s.duplicates} already stored); "
          f"dropped {s.malformed} malformed, {s.unknown} from unregistered boards, {s.failed} that failed", flush=True)
    return 0


async def _say_when_subscribed(ingestor: Ingestor, stop: asyncio.Event) -> None:
    """One line on stdout once the subscription is in place (until then the broker keeps nothing for us)."""
    subscribed = asyncio.create_task(ingestor.subscribed.wait())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([subscribed, stopped], return_when=asyncio.FIRST_COMPLETED)
    for task in (subscribed, stopped):
        task.cancel()
    if ingestor.subscribed.is_set():
        print(f"coop ingest: subscribed to {', '.join(t for t, _ in ingestor.topics)} at {ingestor.url}", flush=True)
