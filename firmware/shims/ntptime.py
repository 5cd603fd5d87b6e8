"""Host stand-in for MicroPython's `ntptime`: the host clock is already right, so settime() is a no-op."""
host = "pool.ntp.org"
timeout = 1


def time():
    import time as _t

    return int(_t.time())


def settime():
    pass
