"""COOP_MQTT_URL: credentials and TLS reach a broker that requires them; the embedded broker carries
telemetry to the Ingestor when no URL is set."""
import asyncio
import datetime
import ipaddress
import subprocess
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from chain.db import create_engine, sessionmaker
from iot.broker import BrokerURLError, EmbeddedBroker, MqttURL
from iot.ingest import Ingestor
from iot.store import latest, migrate
from tests.iot.conftest import Board, register, until


def test_an_mqtt_url_gives_host_credentials_tls_and_protocol():
    url = MqttURL.parse("mqtts://coop%40hq:s3cr%3At@broker.example:8884?ca=/etc/coop/ca.pem")
    assert (url.host, url.port, url.username, url.password, url.tls, url.ca, url.protocol) == (
        "broker.example", 8884, "coop@hq", "s3cr:t", True, "/etc/coop/ca.pem", 5)
    assert str(url) == "mqtts://coop@hq:***@broker.example:8884"  # what logs show: never the password
    assert MqttURL.parse("mqtts://h").port == 8883
    assert (MqttURL.parse("mqtt://h").port, MqttURL.parse("mqtt://h?protocol=3.1.1").protocol) == (1883, 4)


@pytest.mark.parametrize("url", ["http://h:1883", "mqtt://", "mqtt://h?protocol=6", "mqtt://h?qos=2", "mqtt://h:x"])
def test_a_url_that_is_no_mqtt_url_is_refused(url):
    with pytest.raises(BrokerURLError):
        MqttURL.parse(url)


def _self_signed(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coop test broker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "broker.pem", directory / "broker.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _connect(url: str) -> str:
    """What the broker answers a client connecting with `url`."""
    parsed = MqttURL.parse(url)
    answer, done = [], threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        answer.append(str(reason_code))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=parsed.protocol, reconnect_on_failure=False)
    client.on_connect = on_connect
    parsed.connect(client)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return answer[0] if answer else "no answer"


def test_credentials_and_tls_from_the_url_reach_a_broker_that_requires_them(private_broker, tmp_path):
    cert, key = _self_signed(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "ingest", "s3cr:t"], check=True)
    private_broker.configure(f"certfile {cert}", f"keyfile {key}", f"password_file {passwords}",
                             "allow_anonymous false")
    private_broker.start()
    port = private_broker.port

    assert _connect(f"mqtts://ingest:s3cr%3At@127.0.0.1:{port}?ca={cert}") == "Success"
    assert _connect(f"mqtts://ingest:wrong@127.0.0.1:{port}?ca={cert}") == "Not authorized"
    assert _connect(f"mqtts://127.0.0.1:{port}?ca={cert}") == "Not authorized"


async def test_the_embedded_broker_carries_telemetry_to_the_ingestor(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}"
    migrate(database)
    engine = create_engine(database)
    broker = EmbeddedBroker()
    url = await broker.start()
    await register(sessionmaker(engine), "hq", "esp32-1")
    ingestor = Ingestor(sessionmaker(engine), url)
    await ingestor.start()
    await asyncio.wait_for(ingestor.subscribed.wait(), 10)
    board = await asyncio.to_thread(Board, url, "hq", "esp32-1")
    try:
        board.reading(1, temp_c=23.5)
        await until(lambda: ingestor.stats.stored == 1, what="the reading")
        assert [(r.device, r.key, r.value) for r in await latest(sessionmaker(engine)) if r.key == "temp_c"] == [
            ("esp32-1", "temp_c", 23.5)]
    finally:
        board.close()
        await ingestor.stop()
        await broker.stop()
        await engine.dispose()
