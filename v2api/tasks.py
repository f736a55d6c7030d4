"""Celery tasks: thin shells that take ids and call a service (services/jobs.py), and request_job,
which records a job and sends the task that runs it: the services never import this module."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from v2api.models import Job, RetentionPolicy
from v2api.services import jobs, replication_triggers, usage_history
from v2api.services.job_requests import (
    GarbageCollectionRequest,
    JobRequest,
    ReplicationRequest,
    RetentionRequest,
    UploadPurgeRequest,
)

logger = logging.getLogger(__name__)


class JobNotSent(Exception):
    """The job is recorded, but the broker (Redis) could not be reached to send it; beat's
    resend_waiting_jobs sends it once the broker is back."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"Job #{job.pk} is recorded, but the job queue cannot be reached right now; "
            "it starts on its own once the queue is back."
        )
        self.job = job


def request_job(job_request: JobRequest, dry_run: bool = False, requested_by: User | None = None) -> Job:
    """Record a job and have a worker run it once the surrounding transaction commits (until then
    the row is invisible to the worker); the dashboard, the API and the schedule all ask here.

    Raises JobNotSent (at the commit) when the broker is down: the row stays pending for the re-send.
    """
    job = jobs.record_job(job_request, dry_run=dry_run, requested_by=requested_by)
    transaction.on_commit(lambda: _send(job))
    return job


def _send(job: Job) -> None:
    try:
        run_job_task.delay(job.id)
    except BrokerError as error:
        logger.warning("job %s is recorded but could not be sent: %s", job.id, error)
        raise JobNotSent(job) from error


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


@shared_task(name="v2api.tasks.replicate_on_schedule")
def replicate_on_schedule() -> int:
    """A run of each scheduled replication rule that is due; how many were started."""
    due = replication_triggers.claim_scheduled_rules()
    for rule_id in due:
        try:
            request_job(ReplicationRequest(rule_id))
        except JobNotSent:
            # Recorded, and claimed for its interval: the rules after it must be recorded too;
            # beat's resend_waiting_jobs sends them all once the broker is back.
            logger.warning("the scheduled run of replication rule %s waits for the job queue", rule_id)
    return len(due)


def replicate_after_push(repository_name: str, tag: str) -> None:
    """After a push by tag commits (services/manifests.py's after_tag_push, wired in v2api/apps.py):
    a run of each on-push rule that takes the tag, for that image only."""
    for rule_id in replication_triggers.rules_for_push(repository_name, tag):
        try:
            request_job(ReplicationRequest(rule_id, only=(f"{repository_name}:{tag}",)))
        except JobNotSent:
            # The push is done and the job recorded; beat's resend_waiting_jobs sends it later.
            logger.warning("replication after the push of %s:%s waits for the job queue", repository_name, tag)


@shared_task(name="v2api.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Mark failed the jobs whose worker died mid-job (they would stay `running` forever)."""
    return jobs.reap_stale_jobs(timedelta(seconds=settings.REGISTRY_JOB_STALE_SECONDS))


@shared_task(name="v2api.tasks.resend_waiting_jobs")
def resend_waiting_jobs() -> int:
    """Send again the jobs still pending REGISTRY_JOB_RESEND_SECONDS after they were recorded:
    their message was lost (the broker was down when they were requested, or lost its data).

    A job whose first message is only queued behind a long job gets a second one too; whichever
    comes second finds the job claimed and does nothing (jobs.run_job).
    """
    waiting = jobs.waiting_jobs(timedelta(seconds=settings.REGISTRY_JOB_RESEND_SECONDS))
    for job_id in waiting:
        run_job_task.delay(job_id)
    return len(waiting)


@shared_task(name="v2api.tasks.record_usage_snapshots")
def record_usage_snapshots() -> int:
    """Today's usage snapshot of every project; a second run the same day updates the same rows."""
    return usage_history.record_usage_snapshots()
