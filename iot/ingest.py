"""MQTT ingestion: the boards' telemetry and availability into the database, none lost, none twice.

paho-mqtt runs its network loop on its own thread; each message is handed to the asyncio loop and
stored in batches (one transaction per batch). A QoS 1 message is acknowledged only after the batch
holding it committed (paho's manual_ack), and the session is persistent: if the process dies
before that, the broker delivers the message again. Stored rows are unique by (device, boot, seq,
key), so a redelivery is recognised and stored once: at least once on the wire, exactly once here.

Several processes may split one stream: given a `share_group`, the Ingestor subscribes to telemetry
as an MQTT 5 shared subscription (`$share/<group>/coop/+/+/telemetry`), and the broker hands each message
to one member of the group. Such a member stores telemetry only: statuses are retained messages, which a
broker never sends to a shared subscription (MQTT 5 §4.8.2), so they stay with the process that alerts.

Only boards an admin registered (iot_registered_devices) are heard; what anyone else publishes is
counted and dropped. Each message is handled on its own: one that cannot be read, or that the database
refuses, is counted, logged and dropped, and never stops the rest.
"""
import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import async_sessionmaker

from iot.broker import BrokerURLError, MqttURL
from iot.schema import (MAX_PAYLOAD, STATUS_TOPIC, TELEMETRY_TOPIC, Malformed, Telemetry, parse_status,
                        parse_telemetry, parse_topic)
from iot.store import Device, Reading, RegisteredDevice, dialect_insert

log = logging.getLogger(__name__)

MAX_BATCH = 5000  # messages per transaction
RECEIVE_WINDOW = 10_000  # MQTT 5: unacknowledged messages the broker may send us ahead of our acks
SESSION_EXPIRY = 7 * 24 * 3600  # MQTT 5: how long the broker keeps our session (and queues) while we are away
RETRY_DELAYS = (0.5, 1, 2, 5, 10, 30)  # seconds between attempts to store a batch while the database fails
MAX_UNKNOWN_TRACKED = 1000  # unregistered boards remembered by name (for counting and logging once)
# MQTT 5: the broker does not send us a packet larger than this (a payload over schema.MAX_PAYLOAD is
# refused anyway; this keeps it from being sent and buffered at all). The topic and headers fit in 1 KB.
MAX_PACKET = MAX_PAYLOAD + 1024


def _transient(error: Exception) -> bool:
    """The database is unreachable or busy: the same batch is tried again later."""
    return (isinstance(error, (OperationalError, InterfaceError, OSError))
            or isinstance(error, DBAPIError) and error.connection_invalidated)


def _about_the_schema(error: Exception) -> bool:
    """Every message would fail alike (a missing table or column): they are left to the broker, not dropped."""
    return _transient(error) or isinstance(error, ProgrammingError)

OnTelemetry = Callable[[Telemetry], Awaitable[None]]
OnStatus = Callable[[str, str, bool, float], Awaitable[None]]


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0  # new telemetry messages stored
    duplicates: int = 0  # telemetry messages already stored (QoS 1 redelivery, a board resending)
    malformed: int = 0
    malformed_by_device: Counter = field(default_factory=Counter)  # "site/device" ("?" when the topic is bad)
    unknown: int = 0  # messages from boards nobody registered (dropped)
    unknown_by_device: Counter = field(default_factory=Counter)  # "site/device", the first MAX_UNKNOWN_TRACKED
    failed: int = 0  # messages that raised while read, stored or told (dropped, logged)


def shared(group: str, topic: str) -> str:
    """`topic` as a shared subscription of `group`: the broker gives each message to one member of the group."""
    return f"$share/{group}/{topic}"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


