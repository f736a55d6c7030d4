"""Pulls are buffered and written in batches: every pull counted once, the fast path and the
full stack alike, never an INSERT in the request; a setting turns them off."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from accounts.scopes import PULL, repository_scope
from audit import pulls, tasks
from audit.models import AuditEvent
from registry_ui.wsgi import application
from tests.audit.conftest import events
from tests.conftest import PushImage, bearer_auth
from tests.v2api.test_fast_reads import call, fast_answer
from v2api.models import Tag

pytestmark = pytest.mark.django_db

MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def image(push_image: PushImage, root: User) -> str:
    Project.objects.create(name="open", public=True)
    return push_image("open/app", tag="1.0").digest


def test_pulls_through_both_paths_are_written_by_the_flush_once_each(image: str, root: User, client: Client) -> None:
    token = bearer_auth(root, repository_scope("open/app", PULL))
    headers = {"Accept": MANIFEST_ACCEPT, "User-Agent": "containerd/1.7"}
    for _ in range(3):
        assert fast_answer("GET", "/v2/open/app/manifests/1.0", {**headers, "Authorization": token}) is not None
    assert fast_answer("GET", f"/v2/open/app/manifests/{image}", headers) is not None
    assert client.get("/v2/open/app/manifests/1.0", HTTP_ACCEPT=MANIFEST_ACCEPT).status_code == 200
    # HEAD is a client asking whether it has the image already: not a pull.
    assert fast_answer("HEAD", "/v2/open/app/manifests/1.0", headers) is not None

    assert events(action="manifest.pull") == []
    assert tasks.flush_pull_events() == 5
    assert tasks.flush_pull_events() == 0

    assert events(action="manifest.pull") == [
        ("manifest.pull", "user", "root", "open/app:1.0"),
        ("manifest.pull", "user", "root", "open/app:1.0"),
        ("manifest.pull", "user", "root", "open/app:1.0"),
        ("manifest.pull", "anonymous", "", f"open/app@{image}"),
        ("manifest.pull", "user", "root", "open/app:1.0"),
    ]
    fast = AuditEvent.objects.filter(action="manifest.pull").order_by("id").first()
    assert fast is not None
    assert (fast.client_address, fast.user_agent, fast.project, fast.detail) == (
        "192.0.2.7",
        "containerd/1.7",
        "open",
        {"digest": image},
    )


def test_the_flush_moves_the_last_pulled_time_of_the_tag_and_the_tag_table_shows_it(
    image: str, root: User, client: Client
) -> None:
    assert Tag.objects.get(name="1.0").last_pulled_at is None
    before = timezone.now()
    assert fast_answer("GET", f"/v2/open/app/manifests/{image}", {"Accept": MANIFEST_ACCEPT}) is not None

    tasks.flush_pull_events()

    pulled_at = Tag.objects.get(name="1.0").last_pulled_at
    assert pulled_at is not None and pulled_at >= before
    client.force_login(root)
    page = client.get("/repositories/open/app/").content.decode()
    cell = page.split("data-last-pulled>")[1].split("</td>")[0]
    assert f'<time datetime="{pulled_at.isoformat()}"' in cell


def test_with_pull_auditing_off_nothing_is_buffered(image: str, settings: object) -> None:
    settings.REGISTRY_AUDIT_PULLS = False  # type: ignore[attr-defined]

    assert call(application, "GET", "/v2/open/app/manifests/1.0", {"Accept": MANIFEST_ACCEPT}).status == "200 OK"

    assert not pulls._outbox.lines
    assert tasks.flush_pull_events() == 0


def test_a_batch_written_again_after_a_crash_is_stored_once(image: str) -> None:
    for _ in range(4):
        fast_answer("GET", "/v2/open/app/manifests/1.0", {"Accept": MANIFEST_ACCEPT})
    assert pulls._outbox.send() == 4
    buffered = [line.decode() if isinstance(line, bytes) else line for line in pulls.buffer().peek(100)]

    assert pulls.flush_pulls() == 4
    # A flush that committed and died before trimming the buffer leaves the same lines behind.
    pulls.buffer().append(buffered)
    pulls.flush_pulls()

    assert AuditEvent.objects.filter(action="manifest.pull").count() == 4


def test_pulls_wait_in_the_process_while_redis_cannot_be_reached_and_are_written_once_it_can(
    image: str, settings: Any
) -> None:
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # discard: nothing listens there
    pulls._buffer = None

    answer = fast_answer("GET", "/v2/open/app/manifests/1.0", {"Accept": MANIFEST_ACCEPT})
    assert pulls._outbox.send() == 0

    assert answer is not None and answer.status == "200 OK"
    assert len(pulls._outbox.unsent) == 1
    settings.REDIS_URL = reachable
    pulls._buffer = None
    assert pulls.flush_pulls() == 1


def test_without_redis_the_sending_thread_writes_the_pulls_straight_to_postgres(image: str, settings: Any) -> None:
    settings.REDIS_URL = ""
    pulls._buffer = None

    for _ in range(3):
        fast_answer("GET", "/v2/open/app/manifests/1.0", {"Accept": MANIFEST_ACCEPT})
    assert AuditEvent.objects.filter(action="manifest.pull").count() == 0
    pulls._outbox.send()  # what the thread does every second

    assert AuditEvent.objects.filter(action="manifest.pull").count() == 3
    assert pulls.buffer().peek(1) == []


def test_the_retention_task_deletes_old_events_only_and_twice_is_harmless(db: None, settings: object) -> None:
    settings.REGISTRY_AUDIT_RETENTION_DAYS = 30  # type: ignore[attr-defined]
    now = timezone.now()
    for age in (1, 29, 31, 400):
        AuditEvent.objects.create(occurred_at=now - timedelta(days=age), actor_kind="system", action="gc.run")

    assert tasks.purge_audit_events() == 2
    assert tasks.purge_audit_events() == 0
    assert sorted((now - event.occurred_at).days for event in AuditEvent.objects.all()) == [1, 29]

    settings.REGISTRY_AUDIT_RETENTION_DAYS = 0  # type: ignore[attr-defined]
    assert tasks.purge_audit_events() == 0
    assert AuditEvent.objects.count() == 2


def test_an_unreadable_line_in_the_buffer_is_dropped_without_holding_up_its_batch(image: str) -> None:
    fast_answer("GET", "/v2/open/app/manifests/1.0", {"Accept": MANIFEST_ACCEPT})
    pulls._outbox.send()
    pulls.buffer().append(['{"event_id": "not a uuid"}', "not json", '{"event_id": 1}'])

    assert pulls.flush_pulls() == 1
    assert pulls.buffer().peek(1) == []
    assert AuditEvent.objects.filter(action="manifest.pull").count() == 1
