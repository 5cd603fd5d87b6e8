"""The boards over TLS with a broker that knows each board (docs/sensors.md): the firmware checks the
broker's certificate against its CA file, and the broker's ACL lets a board write only its own topics."""
import datetime
import getpass
import ipaddress
import shutil
import subprocess
import time

import pytest

from .conftest import CI, FakeClock, Subscriber, free_port, listening, make_node

ACL = """\
# Each board logs in with its device name as user name, and writes only its own topics.
pattern write coop/+/%u/telemetry
pattern write coop/+/%u/status
user coop-ingest
topic read coop/+/+/telemetry
topic read coop/+/+/status
"""


def _ca_and_broker_certificate(directory):
    """A CA of the co-op's own, and the broker's certificate (for 127.0.0.1) signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, public_key, signing_key, *extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, broker_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coop test CA")])
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, (x509.BasicConstraints(ca=True, path_length=0), True))
    broker = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name,
                         broker_key.public_key(), ca_key,
                         (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "broker.pem").write_bytes(broker.public_bytes(pem))
    (directory / "broker.key").write_bytes(broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                    serialization.NoEncryption()))


@pytest.fixture
def tls_broker(tmp_path):
    """Mosquitto with the documented set-up: TLS only, a password per board, the ACL above, a packet limit."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    passwd = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/bin:/usr/sbin")
    if not (binary and passwd):
        if CI:
            pytest.fail("CI=true: the mosquitto and mosquitto_passwd binaries are required")
        pytest.skip("no mosquitto binary to run a TLS broker of the test's own")
    _ca_and_broker_certificate(tmp_path)
    passwords = tmp_path / "passwords"
    for user, password in (("esp32-a1", "board-secret"), ("coop-ingest", "ingest-secret")):
        subprocess.run([passwd, *(["-c"] if user == "esp32-a1" else []), "-b", str(passwords), user, password],
                       check=True)
    (tmp_path / "acl").write_text(ACL)
    port = free_port()
    (tmp_path / "mosquitto.conf").write_text("\n".join([
        f"user {getpass.getuser()}", f"listener {port} 127.0.0.1", f"certfile {tmp_path / 'broker.pem'}",
        f"keyfile {tmp_path / 'broker.key'}", f"password_file {passwords}", f"acl_file {tmp_path / 'acl'}",
        "allow_anonymous false", "max_packet_size 8192", ""]))
    process = subprocess.Popen([binary, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if listening("127.0.0.1", port):
                break
            process.poll()
            assert process.returncode is None, "mosquitto refused its configuration"
            time.sleep(0.02)
        yield port, str(tmp_path / "ca.pem")
    finally:
        process.terminate()
        process.wait(10)


def test_a_board_over_tls_with_its_ca_file_is_heard_and_may_write_only_its_own_topics(tls_broker, site):
    port, ca = tls_broker

    def as_the_backend(client):
        client.tls_set(ca_certs=ca)
        client.username_pw_set("coop-ingest", "ingest-secret")

    backend = Subscriber(port, "coop/%s/#" % site, as_the_backend)
    mqtt = {"host": "127.0.0.1", "port": port, "user": "esp32-a1", "password": "board-secret", "tls": True, "ca": ca}
    board = make_node(site, port, mqtt=mqtt)
    impostor = make_node(site, port, mqtt=mqtt, device="esp32-b2")  # esp32-a1's password, another's topics
    try:
        board.run(2)
        impostor.run(2)
        assert impostor.mqtt is not None  # connected and published: the broker drops what the ACL forbids
        assert backend.wait_for(lambda: len(backend.on("telemetry")) == 2)
        assert {m.topic for m in backend.messages} == {"coop/%s/esp32-a1/status" % site,
                                                       "coop/%s/esp32-a1/telemetry" % site}
    finally:
        board.close()
        impostor.close()
        backend.close()


def test_a_board_refuses_a_broker_its_ca_did_not_sign(tls_broker, site, tmp_path):
    port, _ = tls_broker
    other = tmp_path / "other"
    other.mkdir()
    _ca_and_broker_certificate(other)
    board = make_node(site, port, FakeClock(), mqtt={"host": "127.0.0.1", "port": port, "user": "esp32-a1",
                                                     "password": "board-secret", "tls": True,
                                                     "ca": str(other / "ca.pem")})
    try:
        board.run(1)
        assert board.mqtt is None and len(board.ring) == 1  # not connected: the reading waits in the ring
    finally:
        board.close()
