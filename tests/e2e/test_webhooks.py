"""Webhooks with real clients and a real worker: skopeo pushes to a live registry, a Celery worker
delivers to HTTP receivers on loopback. The event is signed and its signature verifies, a
registry:2-style listener gets its envelope, and a push whose worker crashed and whose message was
lost, with the registry restarted in between, is still delivered, once.

The registry and its worker share a Redis database of their own: a worker on the session's one
could take other tests' tasks and run them against the wrong Postgres database.
"""

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from tests.e2e.conftest import REPO_ROOT, LiveRegistry, serving_registry
from tests.e2e.images import build_image
from tests.webhooks.receiver import Receiver

SECRET = "the receiver's shared secret"
WORKER_REDIS_DATABASE = 14


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = redis.Redis.from_url(settings.REDIS_URL or "redis://127.0.0.1:6379/0").connection_pool.connection_kwargs
    own = f"redis://{url.get('host', '127.0.0.1')}:{url.get('port', 6379)}/{WORKER_REDIS_DATABASE}"
    with redis.Redis.from_url(own) as client:
        client.flushdb()
    yield own
    with redis.Redis.from_url(own) as client:
        client.flushdb()


@pytest.fixture
def registry(tmp_path: Path, receiver: Receiver, redis_url: str) -> Iterator[LiveRegistry]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with serving_registry(
        tmp_path / "registry",
        f"harbor_lite_e2e_webhooks_{os.getpid()}",
        port=port,
        REDIS_URL=redis_url,
        REGISTRY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        REGISTRY_NOTIFICATION_URLS=receiver.url + "/registry",
        REGISTRY_NOTIFICATION_HEADERS=json.dumps({"Authorization": "Bearer listener-token"}),
        REGISTRY_WEBHOOK_RETRY_SECONDS="1",
        REGISTRY_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
    ) as registry:
        yield registry


class Worker:
    def __init__(self, registry: LiveRegistry) -> None:
        self.registry = registry
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.registry.data_dir / "worker.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "registry_ui", "worker", "--pool", "solo", "-l", "INFO"],
                cwd=REPO_ROOT,
                env=self.registry.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """A crash: no warm shutdown, nothing acknowledged or finished."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None


@pytest.fixture
def worker(registry: LiveRegistry) -> Iterator[Worker]:
    worker = Worker(registry)
    worker.start()
    yield worker
    worker.stop()


def push(registry: LiveRegistry, tmp_path: Path, repository: str, tag: str) -> str:
    """Push an image with skopeo as the administrator; its manifest's digest."""
    layout = build_image(tmp_path / f"image-{tag}", tag=tag, layer_sizes=(4096,))
    pushed = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={registry.admin_creds}",
            layout.reference,
            f"docker://{registry.host}/{repository}:{tag}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr
    return str(layout.manifest.digest)


def add_project_with_webhook(registry: LiveRegistry, project: str, receiver: Receiver) -> None:
    api = f"{registry.url}/api/v1/"
    admin = registry.admin_credentials
    assert requests.post(api + "projects/", json={"name": project}, auth=admin, timeout=10).status_code == 201
    made = requests.post(
        api + f"projects/{project}/webhooks/",
        json={"url": receiver.url + "/webhook", "events": ["push", "delete"], "secret": SECRET},
        auth=admin,
        timeout=10,
    )
    assert made.status_code == 201, made.text


