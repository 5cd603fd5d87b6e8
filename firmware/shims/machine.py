"""Host stand-in for MicroPython's `machine`: pins, watchdog, reset, a unique id and an SHT31 on I2C."""
import random
import time
import uuid

import sht31 as _sht31  # the firmware's own driver module, for its CRC


class Pin:
    IN, OUT, OPEN_DRAIN = 1, 3, 7
    PULL_UP, PULL_DOWN = 2, 1

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._value = value or 0

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v


class WDT:
    """Records feeds; on the host a missed feed is the test's business, not a reset."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class SoftI2C:
    """An I2C bus with an SHT31 at 0x44: answers a single-shot measurement with CRC'd words."""

    def __init__(self, *args, sda=None, scl=None, freq=400000, **kwargs):
        self._pending = False

    def scan(self):
        return [0x44]

    def writeto(self, addr, buf, stop=True):
        if addr != 0x44:
            raise OSError(19, "ENODEV")  # errno as MicroPython raises it: no ACK
        self._pending = bytes(buf) == b"\x24\x00"
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        if addr != 0x44 or not self._pending:
            raise OSError(19, "ENODEV")
        self._pending = False
        temp = 23.0 + random.uniform(-0.5, 0.5)
        rh = 58.0 + random.uniform(-2, 2)
        t = int((temp + 45) * 65535 / 175)
        h = int(rh * 65535 / 100)
        out = bytearray()
        for word in (t, h):
            pair = bytes([word >> 8, word & 0xFF])
            out += pair + bytes([_sht31.crc8(pair)])
        return bytes(out[:n])


I2C = SoftI2C


def unique_id():
    return uuid.getnode().to_bytes(6, "big")


def reset():
    raise SystemExit("machine.reset()")


def freq():
    return 240000000


def idle():
    time.sleep(0.001)
