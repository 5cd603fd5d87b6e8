"""Host stand-in for MicroPython's `network`: a station interface that is connected at once."""
STA_IF, AP_IF = 0, 1
STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010


class WLAN:
    def __init__(self, interface=STA_IF):
        self._active = False
        self._connected = False
        self.ssid = None

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)

    def connect(self, ssid=None, key=None, **kwargs):
        if not self._active:
            raise OSError("Wifi Not Started")
        self.ssid = ssid
        self._connected = True

    def disconnect(self):
        self._connected = False

    def isconnected(self):
        return self._connected

    def status(self, param=None):
        return STAT_GOT_IP if self._connected else STAT_IDLE

    def ifconfig(self, *args):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
