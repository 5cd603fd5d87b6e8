"""Host stand-in for MicroPython's `ds18x20`: plausible nutrient-solution temperatures."""
import random


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in (0x10, 0x22, 0x28)]

    def convert_temp(self):
        pass

    def read_temp(self, rom):
        return round(20.5 + random.uniform(-0.3, 0.3), 4)  # 12-bit: 1/16 degC steps