def test_a_skopeo_push_delivers_a_signed_event_and_a_registry_envelope(
    registry: LiveRegistry, worker: Worker, receiver: Receiver, tmp_path: Path
) -> None:
    project = f"hooks-{secrets.token_hex(3)}"
    add_project_with_webhook(registry, project, receiver)

    digest = push(registry, tmp_path, f"{project}/app", "v1")

    received = {request.path: request for request in receiver.wait_for(2)}
    webhook = received["/hooks/webhook"]
    expected = "sha256=" + hmac.new(SECRET.encode(), webhook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(webhook.headers["X-Harbor-Signature"], expected)
    event = json.loads(webhook.body)
    assert (event["type"], event["operator"]) == ("PUSH_ARTIFACT", registry.admin_credentials[0])
    assert event["event_data"]["resources"][0] | {"size": 0} == {
        "digest": digest,
        "tag": "v1",
        "resource_url": f"{registry.host}/{project}/app:v1",
        "size": 0,
    }
    listener = received["/hooks/registry"]
    assert listener.headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"
    assert listener.headers["Authorization"] == "Bearer listener-token"
    (pushed,) = json.loads(listener.body)["events"]
    assert (pushed["action"], pushed["target"]["repository"], pushed["target"]["tag"]) == (
        "push",
        f"{project}/app",
        "v1",
    )
    assert pushed["target"]["digest"] == digest
    assert pushed["target"]["url"] == f"{registry.url}/v2/{project}/app/manifests/{digest}"
    assert pushed["request"]["method"] == "PUT"
    assert "skopeo" in pushed["request"]["useragent"]
    assert len(receiver.requests) == 2, "each delivered once"


def test_a_push_whose_worker_crashed_and_message_was_lost_is_delivered_once_after_restarts(
    registry: LiveRegistry, worker: Worker, receiver: Receiver, tmp_path: Path, redis_url: str
) -> None:
    project = f"hooks-{secrets.token_hex(3)}"
    add_project_with_webhook(registry, project, receiver)
    worker.kill()

    digest = push(registry, tmp_path, f"{project}/app", "v1")

    # The message the push queued (a moment after it answered: a thread of the registry hands it
    # over) is lost with the broker's data; the registry restarts.
    with redis.Redis.from_url(redis_url) as broker:
        for _ in range(100):
            if broker.llen("celery"):
                break
            time.sleep(0.1)
        assert broker.llen("celery") == 1
        broker.flushdb()
    registry.restart()
    worker.start()
    assert receiver.wait_for(1, seconds=3) == [], "nothing to deliver it yet"

    # What beat runs every REGISTRY_WEBHOOK_SEND_INTERVAL_SECONDS.
    sent = registry.manage(
        "shell", "--no-imports", "-c", "from webhooks.tasks import send_due_deliveries; print(send_due_deliveries())"
    )

    assert int(sent) == 2
    received = receiver.wait_for(2)
    assert sorted(request.path for request in received) == ["/hooks/registry", "/hooks/webhook"]
    webhook = next(request for request in received if request.path == "/hooks/webhook")
    assert json.loads(webhook.body)["event_data"]["resources"][0]["digest"] == digest
    assert (
        registry.manage(
            "shell",
            "--no-imports",
            "-c",
            "from webhooks.tasks import send_due_deliveries; print(send_due_deliveries())",
        ).strip()
        == "0"
    )
    assert len(receiver.requests) == 2, "each delivered once"


def test_a_push_queued_while_the_worker_was_down_is_delivered_by_the_next_worker(
    registry: LiveRegistry, worker: Worker, receiver: Receiver, tmp_path: Path
) -> None:
    project = f"hooks-{secrets.token_hex(3)}"
    add_project_with_webhook(registry, project, receiver)
    worker.stop()

    push(registry, tmp_path, f"{project}/app", "v1")
    registry.restart()
    assert receiver.wait_for(1, seconds=2) == []
    worker.start()

    assert sorted(request.path for request in receiver.wait_for(2)) == ["/hooks/registry", "/hooks/webhook"]
    assert len(receiver.requests) == 2


def test_a_receiver_down_at_the_push_gets_the_event_once_when_it_is_back(
    registry: LiveRegistry, worker: Worker, receiver: Receiver, tmp_path: Path
) -> None:
    project = f"hooks-{secrets.token_hex(3)}"
    add_project_with_webhook(registry, project, receiver)
    receiver.stop()

    digest = push(registry, tmp_path, f"{project}/app", "v1")
    log = requests.get(
        f"{registry.url}/api/v1/projects/{project}/webhooks/", auth=registry.admin_credentials, timeout=10
    ).json()
    deliveries = f"{registry.url}/api/v1/projects/{project}/webhooks/{log[0]['id']}/deliveries/"
    for _ in range(100):
        (delivery,) = requests.get(deliveries, auth=registry.admin_credentials, timeout=10).json()
        if delivery["attempts"]:
            break
        time.sleep(0.1)
    assert (delivery["state"], delivery["attempts"]) == ("pending", 1)
    assert "Connection refused" in delivery["error"]

    receiver.start()
    time.sleep(1.5)  # REGISTRY_WEBHOOK_RETRY_SECONDS
    registry.manage(
        "shell", "--no-imports", "-c", "from webhooks.tasks import send_due_deliveries; send_due_deliveries()"
    )

    (got,) = [request for request in receiver.wait_for(2) if request.path == "/hooks/webhook"]
    assert json.loads(got.body)["event_data"]["resources"][0]["digest"] == digest
    assert got.headers["Webhook-Id"] == delivery["delivery_id"]
    (delivered,) = requests.get(deliveries, auth=registry.admin_credentials, timeout=10).json()
    assert (delivered["state"], delivered["attempts"], delivered["status_code"]) == ("delivered", 2, 200)
    assert len(receiver.requests) == 2, "the webhook's event and the listener's envelope, once each"


def test_a_skopeo_pull_reaches_the_registry_listener_once_the_pulls_are_flushed(
    registry: LiveRegistry, worker: Worker, receiver: Receiver, tmp_path: Path
) -> None:
    project = f"hooks-{secrets.token_hex(3)}"
    add_project_with_webhook(registry, project, receiver)
    digest = push(registry, tmp_path, f"{project}/app", "v1")
    assert len(receiver.wait_for(2)) == 2

    pulled = subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            f"--src-creds={registry.admin_creds}",
            f"docker://{registry.host}/{project}/app:v1",
            f"dir:{tmp_path / 'pulled'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pulled.returncode == 0, pulled.stderr
    # What beat does every REGISTRY_AUDIT_FLUSH_SECONDS, once the web process that served the
    # pull has sent it to Redis (its thread does every second).
    flushed = 0
    deadline = time.monotonic() + 10
    while not flushed and time.monotonic() < deadline:
        time.sleep(0.5)
        flushed = int(
            registry.manage(
                "shell", "--no-imports", "-c", "from audit.tasks import flush_pull_events; print(flush_pull_events())"
            )
        )
    assert flushed == 1

    envelope = receiver.wait_for(3)[2]
    assert envelope.path == "/hooks/registry"
    (pull,) = json.loads(envelope.body)["events"]
    assert (pull["action"], pull["target"]["repository"], pull["target"]["tag"], pull["target"]["digest"]) == (
        "pull",
        f"{project}/app",
        "v1",
        digest,
    )
    assert (pull["request"]["method"], pull["actor"]["name"]) == ("GET", registry.admin_credentials[0])
    assert "skopeo" in pull["request"]["useragent"]
    assert len(receiver.requests) == 3, "the webhook does not take pulls"