class Ingestor:
    """Subscribes to every site's telemetry and status topics and stores what arrives. `on_telemetry`
    is awaited once per new message after it is stored; `on_status` when a board's availability
    changes (the retained status sent again on every reconnect is not a change). With `share_group`,
    telemetry only, shared with the group's other members (MQTT 5)."""

    def __init__(self, sessions: async_sessionmaker, mqtt_url: str, *, client_id: str = "coop-ingest",
                 share_group: str | None = None, on_telemetry: OnTelemetry | None = None,
                 on_status: OnStatus | None = None, clock: Callable[[], float] = time.time):
        self.sessions, self.url, self.client_id = sessions, MqttURL.parse(mqtt_url), client_id
        if share_group and self.url.protocol != 5:  # a 3.1.1 broker may take `$share/…` for a plain topic: silence
            raise BrokerURLError("shared subscriptions need an MQTT 5 broker (the URL says protocol=3.1.1)")
        self.topics = ([(shared(share_group, TELEMETRY_TOPIC), 1)] if share_group
                       else [(TELEMETRY_TOPIC, 1), (STATUS_TOPIC, 1)])
        self.on_telemetry, self.on_status, self.clock = on_telemetry, on_status, clock
        self.stats = IngestStats()
        self.subscribed = asyncio.Event()  # set while connected and subscribed
        self._inbox: deque = deque()  # (connection, topic, payload, mid, qos, arrived), filled by paho's thread
        self._wake = asyncio.Event()
        self._waking = False
        self._connection = 0  # counts connections: a message id is only acknowledged on its own connection
        self._client = None
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        """Starts connecting (and reconnecting, with backoff) and storing; returns at once. Await
        `subscribed.wait()` to know the subscription is in place."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self._loop = asyncio.get_running_loop()
        v5 = self.url.protocol == mqtt.MQTTv5
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=self.url.protocol,
                             clean_session=None if v5 else False, manual_ack=True)
        client.on_connect, client.on_subscribe = self._on_connect, self._on_subscribe
        client.on_disconnect, client.on_message = self._on_disconnect, self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        options = {}
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval, properties.ReceiveMaximum = SESSION_EXPIRY, RECEIVE_WINDOW
            properties.MaximumPacketSize = MAX_PACKET
            options = {"clean_start": False, "properties": properties}
        self._client = client
        self._task = asyncio.create_task(self._run(), name="iot-ingest")
        self.url.connect(client, **options)
        client.loop_start()
        log.info("ingesting url=%s client_id=%s topics=%s", self.url, self.client_id, [t for t, _ in self.topics])

    async def stop(self, *, end_session: bool = False) -> None:
        """Stores and acknowledges what has arrived, then disconnects. Messages still in flight stay
        unacknowledged: the broker keeps them for our next session. `end_session` ends that session
        instead (MQTT 5), for a client id that will not come back (tests, benchmarks)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._client is not None:
            properties = None
            if end_session and self.url.protocol == 5:
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties

                properties = Properties(PacketTypes.DISCONNECT)
                properties.SessionExpiryInterval = 0
            self._client.disconnect(properties=properties)
            await asyncio.to_thread(self._client.loop_stop)
        self.subscribed.clear()

    # paho's network thread: nothing here touches the database or the stats.

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("mqtt connect refused url=%s reason=%s", self.url, reason_code)
            return
        self._connection += 1
        log.info("mqtt connected url=%s session_present=%s", self.url, flags.session_present)
        client.subscribe(self.topics)  # again each time: the broker may have lost it

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("mqtt subscription refused reasons=%s", [str(code) for code in reason_codes])
            return
        self._loop.call_soon_threadsafe(self.subscribed.set)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._stopping:
            log.warning("mqtt disconnected url=%s reason=%s (reconnecting)", self.url, reason_code)
        self._loop.call_soon_threadsafe(self.subscribed.clear)

    def _on_message(self, client, userdata, message) -> None:
        self._inbox.append((self._connection, message.topic, message.payload, message.mid, message.qos, self.clock()))
        if not self._waking:  # one wake-up per batch, not per message
            self._waking = True
            self._loop.call_soon_threadsafe(self._wake.set)

    # The asyncio loop.

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._waking = False  # before draining: a message appended after this wakes us again
            while self._inbox:
                batch = [self._inbox.popleft() for _ in range(min(len(self._inbox), MAX_BATCH))]
                self.stats.received += len(batch)
                try:
                    await self._handle(batch)
                except Exception:  # unacknowledged: the broker delivers them again; ingestion goes on
                    self.stats.failed += len(batch)
                    log.exception("could not handle a batch of %d mqtt messages; left to the broker", len(batch))
            if self._stopping:
                return

    async def _handle(self, batch: list[tuple]) -> None:
        known = await self._retrying(len(batch), self._registered)
        if known is None:
            return  # unacknowledged: the broker delivers them again
        events, devices = self._parse(batch, known)
        stored = await self._retrying(len(batch), self._store_each_alone_if_one_fails, events, devices)
        if stored is None:
            return
        new, changed = stored
        for connection, _, _, mid, qos, _ in batch:  # in order of arrival, as MQTT asks
            if qos and connection == self._connection:
                self._client.ack(mid, qos)
        for event in events:
            try:
                if isinstance(event, Telemetry):
                    key = (event.site, event.device, event.boot, event.seq)
                    if key in new:  # once: a duplicate within the batch has the same key
                        new.discard(key)
                        if self.on_telemetry:
                            await self.on_telemetry(event)
                elif id(event) in changed and self.on_status:
                    await self.on_status(*event)
            except Exception:  # a failing listener must not stop ingestion
                self.stats.failed += 1
                log.exception("mqtt listener failed event=%r", event)

    async def _retrying(self, count: int, step: Callable[..., Awaitable], *args):
        """`step(*args)`, again while the database is unreachable; None once it gave up."""
        for delay in (*RETRY_DELAYS, None):
            try:
                return await step(*args)
            except Exception as e:
                if not _transient(e):
                    raise
                if self._stopping or delay is None:
                    log.exception("could not store a batch of %d mqtt messages; left to the broker", count)
                    return None
                log.exception("could not store a batch of %d mqtt messages; retrying in %ss", count, delay)
                await asyncio.sleep(delay)

    async def _registered(self) -> set[tuple[str, str]]:
        """The allow-list, read for every batch: a board an admin adds (from any process) is heard at once.
        A co-op has tens of boards, so all of it is one small query."""
        async with self.sessions() as session:
            return {tuple(row) for row in await session.execute(
                select(RegisteredDevice.site, RegisteredDevice.device))}

    def _parse(self, batch: list[tuple], known: set[tuple[str, str]]) -> tuple[list, dict]:
        """Telemetry and (site, device, online, at) status events of registered boards in order of arrival,
        and per device its last arrival and malformed messages (count, last reason, last topic)."""
        events, devices = [], {}
        for _, topic, payload, _, _, arrived in batch:
            try:
                self._parse_one(topic, payload, arrived, known, events, devices)
            except Exception:  # a bug or a payload nobody foresaw: that message is lost, not the ingestion
                self.stats.failed += 1
                log.exception("mqtt message dropped: it could not be read topic=%r", topic[:200])
        return events, devices

    def _parse_one(self, topic: str, payload: bytes, arrived: float, known: set, events: list, devices: dict) -> None:
        try:
            site, device, kind = parse_topic(topic)
        except Malformed as e:
            self._malformed("?", topic, e)
            return
        if (site, device) not in known:
            self._unknown(site, device)
            return
        if kind == "status" and not payload:  # someone deleted the retained status: nothing said
            return
        entry = devices.setdefault((site, device), {"seen": arrived, "malformed": 0, "reason": None, "topic": None})
        entry["seen"] = arrived
        try:
            if kind == "telemetry":
                events.append(parse_telemetry(site, device, payload, arrived))
            else:
                events.append((site, device, parse_status(payload), arrived))
        except Malformed as e:
            self._malformed(f"{site}/{device}", topic, e)
            entry.update(malformed=entry["malformed"] + 1, reason=e.reason, topic=topic[:200])

    def _malformed(self, device: str, topic: str, error: Malformed) -> None:
        self.stats.malformed += 1
        self.stats.malformed_by_device[device] += 1
        log.warning("malformed mqtt message dropped topic=%r reason=%s detail=%r", topic[:200], error.reason, str(error))

    def _unknown(self, site: str, device: str) -> None:
        """Counted always; logged once per board (a stranger publishing fast must not flood the log), and
        only so many boards are remembered (nor may one publishing under ever new names fill the memory)."""
        self.stats.unknown += 1
        name = f"{site}/{device}"
        if name in self.stats.unknown_by_device or len(self.stats.unknown_by_device) < MAX_UNKNOWN_TRACKED:
            if name not in self.stats.unknown_by_device:
                log.warning("mqtt messages from an unregistered device dropped site=%r device=%r "
                            "(an admin registers a board with /device add SITE DEVICE)", site, device)
            self.stats.unknown_by_device[name] += 1

    async def _store_each_alone_if_one_fails(self, events: list, devices: dict) -> tuple[set, set]:
        """The batch in one transaction; if the database refuses it (not merely unreachable), each event in a
        transaction of its own, so one message it refuses is counted, logged and dropped, not the rest."""
        try:
            return await self._store(events, devices)
        except Exception as e:
            if _about_the_schema(e):
                raise
            log.exception("storing a batch of mqtt messages failed; storing them one by one")
        new, changed, devices = set(), set(), dict(devices)
        for event in events:
            key = (event.site, event.device) if isinstance(event, Telemetry) else tuple(event[:2])
            alone = {key: devices.pop(key)} if key in devices else {}
            try:
                one_new, one_changed = await self._store([event], alone)
            except Exception as e:
                if _about_the_schema(e):
                    raise
                self.stats.failed += 1
                log.exception("mqtt message dropped: the database refused it site=%r device=%r", *key)
                continue
            new |= one_new
            changed |= one_changed
        if devices:
            await self._store([], devices)
        return new, changed

    async def _store(self, events: list, devices: dict) -> tuple[set, set]:
        """One transaction: devices' last arrival and malformed counts, new readings stored, availability updated.
        Returns the (site, device, boot, seq) of new telemetry and the ids of status events that changed
        a board's availability."""
        telemetry, seen = [], set()
        for event in events:
            if isinstance(event, Telemetry):
                key = (event.site, event.device, event.boot, event.seq)
                if key in seen:
                    self.stats.duplicates += 1
                else:
                    seen.add(key)
                    telemetry.append(event)
        async with self.sessions() as session, session.begin():
            dialect = session.bind.dialect.name
            if devices:
                insert = dialect_insert(dialect, Device.__table__)
                old, new = Device.__table__.c, insert.excluded
                await session.execute(insert.on_conflict_do_update(
                    index_elements=["site", "device"],
                    set_={"last_seen": new.last_seen, "malformed": old.malformed + new.malformed,
                          "last_malformed": func.coalesce(new.last_malformed, old.last_malformed),
                          "last_malformed_topic": func.coalesce(new.last_malformed_topic, old.last_malformed_topic)}),
                    [{"site": site, "device": device, "first_seen": _utc(entry["seen"]), "last_seen": _utc(entry["seen"]),
                      "malformed": entry["malformed"], "last_malformed": entry["reason"],
                      "last_malformed_topic": entry["topic"]} for (site, device), entry in devices.items()])
            stored = set()
            if telemetry:
                insert = dialect_insert(dialect, Reading.__table__).on_conflict_do_nothing().returning(
                    Reading.site, Reading.device, Reading.boot, Reading.seq)
                rows = [{"site": t.site, "device": t.device, "boot": t.boot, "seq": t.seq, "key": key,
                         "ts": ts, "value": value}
                        for t in telemetry for ts in (_utc(t.ts),) for key, value in t.readings.items()]
                stored = {tuple(row) for row in await session.execute(insert, rows)}
            changed = await self._update_status(session, [e for e in events if isinstance(e, tuple)])
        self.stats.stored += len(stored)
        self.stats.duplicates += len(telemetry) - len(stored)
        return stored, changed

    @staticmethod
    async def _update_status(session, statuses: list[tuple]) -> set[int]:
        if not statuses:
            return set()
        keys = {(site, device) for site, device, _, _ in statuses}
        current = dict(((row.site, row.device), row.online) for row in await session.execute(
            select(Device.site, Device.device, Device.online).where(tuple_(Device.site, Device.device).in_(list(keys)))))
        changed, final = set(), {}
        for event in statuses:
            site, device, online, at = event
            if current[(site, device)] != online:
                changed.add(id(event))
                current[(site, device)] = online
            final[(site, device)] = (online, at)
        table = Device.__table__
        await session.execute(
            update(table).where(table.c.site == bindparam("b_site"), table.c.device == bindparam("b_device"))
            .values(online=bindparam("b_online"), status_at=bindparam("b_at")),
            [{"b_site": site, "b_device": device, "b_online": online, "b_at": _utc(at)}
             for (site, device), (online, at) in final.items()])
        return changed
