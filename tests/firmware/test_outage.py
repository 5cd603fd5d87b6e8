"""A broker outage mid-run: the firmware buffers, backs off, and delivers everything in order on return."""
import json

from .conftest import Subscriber, make_node


def test_buffered_readings_after_a_broker_outage_arrive_in_order_with_no_gaps_in_seq(private_broker, site):
    print("private broker:", private_broker.kind, "on port", private_broker.port)
    sub = Subscriber(private_broker.port, "coop/%s/+/telemetry" % site)
    board = make_node(site, private_broker.port, backoff_s=[1, 8])  # retries within the 10 s interval
    try:
        board.run(cycles=3)
        assert sub.wait_for(lambda: len(sub.on("telemetry")) == 3)

        private_broker.stop()
        board.run(cycles=6)  # readings go on; publishes and reconnects fail; all of it in the ring
        assert board.mqtt is None and len(board.ring) == 6 and board.ring.dropped == 0

        private_broker.start()
        assert sub.wait_for(lambda: sub.subscribed.is_set()), "subscriber did not come back"
        board.run(cycles=2)  # reconnects within the first interval and flushes the backlog oldest first
        assert sub.wait_for(lambda: len(sub.on("telemetry")) >= 11)

        seqs = [json.loads(m.payload)["seq"] for m in sub.on("telemetry")]
        assert seqs == list(range(1, 12))
        assert len(board.ring) == 0
    finally:
        board.close()
        sub.close()
