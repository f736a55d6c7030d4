"""The garbage collection page: schedule, next run, grace window, what a collection frees now and
what waits for the window, why a collection freed nothing, and a run with a shorter window."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.conftest import PushedImage, PushImage, basic_auth
from v2api.models import Job
from v2api.services import jobs
from v2api.services.deletion import plan_deletion
from v2api.services.job_requests import GarbageCollectionRequest

AsUser = Callable[[User], Client]
URL = "/admin/garbage-collection/"


@pytest.fixture
def deleted_image(app_image: PushedImage, push_image: PushImage) -> int:
    """team/app:2.0 pushed and deleted just now: its own layer is garbage, inside the grace window."""
    doomed = push_image("team/app", "2.0", layers=(b"base layer bytes", b"two point oh only"))
    promised = plan_deletion("team/app", digests=[doomed.digest]).bytes_freed
    root = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    assert root.delete(f"/v2/team/app/manifests/{doomed.digest}").status_code == 202
    return promised


@pytest.mark.parametrize("persona", ["alice", "maya", "carol"])
def test_the_page_is_for_system_administrators_only(
    as_user: AsUser, persona: str, request: pytest.FixtureRequest
) -> None:
    client = as_user(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 404
    assert client.post("/jobs/garbage-collection/", {"grace_minutes": 0}).status_code == 404
    assert not Job.objects.exists()


def test_it_shows_the_schedule_the_next_run_and_the_bytes_waiting_for_the_window(
    as_user: AsUser, root: User, deleted_image: int, settings: Any
) -> None:
    settings.REGISTRY_GC_INTERVAL_SECONDS = 6 * 3600
    scheduled = jobs.record_job(GarbageCollectionRequest())
    Job.objects.filter(pk=scheduled.pk).update(created_at=timezone.now() - timedelta(hours=1))
    due = timezone.localtime(timezone.now() + timedelta(hours=5))

    page = as_user(root).get(URL).content.decode()

    assert "every 6\xa0h" in page and "2\xa0h (<code>REGISTRY_GC_GRACE_SECONDS</code>)" in page
    assert "due <time" in page and f"{due:%Y-%m-%d %H}" in page
    assert 'data-freed-now="0"' in page
    assert f'data-waiting="{deleted_image}"' in page and deleted_image > 0


def test_a_collection_that_freed_nothing_says_why(as_user: AsUser, root: User, deleted_image: int) -> None:
    job = jobs.record_job(GarbageCollectionRequest(), requested_by=root)
    jobs.run_job(job.pk)
    client = as_user(root)

    text = client.get(f"/jobs/{job.pk}/").content.decode()

    assert "It freed nothing: " in text and "more is garbage but younger than its 2\xa0h grace window" in text
    assert "It freed nothing: " in client.get(URL).content.decode()


def test_a_shorter_window_needs_the_warning_confirmed_then_frees_what_waited(
    as_user: AsUser, root: User, deleted_image: int, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(root)

    refused = client.post("/jobs/garbage-collection/", {"grace_minutes": 0})
    longer = client.post("/jobs/garbage-collection/", {"grace_minutes": 600, "pushes_in_flight_understood": "on"})

    assert refused.status_code == 400 and "a push still in progress" in refused.content.decode()
    assert longer.status_code == 400 and "Only a shorter window" in longer.content.decode()
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/jobs/garbage-collection/", {"grace_minutes": 0, "pushes_in_flight_understood": "on"})
    job = Job.objects.get()
    assert started["Location"] == f"/jobs/{job.pk}/"
    assert job.parameters == {"grace_seconds": 0} and job.state == Job.State.SUCCEEDED
    assert (job.result["bytes_freed"], job.result["bytes_waiting_for_grace"]) == (deleted_image, 0)
