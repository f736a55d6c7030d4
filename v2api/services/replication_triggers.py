"""When replication rules run by themselves: on beat's schedule, and after a push (v2api/tasks.py
sends the jobs; this module only says which rules are due, so it sends nothing)."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from oci.names import name_in_project, project_name_of
from v2api.models import Job, ReplicationRule
from v2api.services.globs import matches


def claim_scheduled_rules() -> list[int]:
    """The enabled scheduled rules whose last run started `schedule_seconds` ago or more (or never
    ran) and that have no full run waiting or running, each claimed by moving its
    `last_scheduled_at` with a conditional UPDATE: two beats, or a task delivered twice, start one
    run, not two."""
    now = timezone.now()
    claimed: list[int] = []
    rules = ReplicationRule.objects.filter(
        enabled=True, trigger=ReplicationRule.Trigger.SCHEDULE, schedule_seconds__isnull=False
    )
    unfinished = set(
        Job.objects.filter(
            kind=Job.Kind.REPLICATION,
            state__in=(Job.State.PENDING, Job.State.RUNNING),
            dry_run=False,
            parameters__only=None,
        ).values_list("parameters__rule", flat=True)
    )
    for rule in rules.only("id", "schedule_seconds", "last_scheduled_at"):
        assert rule.schedule_seconds is not None
        due = rule.last_scheduled_at is None or now - rule.last_scheduled_at >= timedelta(seconds=rule.schedule_seconds)
        # A run longer than the interval is not joined by another copying the same images.
        if not due or rule.id in unfinished:
            continue
        unchanged = Q(last_scheduled_at=rule.last_scheduled_at) if rule.last_scheduled_at else Q(last_scheduled_at=None)
        if ReplicationRule.objects.filter(unchanged, id=rule.id).update(last_scheduled_at=now):
            claimed.append(rule.id)
    return claimed


def rules_for_push(repository_name: str, tag: str) -> list[int]:
    """The enabled on-push rules whose project, repository and tag globs take this pushed tag."""
    rules = ReplicationRule.objects.filter(
        enabled=True,
        trigger=ReplicationRule.Trigger.ON_PUSH,
        direction=ReplicationRule.Direction.PUSH,
        project__name=project_name_of(repository_name),
    ).values_list("id", "repositories", "tags")
    path = name_in_project(repository_name)
    return [rule_id for rule_id, repositories, tags in rules if matches(repositories, path) and matches(tags, tag)]
