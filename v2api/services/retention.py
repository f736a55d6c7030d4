"""Retention rules: which tags a project keeps, which go, and what that frees.

A tag that some rule selects but no rule keeps goes, unless it matches the policy's
always-keep pattern or is immutable (immutability.py); a tag no rule selects stays. Rules
select with globs on the repository path and the tag, `!glob` excluding (see globs.matches).
An image left with no tag goes with its last tag (and what only it needed), so "keep the ten
newest" frees disk. The simulation and the run share plan_retention, so what the simulation
lists is what a run deletes.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from audit import actions
from audit.recorder import record
from v2api.models import RetentionPolicy, RetentionRule, Tag
from v2api.services.deletion import execute_deletion, plan_rows
from v2api.services.garbage import bytes_freed_without
from v2api.services.globs import matches
from v2api.services.immutability import immutable_tags
from v2api.services.recycle_windows import recycle_window


@dataclass
class RetentionPlan:
    project: str
    # repository name -> tags that go
    tags_by_repository: dict[str, list[str]] = field(default_factory=dict)
    manifests_deleted: int = 0
    bytes_freed: int = 0
    # Until when what a run deletes stays in the project's recycle bin, its bytes with it (None: no bin).
    restorable_until: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "tags_deleted": sum(len(tags) for tags in self.tags_by_repository.values()),
            "manifests_deleted": self.manifests_deleted,
            "bytes_to_free": self.bytes_freed,
            "restorable_until": self.restorable_until.isoformat() if self.restorable_until else None,
            "tags": {repository: tags for repository, tags in sorted(self.tags_by_repository.items())},
        }


def plan_retention(project_name: str, now: datetime | None = None) -> RetentionPlan:
    """The tags the project's rules remove, and the bytes that frees. No rules: nothing goes."""
    now = now or timezone.now()
    plan = RetentionPlan(project=project_name)
    policy = (
        RetentionPolicy.objects.filter(project__name=project_name)
        .select_related("project")
        .prefetch_related("rules")
        .first()
    )
    if policy is None:
        return plan
    window = recycle_window(policy.project)
    plan.restorable_until = now + window if window else None
    rules = list(policy.rules.all())
    tags = list(
        Tag.objects.filter(repository__project__name=project_name)
        .select_related("repository")
        .order_by("repository__name", "-updated_at", "name")
        .values_list("repository__name", "name", "updated_at")
    )
    in_scope: set[tuple[str, str]] = set()
    kept: set[tuple[str, str]] = set()
    for rule in rules:
        selected = [
            (repository, tag, pushed_at)
            for repository, tag, pushed_at in tags
            if matches(rule.repositories, repository.removeprefix(f"{project_name}/")) and matches(rule.tags, tag)
        ]
        in_scope |= {(repository, tag) for repository, tag, _ in selected}
        kept |= _kept_by(rule, selected, now)
    if policy.always_keep_tags:
        kept |= {(repository, tag) for repository, tag in in_scope if matches(policy.always_keep_tags, tag)}
    kept |= _immutable(in_scope)
    for repository, tag in sorted(in_scope - kept):
        plan.tags_by_repository.setdefault(repository, []).append(tag)
    doomed: set[int] = set()
    for repository, repository_tags in plan.tags_by_repository.items():
        doomed |= plan_rows(repository, tags=repository_tags, images_left_untagged=True).manifest_ids
    plan.manifests_deleted = len(doomed)
    plan.bytes_freed = bytes_freed_without(doomed)
    return plan


def apply_retention(project_name: str, dry_run: bool = False) -> RetentionPlan:
    """Run the project's rules (or, dry, only plan them). A run that deleted tags is recorded
    (`retention.run`, the retention event of webhooks) after the deletions it sums up."""
    plan = plan_retention(project_name)
    if not dry_run:
        for repository, repository_tags in plan.tags_by_repository.items():
            execute_deletion(repository, tags=repository_tags, images_left_untagged=True)
        if plan.tags_by_repository:
            record(actions.RETENTION_RUN, project=project_name, resource=project_name, detail=plan.as_dict())
    return plan


def _immutable(tags: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The immutable ones among these tags: retention keeps them rather than fail its run."""
    by_repository: dict[str, list[str]] = {}
    for repository, tag in tags:
        by_repository.setdefault(repository, []).append(tag)
    return {
        (repository, tag)
        for repository, repository_tags in by_repository.items()
        for tag in immutable_tags(repository, repository_tags)
    }


def _kept_by(rule: RetentionRule, selected: list[tuple[str, str, datetime]], now: datetime) -> set[tuple[str, str]]:
    if rule.keep_days is not None:
        since = now - timedelta(days=rule.keep_days)
        return {(repository, tag) for repository, tag, pushed_at in selected if pushed_at >= since}
    kept: set[tuple[str, str]] = set()
    count_by_repository: dict[str, int] = {}
    # `selected` is newest first within each repository.
    for repository, tag, _ in selected:
        count = count_by_repository.get(repository, 0)
        if count < (rule.keep_most_recent or 0):
            kept.add((repository, tag))
        count_by_repository[repository] = count + 1
    return kept
