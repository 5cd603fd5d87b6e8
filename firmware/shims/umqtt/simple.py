"""Host stand-in for MicroPython's umqtt.simple, on paho-mqtt: same blocking, no-retry semantics.

Like the real module it never reconnects by itself: a dead connection raises OSError and the
caller builds a new client. Each connect() makes a fresh paho client driven by loop() in the
caller's thread (no background thread), so nothing is resent behind the firmware's back.
"""
import errno
import ssl as _ssl
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT_S = 5.0  # how long connect() and a QoS 1 publish wait, like a socket timeout


class MQTTException(Exception):
    pass


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None,
                 ssl_params=None):
        self.client_id = client_id.decode() if isinstance(client_id, bytes) else client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.cb = None
        self.lw_topic = None
        self._client = None
        self._connect_rc = None

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2 and topic
        self.lw_topic, self.lw_msg, self.lw_qos, self.lw_retain = topic, msg, qos, retain

    @property
    def sock(self):
        """The TCP socket, as on the board: closing it drops the connection uncleanly."""
        return _Sock(self._client.socket()) if self._client and self._client.socket() else None

    def connect(self, clean_session=True, timeout=None):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=clean_session,
                        protocol=paho.MQTTv311)
        if self.user is not None:
            c.username_pw_set(self.user, self.pswd)
        if self.ssl:  # an SSLContext, as umqtt.simple takes it; umqtt's older ssl=True kept working too
            c.tls_set_context(self.ssl if isinstance(self.ssl, _ssl.SSLContext) else None)
        if self.lw_topic:
            c.will_set(_s(self.lw_topic), self.lw_msg, qos=self.lw_qos, retain=self.lw_retain)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        self._client, self._connect_rc, self._session_present = c, None, False
        c.connect(self.server, self.port, keepalive=self.keepalive or 0)  # OSError when refused
        self._loop_until(lambda: self._connect_rc is not None, timeout or TIMEOUT_S)
        if self._connect_rc:
            raise MQTTException(self._connect_rc)
        return self._session_present

    def disconnect(self):
        if self._client:
            self._client.disconnect()
            self._client.loop(0)
            self._close()

    def ping(self):
        self._step(0)

    def publish(self, topic, msg, retain=False, qos=0):
        if self._client is None:
            raise OSError(errno.ENOTCONN, "not connected")
        info = self._client.publish(_s(topic), msg, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
            self._close()
            raise OSError(errno.ECONNRESET, paho.error_string(info.rc))
        if qos:
            self._loop_until(info.is_published, TIMEOUT_S)  # the real one blocks for PUBACK too
        else:
            self._step(0)

    def subscribe(self, topic, qos=0):
        self._client.subscribe(_s(topic), qos)
        self._step(0)

    def wait_msg(self):
        self._step(1.0)

    def check_msg(self):
        self._step(0)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self._connect_rc = reason_code.value
        self._session_present = bool(flags.session_present)

    def _on_message(self, client, userdata, message):
        if self.cb:
            self.cb(message.topic.encode(), message.payload)

    def _step(self, timeout):
        rc = self._client.loop(timeout)
        if rc != paho.MQTT_ERR_SUCCESS:
            self._close()
            raise OSError(errno.ECONNRESET, paho.error_string(rc))

    def _loop_until(self, done, timeout):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                self._close()
                raise OSError(errno.ETIMEDOUT, "timed out")
            self._step(0.05)

    def _close(self):
        sock = self.sock
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        self._client = None


class _Sock:
    """The board's socket surface over paho's: settimeout is ours to keep (TIMEOUT_S), close is real."""

    def __init__(self, sock):
        self._sock = sock

    def settimeout(self, seconds):
        pass  # paho drives the socket non-blocking; our waits already end after TIMEOUT_S

    def close(self):
        self._sock.close()


def _s(value):
    return value.decode() if isinstance(value, (bytes, bytearray)) else value
