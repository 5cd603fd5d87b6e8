"""End to end: the firmware's telemetry and status, as the backend's Ingestor stores them (SQLite)."""
import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from chain.db import create_engine, sessionmaker
from iot.ingest import Ingestor
from iot.store import Device, Reading, migrate, register_device

from .conftest import clear_retained, make_node


async def test_the_backend_stores_the_firmwares_readings(broker, site, tmp_path):
    url = "sqlite+aiosqlite:///%s" % (tmp_path / "coop.db")
    migrate(url)
    engine = create_engine(url)
    sessions = sessionmaker(engine)
    await register_device(sessions, site, "esp32-a1", "test", datetime.now(UTC).replace(tzinfo=None))  # /device add
    ingestor = Ingestor(sessions, "mqtt://%s:%d" % broker, client_id="fw-test-" + uuid.uuid4().hex[:8])
    board = make_node(site, broker[1])
    try:
        await ingestor.start()
        await asyncio.wait_for(ingestor.subscribed.wait(), 5)
        await asyncio.to_thread(board.run, 3)  # the firmware blocks like a board; the loop keeps storing

        async def stored():
            async with sessions() as s:
                return (await s.execute(select(Reading).where(Reading.site == site)
                                        .order_by(Reading.seq, Reading.key))).scalars().all()

        for _ in range(100):
            rows = await stored()
            if len(rows) == 9:
                break
            await asyncio.sleep(0.05)
        assert [(r.device, r.boot, r.seq, r.key) for r in rows] == [
            ("esp32-a1", board.boot, seq, key) for seq in (1, 2, 3) for key in ("rh_pct", "temp_c", "water_temp_c")]
        assert ingestor.stats.malformed_by_device.get("%s/esp32-a1" % site, 0) == 0
        async with sessions() as s:
            device = (await s.execute(select(Device).where(Device.site == site))).scalar_one()
        assert device.device == "esp32-a1" and device.online is True
    finally:
        await asyncio.to_thread(board.close)
        await ingestor.stop(end_session=True)
        await engine.dispose()
        clear_retained(broker[1], site)
