"""Changing a project's retention policy and rules: the one write path for the dashboard, the
management API and the shell. What the rules do is retention.py's; this module only keeps them valid."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Project
from audit import actions
from audit.recorder import record
from v2api.models import RetentionPolicy, RetentionRule
from v2api.services.globs import normalised


def policy_of(project: Project) -> RetentionPolicy:
    """The project's policy; a project that never set one has the defaults (nothing runs)."""
    policy, _ = RetentionPolicy.objects.get_or_create(project=project)
    return policy


def update_retention_policy(
    project: Project, *, enabled: bool, delete_untagged: bool, always_keep_tags: str
) -> RetentionPolicy:
    """Set whether the rules run on schedule, whether untagged images go, and the always-keep globs."""
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(project=project).first() or RetentionPolicy(
            project=project
        )
        policy.enabled = enabled
        policy.delete_untagged = delete_untagged
        policy.always_keep_tags = normalised(always_keep_tags)
        policy.save()
        record(
            actions.RETENTION_POLICY,
            project=project.name,
            resource=project.name,
            detail={
                "enabled": enabled,
                "delete_untagged": delete_untagged,
                "always_keep_tags": policy.always_keep_tags,
            },
        )
    return policy


def add_retention_rule(
    project: Project,
    *,
    repositories: str,
    tags: str,
    keep_most_recent: int | None = None,
    keep_days: int | None = None,
) -> RetentionRule:
    """Add a rule: among the tags matching both globs, keep the N most recent or those pushed within N days.

    Raises ValidationError unless exactly one of keep_most_recent and keep_days is given, or
    when a glob is empty.
    """
    errors: dict[str, str] = {}
    if (keep_most_recent is None) == (keep_days is None):
        errors["keep_days"] = "Give either a number of tags to keep or a number of days, not both."
    if keep_days is not None and keep_days < 1:
        errors["keep_days"] = "Keep tags pushed within at least one day."
    repositories, tags = normalised(repositories), normalised(tags)
    if not repositories:
        errors["repositories"] = "Name the repositories, e.g. ** for all of them."
    if not tags:
        errors["tags"] = "Name the tags, e.g. * for all of them."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rule = RetentionRule.objects.create(
            policy=policy_of(project),
            repositories=repositories,
            tags=tags,
            keep_most_recent=keep_most_recent,
            keep_days=keep_days,
        )
        record(
            actions.RETENTION_RULE_ADD,
            project=project.name,
            resource=project.name,
            detail={
                "rule": rule.id,
                "repositories": repositories,
                "tags": tags,
                "keep_most_recent": keep_most_recent,
                "keep_days": keep_days,
            },
        )
    return rule


def remove_retention_rule(project: Project, rule_id: int) -> bool:
    """Remove one of the project's rules; False if it was already gone."""
    with transaction.atomic():
        deleted, _ = RetentionRule.objects.filter(policy__project=project, id=rule_id).delete()
        if deleted:
            record(actions.RETENTION_RULE_DELETE, project=project.name, resource=project.name, detail={"rule": rule_id})
    return bool(deleted)
