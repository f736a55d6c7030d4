"""Jobs through a real Celery worker on the real Redis: a deletion and a collection requested the
way the dashboard requests them, run by `celery -A registry_ui worker`, recorded in the database."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from registry_ui.celery import app
from tests.conftest import PushImage
from tests.tasks.conftest import blob_file
from v2api.models import Job
from v2api.services.job_requests import DeletionRequest, GarbageCollectionRequest
from v2api.tasks import request_job

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue(storage_root: Path) -> Iterator[str]:
    """A worker process of our own, on a queue of our own, so no other worker takes our jobs."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    database = settings.DATABASES["default"]
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "REGISTRY_STORAGE_ROOT": str(storage_root),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "registry_ui", "worker", "--pool", "solo", "-Q", queue, "-l", "WARNING"],
        cwd=REPO_ROOT,
        env=environment,
    )
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = previous_queue
        worker.terminate()
        worker.wait(timeout=30)


def wait_for(job: Job, seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (Job.State.SUCCEEDED, Job.State.FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.id} still {job.state} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_deletion_and_a_collection_and_records_them(
    worker_queue: str, admin_user: User, push_image: PushImage, storage_root: Path
) -> None:
    kept = push_image("team/app", tag="stable", layers=[b"shared", b"kept"])
    doomed = push_image("team/app", tag="old", layers=[b"shared", b"doomed"], config=b"{}")

    deletion = wait_for(
        request_job(DeletionRequest("team/app", tags=("old",), digests=(doomed.digest,)), requested_by=admin_user)
    )
    collection = wait_for(request_job(GarbageCollectionRequest(0), requested_by=admin_user))

    assert (deletion.state, deletion.error) == (Job.State.SUCCEEDED, "")
    assert deletion.result["tags"] == ["old"]
    assert deletion.result["manifests"] == [doomed.digest]
    assert collection.state == Job.State.SUCCEEDED
    assert collection.result["bytes_freed"] == deletion.result["bytes_to_free"] == len(b"doomed") + len(b"{}")
    assert not blob_file(storage_root, doomed.layer_digests[1]).exists()
    assert blob_file(storage_root, kept.layer_digests[1]).exists()
    assert collection.started_at is not None and collection.finished_at is not None
