import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Project
from oci.digests import Digest
from registry_ui.celery import app
from tests.conftest import PushImage, S3Storage
from v2api.models import Job
from v2api.storage import paths

REPO_ROOT = Path(__file__).resolve().parents[2]


def blob_file(storage_root: Path, digest: str) -> Path:
    return paths.blob_path(storage_root, Digest.parse(digest))


def bytes_on_disk(storage_root: Path) -> int:
    """What the blob store holds, measured on disk."""
    blobs = paths.blobs_root(storage_root)
    return sum(path.stat().st_size for path in blobs.rglob("*") if path.is_file()) if blobs.exists() else 0


@pytest.fixture
def disk(storage_root: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """What the blob store holds, measured where it keeps blobs: on disk, or by listing the
    bucket when the test runs on S3 (each_blob_store)."""
    if settings.REGISTRY_STORAGE == "s3":
        bucket: S3Storage = request.getfixturevalue("s3_storage")
        return lambda: sum(bucket.objects(under=f"{paths.LAYOUT_VERSION}/blobs/").values())
    return lambda: bytes_on_disk(storage_root)


@pytest.fixture
def projects(push_image: PushImage) -> list[str]:
    """Three projects: layers shared inside one, across two, and an empty project."""
    for name in ("team", "ops", "empty"):
        Project.objects.create(name=name)
    push_image("team/app", "v1", layers=[b"base" * 100, b"app"])
    push_image("team/app", "v2", layers=[b"base" * 100, b"app 2"])
    push_image("team/web", "v1", layers=[b"base" * 100, b"common"])
    push_image("ops/tool", "v1", layers=[b"common", b"tool"])
    return ["team", "ops", "empty"]


@pytest.fixture
def celery_worker_process(storage_root: Path) -> Iterator[subprocess.Popen[bytes]]:
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
        yield worker
    finally:
        app.conf.task_default_queue = previous_queue
        worker.terminate()
        worker.wait(timeout=30)


def wait_for(job: Job, seconds: float = 60, states: tuple[str, ...] = (Job.State.SUCCEEDED, Job.State.FAILED)) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job.id} still {job.state} after {seconds} s")
