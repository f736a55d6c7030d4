"""Celery tasks: thin shells that take ids and call a service (services/jobs.py), and request_job,
which records a job and sends the task that runs it: the services never import this module."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User

from v2api.models import Job, RetentionPolicy
from v2api.services import jobs, usage_history
from v2api.services.job_requests import GarbageCollectionRequest, JobRequest, RetentionRequest, UploadPurgeRequest


def request_job(job_request: JobRequest, dry_run: bool = False, requested_by: User | None = None) -> Job:
    """Record a job and have a worker run it once the surrounding transaction commits (until then
    the row is invisible to the worker); the dashboard, the API and the schedule all ask here."""
    job = jobs.record_job(job_request, dry_run=dry_run, requested_by=requested_by)
    run_job_task.delay_on_commit(job.id)
    return job


@shared_task(name="v2api.tasks.run_job")
def run_job_task(job_id: int) -> None:
    """Run a recorded job; a second delivery finds it claimed and does nothing."""
    jobs.run_job(job_id)


@shared_task(name="v2api.tasks.collect_garbage_on_schedule")
def collect_garbage_on_schedule() -> None:
    request_job(GarbageCollectionRequest())


@shared_task(name="v2api.tasks.purge_stale_uploads_on_schedule")
def purge_stale_uploads_on_schedule() -> None:
    request_job(UploadPurgeRequest())


@shared_task(name="v2api.tasks.apply_retention_on_schedule")
def apply_retention_on_schedule() -> None:
    for project_name in RetentionPolicy.objects.filter(enabled=True).values_list("project__name", flat=True):
        request_job(RetentionRequest(project_name))


@shared_task(name="v2api.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Mark failed the jobs whose worker died mid-job (they would stay `running` forever)."""
    return jobs.reap_stale_jobs(timedelta(seconds=settings.REGISTRY_JOB_STALE_SECONDS))


@shared_task(name="v2api.tasks.record_usage_snapshots")
def record_usage_snapshots() -> int:
    """Today's usage snapshot of every project; a second run the same day updates the same rows."""
    return usage_history.record_usage_snapshots()
