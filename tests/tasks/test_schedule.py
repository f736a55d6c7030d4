"""The beat tasks request their jobs as the dashboard and the API do: recorded, then run by a worker
once the row commits (eager here, as a worker would)."""

from typing import Any

import pytest

from accounts.models import Project
from v2api.models import Job, RetentionPolicy
from v2api.tasks import apply_retention_on_schedule, collect_garbage_on_schedule, purge_stale_uploads_on_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings: Any, django_capture_on_commit_callbacks: Any) -> Any:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return django_capture_on_commit_callbacks


def test_the_scheduled_collection_runs_as_a_job_with_the_configured_grace(settings: Any, eager: Any) -> None:
    with eager(execute=True):
        collect_garbage_on_schedule()
    job = Job.objects.get()
    assert (job.kind, job.state, job.requested_by) == (Job.Kind.GARBAGE_COLLECTION, Job.State.SUCCEEDED, None)
    assert job.parameters == {"grace_seconds": settings.REGISTRY_GC_GRACE_SECONDS}


def test_the_scheduled_purge_runs_as_a_job_with_the_configured_age(settings: Any, eager: Any) -> None:
    with eager(execute=True):
        purge_stale_uploads_on_schedule()
    job = Job.objects.get()
    assert (job.kind, job.state) == (Job.Kind.PURGE_UPLOADS, Job.State.SUCCEEDED)
    assert job.parameters == {"max_age_seconds": settings.REGISTRY_STALE_UPLOAD_SECONDS}


def test_scheduled_retention_runs_one_job_per_enabled_policy(eager: Any) -> None:
    for name, enabled in [("team", True), ("idle", False)]:
        RetentionPolicy.objects.create(project=Project.objects.create(name=name), enabled=enabled)
    with eager(execute=True):
        apply_retention_on_schedule()
    assert list(Job.objects.values_list("kind", "state", "parameters")) == [
        (Job.Kind.RETENTION, Job.State.SUCCEEDED, {"project": "team"})
    ]
