"""Background jobs: recorded in the database, run by a Celery worker, safe to run twice.

A job is a row first; the task that runs it is sent only after the row commits, claims it
with a conditional UPDATE (pending -> running), and records the result or the error. A second
delivery of the same task finds the job no longer pending and does nothing.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from registry_ui.metrics import record_gc_run
from v2api.models import Job
from v2api.services.deletion import execute_deletion, plan_deletion
from v2api.services.gc import collect_garbage
from v2api.services.locks import AlreadyRunning
from v2api.services.retention import apply_retention
from v2api.services.uploads import purge_stale_uploads

logger = logging.getLogger(__name__)
# Progress is written at most this often, so a large collection does not write a row per blob.
PROGRESS_INTERVAL_SECONDS = 1.0


def request_job(kind: str, parameters: dict[str, Any], dry_run: bool = False, requested_by: User | None = None) -> Job:
    """Record a job and have a worker run it once the surrounding transaction commits."""
    from v2api.tasks import run_job_task

    job = Job.objects.create(kind=kind, parameters=parameters, dry_run=dry_run, requested_by=requested_by)
    run_job_task.delay_on_commit(job.id)
    return job


def run_job(job_id: int) -> None:
    """Claim the job if it is still pending, run it, and record how it ended."""
    claimed = Job.objects.filter(id=job_id, state=Job.State.PENDING).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = Job.objects.get(id=job_id)
    try:
        result = _RUNNERS[job.kind](job, _progress_recorder(job.id))
    except AlreadyRunning:
        _finish(job.id, Job.State.FAILED, error=f"another {job.kind.replace('_', ' ')} is running; try again later")
    except Exception as error:
        logger.exception("job %s failed", job_id)
        _finish(job.id, Job.State.FAILED, error=f"{type(error).__name__}: {error}")
    else:
        _finish(job.id, Job.State.SUCCEEDED, result=result)


def _finish(job_id: int, state: str, result: dict[str, Any] | None = None, error: str = "") -> None:
    Job.objects.filter(id=job_id).update(state=state, result=result or {}, error=error, finished_at=timezone.now())


def _progress_recorder(job_id: int) -> Callable[[str, int, int], None]:
    last_write = 0.0

    def record(phase: str, done: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if done < total and now - last_write < PROGRESS_INTERVAL_SECONDS:
            return
        last_write = now
        Job.objects.filter(id=job_id).update(phase=phase, progress_done=done, progress_total=total)

    return record


def _run_deletion(job: Job, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    arguments = {
        "repository_name": job.parameters["repository"],
        "tags": job.parameters.get("tags", []),
        "digests": job.parameters.get("digests", []),
        "whole_repository": job.parameters.get("whole_repository", False),
    }
    plan = plan_deletion(**arguments) if job.dry_run else execute_deletion(**arguments, count_bytes=True)
    progress("deleted", 1, 1)
    return plan.as_dict()


def _run_garbage_collection(job: Job, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    grace = timedelta(seconds=job.parameters.get("grace_seconds", settings.REGISTRY_GC_GRACE_SECONDS))
    started = time.monotonic()
    report = collect_garbage(grace, dry_run=job.dry_run, progress=progress)
    if not job.dry_run:
        record_gc_run(report.blobs_deleted, report.bytes_freed, time.monotonic() - started)
    return report.as_dict()


def _run_upload_purge(job: Job, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    max_age = timedelta(seconds=job.parameters.get("max_age_seconds", settings.REGISTRY_STALE_UPLOAD_SECONDS))
    return purge_stale_uploads(max_age, dry_run=job.dry_run)


def _run_retention(job: Job, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    return apply_retention(job.parameters["project"], dry_run=job.dry_run).as_dict()


_RUNNERS: dict[str, Callable[[Job, Callable[[str, int, int], None]], dict[str, Any]]] = {
    Job.Kind.DELETION: _run_deletion,
    Job.Kind.GARBAGE_COLLECTION: _run_garbage_collection,
    Job.Kind.PURGE_UPLOADS: _run_upload_purge,
    Job.Kind.RETENTION: _run_retention,
}
