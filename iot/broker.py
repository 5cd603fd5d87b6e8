"""Where the MQTT broker is: COOP_MQTT_URL parsed for paho clients, or an embedded broker (amqtt).

`mqtt://user:pass@host:1883` (plain) or `mqtts://user:pass@host:8883?ca=/path/ca.pem` (TLS; without
`ca` the system's trusted CAs). Clients speak MQTT 5 by default, which lets the ingestor ask for a
large receive window (Mosquitto otherwise keeps 20 unacknowledged messages in flight and queues at
most 1,000 more, dropping the rest); `?protocol=3.1.1` is for brokers that only speak 3.1.1, like the
embedded one, whose URL says so.
"""
import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

PROTOCOLS = {"5": 5, "3.1.1": 4}  # paho's MQTTv5 and MQTTv311


class BrokerURLError(ValueError):
    """COOP_MQTT_URL is not an MQTT URL we can use."""


@dataclass(frozen=True)
class MqttURL:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca: str | None = None  # CA certificate file for a broker with a private CA
    protocol: int = 5  # paho's protocol number: 5 or 4 (3.1.1)

    @classmethod
    def parse(cls, url: str) -> "MqttURL":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BrokerURLError(f"expected mqtt://host:port or mqtts://host:port, got {parts.scheme}://…")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"ca", "protocol"}
        if unknown:
            raise BrokerURLError(f"unknown MQTT URL parameters {sorted(unknown)}")
        if query.get("protocol", "5") not in PROTOCOLS:
            raise BrokerURLError(f"protocol must be one of {sorted(PROTOCOLS)}")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as e:
            raise BrokerURLError(str(e)) from None
        return cls(parts.hostname, port, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, tls, query.get("ca"),
                   PROTOCOLS[query.get("protocol", "5")])

    def __str__(self) -> str:
        """The URL for logs: never the password."""
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def connect(self, client, keepalive: int = 30, **kwargs) -> None:
        """Applies credentials and TLS to a paho client (made with this URL's `protocol`) and starts
        connecting without blocking; the client's network loop does the rest, reconnecting as needed.
        `kwargs` go to paho's connect_async (clean_start, properties)."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(ssl.create_default_context(cafile=self.ca))
        client.connect_async(self.host, self.port, keepalive, **kwargs)


class EmbeddedBroker:
    """An in-process MQTT 3.1.1 broker on loopback, so `coop` runs with no services (COOP_MQTT_URL
    unset). Sessions live in memory: they end with the process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._broker = None

    async def start(self) -> str:
        """Starts listening (port 0: a free one) and returns the URL clients connect to."""
        from amqtt.broker import Broker

        # Only anonymous access on loopback: no $SYS topics, no packet logging (it costs at volume).
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}
        self._broker = Broker(config)
        await self._broker.start()
        self.port = self._broker._servers["default"].instance.sockets[0].getsockname()[1]  # amqtt keeps no public handle
        url = f"mqtt://{self.host}:{self.port}?protocol=3.1.1"
        log.info("embedded MQTT broker listening url=%s", url)
        return url

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


async def _serve(port: int) -> None:
    broker = EmbeddedBroker(port=port)
    print(await broker.start(), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await broker.stop()


if __name__ == "__main__":  # python -m iot.broker [PORT]: a broker for trying the simulator by hand
    import sys

    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 1883))
    except KeyboardInterrupt:
        pass
