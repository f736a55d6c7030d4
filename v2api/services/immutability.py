"""Tag immutability: a project's rules name tags that, once pushed, stay on their digest.

An immutable tag is never moved to another digest nor deleted, whichever path asks: a push
(manifests.put_manifest), a DELETE, a deletion job or the dashboard (deletion.execute_deletion),
and retention, which keeps such tags instead of failing (retention.plan_retention). Pushing the
same digest again is no move and stays allowed. Rules match as retention's do (globs.matches):
comma-separated globs on the repository path inside the project and on the tag, `!` excluding.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Project
from audit import actions
from audit.recorder import record
from oci.names import project_name_of
from v2api.errors import Denied
from v2api.models import ImmutableTagRule
from v2api.services.globs import matches, normalised


def add_immutable_tag_rule(project: Project, *, repositories: str, tags: str) -> ImmutableTagRule:
    """Make the tags matching both globs immutable; raises ValidationError when a glob is empty."""
    repositories, tags = normalised(repositories), normalised(tags)
    errors: dict[str, str] = {}
    if not repositories:
        errors["repositories"] = "Name the repositories, e.g. ** for all of them."
    if not tags:
        errors["tags"] = "Name the tags, e.g. v*.*.* or release-*."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rule = ImmutableTagRule.objects.create(project=project, repositories=repositories, tags=tags)
        record(
            actions.IMMUTABLE_RULE_ADD,
            project=project.name,
            resource=f"rule {rule.id}",
            detail={"repositories": repositories, "tags": tags},
        )
    return rule


def remove_immutable_tag_rule(project: Project, rule_id: int) -> bool:
    """Remove one of the project's rules; False if it was already gone."""
    with transaction.atomic():
        deleted, _ = ImmutableTagRule.objects.filter(project=project, id=rule_id).delete()
        if deleted:
            record(actions.IMMUTABLE_RULE_DELETE, project=project.name, resource=f"rule {rule_id}")
    return bool(deleted)


def immutable_tags(repository_name: str, tags: Iterable[str]) -> dict[str, ImmutableTagRule]:
    """Which of these tags of the repository are immutable, each with the first rule (by id) that says so."""
    tags = list(tags)
    if not tags:
        return {}
    project_name = project_name_of(repository_name)
    path = repository_name.removeprefix(f"{project_name}/")
    rules = [
        rule
        for rule in ImmutableTagRule.objects.filter(project__name=project_name).order_by("id")
        if matches(rule.repositories, path)
    ]
    found: dict[str, ImmutableTagRule] = {}
    for tag in tags:
        rule = next((rule for rule in rules if matches(rule.tags, tag)), None)
        if rule is not None:
            found[tag] = rule
    return found


def refuse_deleting_immutable_tags(repository_name: str, tags: Iterable[str]) -> None:
    """Raise Denied if any of these tags is immutable (the first one by name is named)."""
    immutable = immutable_tags(repository_name, tags)
    if immutable:
        first = min(immutable)
        raise _refusal(repository_name, first, immutable[first])


def refuse_moving_immutable_tag(repository_name: str, tag: str) -> None:
    """Raise Denied if the tag, which exists on another manifest (locked by the caller:
    manifests.point_tag), is immutable."""
    rule = immutable_tags(repository_name, [tag]).get(tag)
    if rule is not None:
        raise _refusal(repository_name, tag, rule)


def immutable_tag_message(tag: str, rule: ImmutableTagRule) -> str:
    """What a refusal says, and what a deletion plan warns with."""
    return f"tag {tag} is immutable ({rule})"


def _refusal(repository_name: str, tag: str, rule: ImmutableTagRule) -> Denied:
    # docker, skopeo and podman print the code and this message: "denied: tag v1.2.0 is immutable (rule …)".
    return Denied(
        immutable_tag_message(tag, rule),
        detail={"repository": repository_name, "tag": tag, "rule": rule.pk},
    )
