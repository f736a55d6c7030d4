"""Background jobs: recorded in the database, run by a Celery worker, safe to run twice.

A job is a row first; the task that runs it is sent only after the row commits (v2api/tasks.py's
request_job: sending tasks is the tasks module's side, so this one never imports it), claims it
with a conditional UPDATE (pending -> running), and records the result or the error. A second
delivery of the same task finds the job no longer pending and does nothing. A job whose worker
died (kill -9, a lost host) is left `running`; the reaper, a beat task, marks it failed. A job
whose message was lost (the broker down) is left `pending`; beat sends it again (waiting_jobs).
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from audit import actions
from audit import context as audit_context
from audit.recorder import record
from v2api.errors import Denied
from v2api.metrics import record_gc_run
from v2api.models import Job
from v2api.services.deletion import execute_deletion, plan_deletion
from v2api.services.gc import collect_garbage
from v2api.services.job_requests import (
    DeletionRequest,
    GarbageCollectionRequest,
    JobRequest,
    ReplicationRequest,
    RetentionRequest,
    UploadPurgeRequest,
    job_request_of,
)
from v2api.services.locks import AlreadyRunning
from v2api.services.replication import replicate
from v2api.services.retention import apply_retention
from v2api.services.uploads import purge_stale_uploads

logger = logging.getLogger(__name__)
# Progress is written at most this often, so a large collection does not write a row per blob.
PROGRESS_INTERVAL_SECONDS = 1.0


def record_job(
    job_request: JobRequest,
    dry_run: bool = False,
    requested_by: User | None = None,
    from_command_line: bool = False,
) -> Job:
    """Record a pending job; nothing runs it yet (v2api/tasks.py's request_job has a worker run it)."""
    return Job.objects.create(
        kind=job_request.kind,
        parameters=job_request.as_parameters(),
        dry_run=dry_run,
        requested_by=requested_by,
        from_command_line=from_command_line,
    )


def run_job(job_id: int) -> None:
    """Claim the job if it is still pending, run it, and record how it ended."""
    claimed = Job.objects.filter(id=job_id, state=Job.State.PENDING).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    job = Job.objects.select_related("requested_by").get(id=job_id)
    # What the job changes is recorded as done by whoever asked for it, or the system (beat).
    requester = job.requested_by
    actor = audit_context.actor_for_subject(requester.get_username()) if requester else audit_context.SYSTEM
    try:
        with audit_context.acting(audit_context.on_behalf(actor, via=f"job {job.id}")):
            result = _run(job_request_of(job), job.dry_run, _progress_recorder(job.id))
    except AlreadyRunning:
        _finish(job.id, Job.State.FAILED, error=f"another {job.kind.replace('_', ' ')} is running; try again later")
    except Denied as refusal:
        # A rule refused it (an immutable tag): the job says which, and nothing went wrong.
        _finish(job.id, Job.State.FAILED, error=refusal.message)
    except Exception as error:
        logger.exception("job %s failed", job_id)
        _finish(job.id, Job.State.FAILED, error=f"{type(error).__name__}: {error}")
    else:
        if result.get("failed"):
            # A replication whose images were retried and still failed: the result lists them
            # and their errors, for a retry of just those.
            failures = result["failed"]
            summary = f"{len(failures)} image(s) not copied; the first: {failures[0]['item']}: {failures[0]['error']}"
            _finish(job.id, Job.State.FAILED, result=result, error=summary)
        else:
            _finish(job.id, Job.State.SUCCEEDED, result=result)


def waiting_jobs(older_than: timedelta) -> list[int]:
    """The ids of the jobs still pending `older_than` after they were recorded, oldest first."""
    cutoff = timezone.now() - older_than
    return list(
        Job.objects.filter(state=Job.State.PENDING, created_at__lt=cutoff).order_by("id").values_list("id", flat=True)
    )


def reap_stale_jobs(older_than: timedelta) -> int:
    """Mark failed the jobs still `running` `older_than` after they started; return how many.

    Pass at least the task's hard time limit (CELERY_TASK_TIME_LIMIT): Celery kills a task at that
    limit, so a job running longer has no worker left, only a row nobody will finish. Conditional
    on the state, so a job that ends meanwhile keeps its own end.
    """
    now = timezone.now()
    seconds = int(older_than.total_seconds())
    reaped = Job.objects.filter(state=Job.State.RUNNING, started_at__lt=now - older_than).update(
        state=Job.State.FAILED,
        finished_at=now,
        error=f"the worker running this job stopped without recording its end (still running {seconds} s "
        "after it started); marked failed by the reaper",
    )
    if reaped:
        logger.warning("marked %d stale running job(s) failed", reaped)
    return reaped


def _finish(job_id: int, state: str, result: dict[str, Any] | None = None, error: str = "") -> None:
    def record() -> None:
        # Only while it is still running: a job the reaper already marked failed keeps that end.
        Job.objects.filter(id=job_id, state=Job.State.RUNNING).update(
            state=state, result=result or {}, error=error, finished_at=timezone.now()
        )

    try:
        record()
    except (OperationalError, InterfaceError):
        # The connection broke after the job's last commit (or broke the job itself): the work
        # is done or undone, only its end is unrecorded. Once more on a fresh connection, or
        # the row stays `running` until the reaper.
        logger.warning("recording the end of job %s failed; retrying on a fresh connection", job_id, exc_info=True)
        connection.close()
        record()


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


def _run(job_request: JobRequest, dry_run: bool, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    match job_request:
        case DeletionRequest():
            return _run_deletion(job_request, dry_run, progress)
        case GarbageCollectionRequest():
            return _run_garbage_collection(job_request, dry_run, progress)
        case UploadPurgeRequest():
            return purge_stale_uploads(timedelta(seconds=job_request.max_age_seconds), dry_run=dry_run)
        case RetentionRequest():
            return apply_retention(job_request.project, dry_run=dry_run).as_dict()
        case ReplicationRequest():
            return replicate(job_request.rule, dry_run, job_request.only, progress)


def _run_deletion(
    deletion: DeletionRequest, dry_run: bool, progress: Callable[[str, int, int], None]
) -> dict[str, Any]:
    target = (deletion.repository, deletion.tags, deletion.digests, deletion.whole_repository)
    plan = plan_deletion(*target) if dry_run else execute_deletion(*target, count_bytes=True)
    progress("deleted", 1, 1)
    return plan.as_dict()


def _run_garbage_collection(
    collection: GarbageCollectionRequest, dry_run: bool, progress: Callable[[str, int, int], None]
) -> dict[str, Any]:
    started = time.monotonic()
    report = collect_garbage(timedelta(seconds=collection.grace_seconds), dry_run=dry_run, progress=progress)
    if not dry_run:
        record_gc_run(report.blobs_deleted, report.bytes_freed, time.monotonic() - started)
        record(actions.GC_RUN, detail=report.as_dict())
    return report.as_dict()
