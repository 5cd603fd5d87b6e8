"""The board's main loop: read the sensors, keep Wi-Fi and MQTT up, publish telemetry or buffer it."""
import binascii
import json
import os
import sys

import machine
import network
import ntptime
from umqtt.simple import MQTTClient, MQTTException

try:
    import utime as time  # MicroPython, and the host shim on CPython
except ImportError:
    import time

from ring import Ring
from sensors import Sensors

UNIX_2024 = 1704067200  # a clock before this was never set: send ts 0, the backend stamps arrival
NTP_EVERY_MS = 6 * 3600 * 1000  # the ESP32's RTC drifts seconds a day; within ticks' half period
SOCKET_TIMEOUT_S = 10  # a half-open link must raise, not block until the watchdog resets us


def tls_context(ca):
    """TLS that checks the broker's certificate against the CA file `ca` (PEM) and its name against
    mqtt.host; umqtt.simple wraps its socket in it (MicroPython 1.23 and later have SSLContext)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=ca)
    return context


def log(event, **fields):
    """One key=value line on stderr (the board's serial console)."""
    print(" ".join([event] + ["%s=%s" % (k, fields[k]) for k in fields]), file=sys.stderr)


class Node:
    """One board. `clock` is anything with utime's ticks_ms/ticks_add/ticks_diff/sleep_ms/time/gmtime."""

    def __init__(self, settings, clock=time, wlan=None, sensors=None):
        self.s = settings
        self.clock = clock
        self.device = settings["device"] or binascii.hexlify(machine.unique_id()).decode()
        base = "coop/%s/%s/" % (settings["site"], self.device)
        self.telemetry_topic = base + "telemetry"
        self.status_topic = base + "status"
        # one fixed id: a reconnect takes over a half-open old session at once, so its
        # last will ("offline") lands before our new "online", never after it
        self.client_id = "coop-%s-%s" % (settings["site"], self.device)
        self.boot = binascii.hexlify(os.urandom(4)).decode()
        self.seq = 0
        self.ring = Ring(int(settings["buffer"]))
        self.mqtt = None
        self.interval_ms = int(settings["interval_s"] * 1000)
        wdt_ms = int(settings["wdt_s"] * 1000)
        self.wdt = machine.WDT(timeout=wdt_ms) if wdt_ms else None
        self._nap_ms = max(1000, wdt_ms // 4) if wdt_ms else 60000  # sleep in slices that feed the dog
        self.wlan = wlan or network.WLAN(network.STA_IF)
        self.sensors = sensors or Sensors(settings, clock.sleep_ms, log)
        self._epoch = 946684800 if clock.gmtime(0)[0] == 2000 else 0  # older ports count from 2000
        self._backoff_first_ms = int(settings["backoff_s"][0] * 1000)
        self._backoff_max_ms = int(settings["backoff_s"][1] * 1000)
        self._backoff_ms = self._backoff_first_ms
        self._retry_at = clock.ticks_ms()
        self._ntp_at = None

    def run(self, cycles=None):
        """Reads and publishes every interval, forever or for `cycles` cycles (tests)."""
        done = 0
        while cycles is None or done < cycles:
            started = self.clock.ticks_ms()
            self.cycle()
            done += 1
            if cycles is None or done < cycles:  # N readings an interval apart, no idle tail
                self._wait_until(self.clock.ticks_add(started, self.interval_ms))

    def cycle(self):
        self.feed()
        if self.mqtt is None and self._retry_due():
            self.connect()
        readings = self.sensors.read()
        if readings:
            self.seq += 1
            if self.ring.push(self._encode(readings)):
                log("buffer_full_dropped_oldest", dropped=self.ring.dropped)
        else:
            log("no_readings")
        if self.mqtt is not None:
            self._sync_time()
            self.flush()

    def connect(self):
        """One attempt at Wi-Fi, time and MQTT; on failure the next one waits twice as long."""
        try:
            self._wifi()
            self._sync_time()
            self._mqtt()
        except (OSError, MQTTException) as e:
            self._retry_at = self.clock.ticks_add(self.clock.ticks_ms(), self._backoff_ms)
            log("connect_failed", error=repr(e), retry_in_ms=self._backoff_ms, buffered=len(self.ring))
            self._backoff_ms = min(self._backoff_ms * 2, self._backoff_max_ms)
            return False
        self._backoff_ms = self._backoff_first_ms
        return True

    def flush(self):
        """Publishes the buffer oldest first; an entry leaves it only once the broker acked it."""
        while self.mqtt is not None and len(self.ring):
            self.feed()
            try:
                self.mqtt.publish(self.telemetry_topic, self.ring.peek(), qos=1)
            except (OSError, MQTTException) as e:
                self._lost(e)
                return
            self.ring.pop()

    def close(self):
        """A clean goodbye for host runs: retained "offline", then DISCONNECT (no last will)."""
        if self.mqtt is not None:
            try:
                self.mqtt.publish(self.status_topic, b"offline", retain=True, qos=1)
                self.mqtt.disconnect()
            except (OSError, MQTTException):
                pass
            self.mqtt = None

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def _encode(self, readings):
        now = self.clock.time() + self._epoch
        return json.dumps({"v": 1, "seq": self.seq, "boot": self.boot, "ts": int(now) if now >= UNIX_2024 else 0,
                           "readings": readings}).encode()

    def _wifi(self):
        if self.wlan.isconnected():
            return
        self.wlan.active(True)
        self.wlan.connect(self.s["wifi"]["ssid"], self.s["wifi"]["password"])
        c = self.clock
        deadline = c.ticks_add(c.ticks_ms(), int(self.s["wifi"]["timeout_s"] * 1000))
        while not self.wlan.isconnected():
            if c.ticks_diff(deadline, c.ticks_ms()) <= 0:
                self.wlan.disconnect()  # stop the radio's own retries before ours
                raise OSError("wifi timeout")
            self.feed()
            c.sleep_ms(200)
        log("wifi_connected", ip=self.wlan.ifconfig()[0])

    def _sync_time(self):
        now = self.clock.ticks_ms()
        if self._ntp_at is not None and self.clock.ticks_diff(now, self._ntp_at) < NTP_EVERY_MS:
            return
        self._ntp_at = now  # tried: a dead NTP server is not worth a retry every cycle
        try:
            ntptime.host = self.s["ntp_host"]
            ntptime.settime()
            log("time_synced", unix=self.clock.time() + self._epoch)
        except Exception as e:  # ntptime raises OSError or IndexError on a bad reply; time is optional
            log("ntp_failed", error=repr(e))

    def _mqtt(self):
        m = self.s["mqtt"]
        client = MQTTClient(self.client_id, m["host"], port=m["port"], user=m["user"], password=m["password"],
                            keepalive=m["keepalive_s"], ssl=tls_context(m["ca"]) if m["tls"] else None)
        client.set_last_will(self.status_topic, b"offline", retain=True, qos=1)
        try:
            client.connect()  # clean session: the backlog lives in our ring, not at the broker
            client.sock.settimeout(SOCKET_TIMEOUT_S)  # umqtt waits for PUBACK with a blocking read
            client.publish(self.status_topic, b"online", retain=True, qos=1)
        except (OSError, MQTTException):
            _close(client)
            raise
        self.mqtt = client
        log("mqtt_connected", host=m["host"], port=m["port"], boot=self.boot, buffered=len(self.ring))

    def _lost(self, error):
        log("mqtt_lost", error=repr(error), buffered=len(self.ring))
        _close(self.mqtt)  # no DISCONNECT: if the link still half works, the last will must fire
        self.mqtt = None
        self._backoff_ms = self._backoff_first_ms
        self._retry_at = self.clock.ticks_add(self.clock.ticks_ms(), self._backoff_ms)

    def _retry_due(self):
        return self.clock.ticks_diff(self._retry_at, self.clock.ticks_ms()) <= 0

    def _wait_until(self, until):
        """Sleeps until `until` (ticks), feeding the dog and retrying the broker when its turn comes."""
        c = self.clock
        while True:
            self.feed()
            left = c.ticks_diff(until, c.ticks_ms())
            if left <= 0:
                return
            if self.mqtt is None:
                if self._retry_due():
                    if self.connect():
                        self.flush()  # the backlog goes out now, not at the next reading
                    continue
                left = min(left, c.ticks_diff(self._retry_at, c.ticks_ms()))
            c.sleep_ms(max(1, min(left, self._nap_ms)))


def _close(client):
    try:
        client.sock.close()
    except Exception:
        pass


def main(path="config.json"):
    import settings

    node = Node(settings.load(path))
    log("boot", device=node.device, boot=node.boot, interval_s=node.s["interval_s"])
    try:
        node.run()
    except Exception as e:  # anything unforeseen: a clean restart beats a hung board
        log("fatal", error=repr(e))
        time.sleep_ms(5000)
        machine.reset()
