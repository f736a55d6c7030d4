"""Beat's upkeep of the audit log: writing buffered pulls, and forgetting what is too old."""

from celery import shared_task
from django.conf import settings

from audit import pulls, recorder


@shared_task(name="audit.tasks.flush_pull_events", time_limit=300, soft_time_limit=280)
def flush_pull_events() -> int:
    """Write the buffered pull events; a second run at once finds nothing left, or the first one running."""
    return pulls.flush_pulls()


@shared_task(name="audit.tasks.purge_audit_events", time_limit=3600, soft_time_limit=3300)
def purge_audit_events() -> int:
    """Delete events older than REGISTRY_AUDIT_RETENTION_DAYS; 0 keeps them all."""
    days = settings.REGISTRY_AUDIT_RETENTION_DAYS
    return recorder.purge_old_events(days) if days else 0
