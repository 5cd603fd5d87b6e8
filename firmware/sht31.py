"""Minimal SHT31 (Sensirion SHT3x) driver over I2C: one single-shot measurement."""

MEASURE_HIGH = b"\x24\x00"  # single shot, high repeatability, no clock stretching


def crc8(data):
    """Sensirion CRC-8 (poly 0x31, init 0xFF) over two bytes."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class SHT31:
    def __init__(self, i2c, addr=0x44):
        self.i2c = i2c
        self.addr = addr

    def measure(self, sleep_ms):
        """Returns (temp_c, rh_pct); raises OSError on a bus error or a bad checksum."""
        self.i2c.writeto(self.addr, MEASURE_HIGH)
        sleep_ms(16)  # datasheet: up to 15 ms for high repeatability
        raw = self.i2c.readfrom(self.addr, 6)
        if crc8(raw[0:2]) != raw[2] or crc8(raw[3:5]) != raw[5]:
            raise OSError("sht31 crc")
        t = (raw[0] << 8) | raw[1]
        h = (raw[3] << 8) | raw[4]
        return -45 + 175 * t / 65535, 100 * h / 65535
