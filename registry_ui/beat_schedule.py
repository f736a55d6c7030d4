"""What Celery beat sends and how often, from the settings' intervals (registry_ui/settings.py).
Every task it names is idempotent: a beat restarted, or two of them, sends one twice at worst."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

# Task name and the setting that holds its interval in seconds.
EVERY_SETTING = {
    "flush-pull-events": ("audit.tasks.flush_pull_events", "REGISTRY_AUDIT_FLUSH_SECONDS"),
    "send-due-deliveries": ("webhooks.tasks.send_due_deliveries", "REGISTRY_WEBHOOK_SEND_INTERVAL_SECONDS"),
    "collect-garbage": ("v2api.tasks.collect_garbage_on_schedule", "REGISTRY_GC_INTERVAL_SECONDS"),
    "purge-stale-uploads": ("v2api.tasks.purge_stale_uploads_on_schedule", "REGISTRY_UPLOAD_PURGE_INTERVAL_SECONDS"),
    "apply-retention": ("v2api.tasks.apply_retention_on_schedule", "REGISTRY_RETENTION_INTERVAL_SECONDS"),
    "replicate-on-schedule": ("v2api.tasks.replicate_on_schedule", "REGISTRY_REPLICATION_CHECK_SECONDS"),
    "reap-stale-jobs": ("v2api.tasks.reap_stale_jobs", "REGISTRY_JOB_CHECK_INTERVAL_SECONDS"),
    "resend-waiting-jobs": ("v2api.tasks.resend_waiting_jobs", "REGISTRY_JOB_CHECK_INTERVAL_SECONDS"),
    "record-usage-snapshots": ("v2api.tasks.record_usage_snapshots", "REGISTRY_USAGE_SNAPSHOT_INTERVAL_SECONDS"),
}
# Only with a company directory (REGISTRY_LDAP_URI): its people looked up again.
DIRECTORY_EVERY_SETTING = {
    "recheck-directory-people": ("accounts.tasks.recheck_directory_people", "REGISTRY_LDAP_RECHECK_SECONDS"),
}
# Housekeeping whose interval nobody needs to set.
FIXED = {
    "purge-audit-events": ("audit.tasks.purge_audit_events", timedelta(days=1)),
    "purge-deliveries": ("webhooks.tasks.purge_deliveries", timedelta(hours=1)),
}


def beat_schedule(settings: Mapping[str, Any], directory: bool) -> dict[str, dict[str, object]]:
    """CELERY_BEAT_SCHEDULE: `settings` are the settings module's names (its globals())."""
    every_setting = {**EVERY_SETTING, **(DIRECTORY_EVERY_SETTING if directory else {})}
    schedule: dict[str, dict[str, object]] = {
        name: {"task": task, "schedule": timedelta(seconds=settings[setting])}
        for name, (task, setting) in every_setting.items()
    }
    schedule.update({name: {"task": task, "schedule": every} for name, (task, every) in FIXED.items()})
    return schedule
