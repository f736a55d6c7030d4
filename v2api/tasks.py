"""Celery tasks: thin shells that take ids and call a service (services/jobs.py)."""

from celery import shared_task
from django.conf import settings

from v2api.models import Job, RetentionPolicy
from v2api.services import jobs, usage_history


@shared_task(name="v2api.tasks.run_job")
def run_job_task(job_id: int) -> None:
    """Run a recorded job; a second delivery finds it claimed and does nothing."""
    jobs.run_job(job_id)


@shared_task(name="v2api.tasks.collect_garbage_on_schedule")
def collect_garbage_on_schedule() -> None:
    job = Job.objects.create(
        kind=Job.Kind.GARBAGE_COLLECTION, parameters={"grace_seconds": settings.REGISTRY_GC_GRACE_SECONDS}
    )
    jobs.run_job(job.id)


@shared_task(name="v2api.tasks.purge_stale_uploads_on_schedule")
def purge_stale_uploads_on_schedule() -> None:
    job = Job.objects.create(
        kind=Job.Kind.PURGE_UPLOADS, parameters={"max_age_seconds": settings.REGISTRY_STALE_UPLOAD_SECONDS}
    )
    jobs.run_job(job.id)


@shared_task(name="v2api.tasks.apply_retention_on_schedule")
def apply_retention_on_schedule() -> None:
    for project_name in RetentionPolicy.objects.filter(enabled=True).values_list("project__name", flat=True):
        job = Job.objects.create(kind=Job.Kind.RETENTION, parameters={"project": project_name})
        jobs.run_job(job.id)


@shared_task(name="v2api.tasks.record_usage_snapshots")
def record_usage_snapshots() -> int:
    """Today's usage snapshot of every project; a second run the same day updates the same rows."""
    return usage_history.record_usage_snapshots()
