"""Host stand-in for MicroPython's `onewire`: a bus with one DS18B20 on it."""


class OneWireError(Exception):
    pass


class OneWire:
    def __init__(self, pin):
        self.pin = pin

    def scan(self):
        return [bytearray(b"\x28\xff\x4c\x1d\x61\x16\x03\x5a")]  # family 0x28: DS18B20
