"""The board's sensors (air: DHT22/DHT11/SHT31, water: DS18B20) behind one read()."""
import machine


class Sensors:
    """Reads what is fitted; a sensor that fails is left out of that reading, never fatal."""

    def __init__(self, settings, sleep_ms, log):
        self._sleep_ms = sleep_ms
        self._log = log
        self._air = None
        self._sht = None
        self._ds = None
        air = settings["air"]
        if air["type"] in ("dht22", "dht11"):
            import dht  # imported only when fitted: saves RAM on boards without one

            cls = dht.DHT22 if air["type"] == "dht22" else dht.DHT11
            self._air = cls(machine.Pin(air["pin"]))
        elif air["type"] == "sht31":
            from sht31 import SHT31

            i2c = machine.SoftI2C(sda=machine.Pin(air["sda"]), scl=machine.Pin(air["scl"]), freq=100000)
            self._sht = SHT31(i2c, air["addr"])
        if settings["water"]["type"] == "ds18b20":
            import ds18x20
            import onewire

            self._ds = ds18x20.DS18X20(onewire.OneWire(machine.Pin(settings["water"]["pin"])))
        self._roms = None

    def read(self):
        """Returns {"temp_c": .., "rh_pct": .., "water_temp_c": ..} with what could be read."""
        out = {}
        try:
            if self._air is not None:
                self._air.measure()
                out["temp_c"] = round(self._air.temperature(), 1)
                out["rh_pct"] = round(self._air.humidity(), 1)
            elif self._sht is not None:
                t, h = self._sht.measure(self._sleep_ms)
                out["temp_c"] = round(t, 2)
                out["rh_pct"] = round(h, 1)
        except Exception as e:  # a loose wire must not stop the water reading or the loop
            self._log("air_read_failed", error=repr(e))
        if self._ds is not None:
            try:
                if not self._roms:
                    self._roms = self._ds.scan()  # rescan until a probe answers
                if self._roms:
                    self._ds.convert_temp()
                    self._sleep_ms(750)  # 12-bit conversion time
                    out["water_temp_c"] = round(self._ds.read_temp(self._roms[0]), 2)
                else:
                    self._log("water_probe_missing")
            except Exception as e:
                self._roms = None
                self._log("water_read_failed", error=repr(e))
        return out
