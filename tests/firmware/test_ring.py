"""The bounded telemetry ring, alone and inside a board whose broker never answers."""
import json

import pytest

from ring import Ring

from .conftest import FakeClock, free_port, make_node


def test_ring_drops_the_oldest_when_full_and_counts_it():
    ring = Ring(3)
    dropped = [ring.push(n) for n in range(1, 6)]
    assert dropped == [False, False, False, True, True]
    assert ring.dropped == 2 and len(ring) == 3
    assert [ring.pop() for _ in range(3)] == [3, 4, 5]
    assert ring.peek() is None
    with pytest.raises(IndexError):
        ring.pop()


def test_ring_keeps_order_across_wraparound():
    ring = Ring(4)
    out = []
    for n in range(1, 11):
        ring.push(n)
        if n % 3 == 0:
            out.append(ring.pop())
    out += [ring.pop() for _ in range(len(ring))]
    assert out == sorted(out) and ring.dropped == 10 - len(out)


def test_a_board_without_broker_keeps_the_newest_readings_and_backs_off_exponentially():
    clock = FakeClock()
    board = make_node("fwtest-nobroker", free_port(), clock=clock, buffer=3, backoff_s=[1, 8])
    attempts = []
    connect = board.connect
    board.connect = lambda: attempts.append(clock.ms) or connect()

    board.run(cycles=5)  # 50 s of fake time, nothing listening on the port

    assert board.ring.dropped == 2
    assert [json.loads(board.ring.pop())["seq"] for _ in range(3)] == [3, 4, 5]
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[:4] == [1000, 2000, 4000, 8000] and set(gaps[4:]) == {8000}  # doubling, then the cap
    assert board.wdt.feeds >= len(attempts)
