"""Host stand-in for MicroPython's `utime`: the ticks and sleep_ms functions CPython's time lacks."""
import time as _t

TICKS_PERIOD = 1 << 30  # as on the ESP32 port: ticks wrap, so compare them with ticks_diff
_start = _t.monotonic()

gmtime = _t.gmtime
localtime = _t.localtime
sleep = _t.sleep


def time():
    return int(_t.time())  # the board's time() is whole seconds


def ticks_ms():
    return int((_t.monotonic() - _start) * 1000) % TICKS_PERIOD


def ticks_add(ticks, delta):
    return (ticks + delta) % TICKS_PERIOD


def ticks_diff(a, b):
    return ((a - b + TICKS_PERIOD // 2) % TICKS_PERIOD) - TICKS_PERIOD // 2


def sleep_ms(ms):
    _t.sleep(ms / 1000)
