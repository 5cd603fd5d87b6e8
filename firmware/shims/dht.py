"""Host stand-in for MicroPython's `dht`: plausible greenhouse air readings."""
import random


class DHTBase:
    def __init__(self, pin):
        self.pin = pin
        self._t = self._h = None

    def measure(self):
        self._t = round(22.5 + random.uniform(-1.0, 1.0), 1)
        self._h = round(60.0 + random.uniform(-3.0, 3.0), 1)

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h


class DHT11(DHTBase):
    pass


class DHT22(DHTBase):
    pass
