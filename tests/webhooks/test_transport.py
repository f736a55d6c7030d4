"""How an attempt reaches its receiver. It is bounded as a whole by REGISTRY_WEBHOOK_TIMEOUT: a
receiver that trickles its answer a byte at a time, each well within the timeout, would otherwise
hold the attempt, the row lock of its claim and the worker's transaction for as long as it likes.
An https receiver is reached by its name at the address checked, its certificate verified
against that name."""

import base64
import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts.models import Project
from audit import actions
from audit.recorder import record
from tests.directory import make_certificate_authority
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, Webhook
from webhooks.services.delivery import deliver

pytestmark = pytest.mark.django_db

TRICKLE = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"." * 200


@pytest.fixture
def trickling_receiver() -> Iterator[str]:
    """A receiver that reads the request and sends its answer a byte every 0.2 s, for 30 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopped = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in TRICKLE:
                if stopped.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    stopped.set()
    listener.close()


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(
    team: Project, trickling_receiver: str, settings: Any
) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.REGISTRY_WEBHOOK_TIMEOUT = 1
    Webhook.objects.create(project=team, url=trickling_receiver, events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": "sha256:" + "e" * 64})
    started = time.monotonic()

    assert deliver(Delivery.objects.get().pk) is False

    assert time.monotonic() - started < 3
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.status_code) == ("pending", None)
    assert "no answer within 1 s" in delivery.error


@pytest.fixture
def tls_receiver(tmp_path: Path, settings: Any) -> Iterator[tuple[Receiver, Path]]:
    """A receiver answering https as `localhost`, with a certificate of a CA made for the test
    (its ca.pem returned with it)."""
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    ca_key, ca = make_certificate_authority(tmp_path, "Test webhook CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    receiver = Receiver(tls=tls)
    receiver.start()
    yield receiver, tmp_path / "ca.pem"
    receiver.stop()


def test_an_https_receiver_is_verified_against_the_name_in_its_url(
    team: Project, tls_receiver: tuple[Receiver, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, ca_file = tls_receiver
    Webhook.objects.create(project=team, url=f"https://localhost:{receiver.port}/hooks", events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": "sha256:" + "f" * 64})
    delivery = Delivery.objects.get()

    assert deliver(delivery.pk) is False, "a certificate of an authority the system does not trust"
    assert "CERTIFICATE_VERIFY_FAILED" in Delivery.objects.get().error
    assert receiver.requests == []

    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    Delivery.objects.update(next_attempt_at=datetime.datetime.now(datetime.UTC))
    assert deliver(delivery.pk) is True
    (got,) = receiver.wait_for(1)
    assert got.headers["Host"] == f"localhost:{receiver.port}"
    assert json.loads(got.body)["type"] == "PUSH_ARTIFACT"


def test_credentials_in_a_notification_url_are_sent_as_basic_auth(receiver: Receiver, settings: Any) -> None:
    endpoint = f"http://listener:p%40ss@127.0.0.1:{receiver.port}/hooks"
    settings.REGISTRY_NOTIFICATION_URLS = [endpoint]
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": "sha256:" + "a" * 64})

    assert deliver(Delivery.objects.get().pk) is True

    (got,) = receiver.wait_for(1)
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(b"listener:p@ss").decode()
