"""What ingestion logs about a message is safe to read: a topic is whatever a client published, so it is
quoted (%r) and cannot forge a key=value of the log line."""
import logging

from tests.iot.conftest import until
from tests.iot.test_ingest import ingest  # noqa: F401 (the fixture)


async def test_a_malformed_topic_is_logged_quoted(site, boards, ingest, caplog):  # noqa: F811
    await ingest()
    board = boards(will=False)
    forged = f"coop/{site}/dev1 reason=forged/telemetry"
    with caplog.at_level(logging.WARNING, logger="iot.ingest"):
        board.client.publish(forged, b'{"v": 1, "seq": 1, "readings": {"temp_c": 20}}', qos=1)
        await until(lambda: any("=forged" in r.getMessage() for r in caplog.records), what="the log line")
    [line] = [r.getMessage() for r in caplog.records if "=forged" in r.getMessage()]
    assert f"topic={forged!r} reason=bad_topic" in line
    board.close()
