"""Deleting tags, images and repositories, and saying beforehand what that frees.

One code path for the API's DELETE, the dashboard and deletion jobs. Deleting never removes
a file: rows go here, into the recycle bin first (recycle_bin.py, where the project keeps one),
and the garbage collector frees the disk of whatever nothing needs.
An image goes with what exists only for it: the children of an index that nothing else
tags or references, and its referrers (signatures, SBOMs), which mean nothing without it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Project
from audit import actions
from audit.recorder import record
from oci.digests import Digest
from oci.names import project_name_of
from v2api.errors import ManifestUnknown, NameUnknown
from v2api.models import ImmutableTagRule, Manifest, ManifestReference, Repository, RetentionPolicy, Tag
from v2api.services.garbage import bytes_freed_without, untagged_garbage
from v2api.services.immutability import immutable_tag_message, immutable_tags, refuse_deleting_immutable_tags
from v2api.services.recycle_bin import recycle
from v2api.services.recycle_windows import recycle_window
from v2api.storage import blobstore


@dataclass
class DeletionPlan:
    """What a deletion removes, and the bytes the next garbage collection frees because of it (once
    they are older than the grace window: garbage.bytes_freed_without)."""

    repository: str
    tags: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    manifest_ids: set[int] = field(default_factory=set, repr=False)
    # Tags of the plan that a rule makes immutable: executing it is refused (plan_deletion only).
    immutable_tags: dict[str, ImmutableTagRule] = field(default_factory=dict)
    # Until when the deletion stays in the recycle bin, restorable, with its bytes kept (None: no bin).
    restorable_until: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "repository": self.repository,
            "tags_deleted": len(self.tags),
            "manifests_deleted": len(self.manifests),
            "bytes_to_free": self.bytes_freed,
            "tags": self.tags,
            "manifests": self.manifests,
            "restorable_until": self.restorable_until.isoformat() if self.restorable_until else None,
            "immutable_tags": [
                {"tag": tag, "rule": rule.pk, "message": immutable_tag_message(tag, rule)}
                for tag, rule in sorted(self.immutable_tags.items())
            ],
        }


def plan_deletion(
    repository_name: str,
    tags: Iterable[str] = (),
    digests: Iterable[str] = (),
    whole_repository: bool = False,
    images_left_untagged: bool = False,
) -> DeletionPlan:
    """What deleting these tags, images (by digest) or the whole repository would remove and free.

    With `images_left_untagged`, an image whose every tag goes (and that no index keeps) goes
    too, as retention does. Raises NameUnknown for a missing repository; unknown tags and
    digests are simply not in the plan. The plan names the immutable tags that would make
    executing it fail, so a caller hears it before a job fails on it.
    """
    plan = plan_rows(repository_name, tags, digests, whole_repository, images_left_untagged)
    plan.bytes_freed = bytes_freed_without(plan.manifest_ids)
    plan.immutable_tags = immutable_tags(repository_name, plan.tags)
    window = recycle_window(Project.objects.get(name=project_name_of(repository_name)))
    plan.restorable_until = timezone.now() + window if window else None
    return plan


def plan_rows(
    repository_name: str,
    tags: Iterable[str] = (),
    digests: Iterable[str] = (),
    whole_repository: bool = False,
    images_left_untagged: bool = False,
) -> DeletionPlan:
    """plan_deletion without the bytes, for callers that add up several repositories first."""
    repository = Repository.objects.filter(name=repository_name).first()
    if repository is None:
        raise NameUnknown(detail={"name": repository_name})
    manifests = Manifest.objects.filter(repository=repository)
    if whole_repository:
        doomed = set(manifests.values_list("id", flat=True))
        doomed_tags = list(Tag.objects.filter(repository=repository).values_list("name", flat=True))
    else:
        named_tags = set(Tag.objects.filter(repository=repository, name__in=list(tags)).values_list("name", flat=True))
        roots = set(manifests.filter(digest__in=list(digests)).values_list("id", flat=True))
        if images_left_untagged:
            roots |= _untagged_by(repository, named_tags)
        doomed = _with_dependents(repository, roots)
        doomed_tags = sorted(
            named_tags | set(Tag.objects.filter(manifest_id__in=doomed).values_list("name", flat=True))
        )
        doomed |= _left_untagged(repository, doomed, doomed_tags)
    return DeletionPlan(
        repository=repository_name,
        tags=doomed_tags,
        manifests=sorted(manifests.filter(id__in=doomed).values_list("digest", flat=True)),
        manifest_ids=doomed,
    )


def delete_by_reference(repository_name: str, reference: Digest | str) -> DeletionPlan:
    """end-9: by digest, delete the image and every tag on it; by tag, delete only the tag.

    Raises ManifestUnknown when there is no such tag or manifest.
    """
    if isinstance(reference, str):
        plan = execute_deletion(repository_name, tags=[reference])
    else:
        plan = execute_deletion(repository_name, digests=[str(reference)])
    if not plan.tags and not plan.manifests:
        raise ManifestUnknown(detail={"reference": str(reference)})
    return plan


def execute_deletion(
    repository_name: str,
    tags: Iterable[str] = (),
    digests: Iterable[str] = (),
    whole_repository: bool = False,
    images_left_untagged: bool = False,
    count_bytes: bool = False,
) -> DeletionPlan:
    """Delete what plan_deletion names, in one transaction. Deleting what is gone already is no error;
    deleting an immutable tag raises Denied and deletes nothing.

    `count_bytes` also records what the next collection frees (a job's result); the API's DELETE
    skips that query.
    """
    arguments = (repository_name, list(tags), list(digests), whole_repository, images_left_untagged)
    try:
        with transaction.atomic():
            repository = Repository.objects.get(name=repository_name)
            # Lock what the plan names, then plan again: an index push that was about to reference
            # one of these has either committed (and the new plan sees it) or now waits for us.
            first = plan_rows(*arguments)
            list(Manifest.objects.select_for_update().filter(id__in=first.manifest_ids).values_list("id"))
            plan = plan_rows(*arguments)
            refuse_deleting_immutable_tags(repository_name, plan.tags)
            if count_bytes:
                plan.bytes_freed = bytes_freed_without(plan.manifest_ids)
            if plan.tags or plan.manifests:
                plan.restorable_until = recycle(
                    repository, plan.tags, plan.manifest_ids, _action_of(arguments[2], whole_repository)
                )
            Tag.objects.filter(repository=repository, name__in=plan.tags).delete()
            # Manifests take their references with them (CASCADE); blob rows stay for the collector.
            Manifest.objects.filter(repository=repository, digest__in=plan.manifests).delete()
            if plan.tags or plan.manifests:
                _record_deletion(plan, arguments[2], whole_repository)
            if whole_repository:
                upload_ids = [str(upload_id) for upload_id in repository.uploads.values_list("id", flat=True)]
                repository.delete()
                transaction.on_commit(lambda: _drop_uploads(upload_ids))
    except (NameUnknown, Repository.DoesNotExist):
        return DeletionPlan(repository=repository_name)
    return plan


def _record_deletion(plan: DeletionPlan, digests: list[str], whole_repository: bool) -> None:
    """One event per deletion: of the repository, of images (asked by digest), or of tags (and
    the images retention deletes with them), naming everything that went."""
    if whole_repository:
        resource = plan.repository
    elif digests:
        resource = plan.repository + (f"@{digests[0]}" if len(digests) == 1 else "")
    else:
        resource = plan.repository + (f":{plan.tags[0]}" if len(plan.tags) == 1 else "")
    record(
        _action_of(digests, whole_repository),
        project=project_name_of(plan.repository),
        resource=resource,
        detail={"tags": plan.tags, "manifests": plan.manifests},
    )


def _action_of(digests: list[str], whole_repository: bool) -> str:
    if whole_repository:
        return actions.REPOSITORY_DELETE
    return actions.IMAGE_DELETE if digests else actions.TAG_DELETE


def _drop_uploads(upload_ids: list[str]) -> None:
    for upload_id in upload_ids:
        blobstore.store().delete_upload(upload_id)


def _untagged_by(repository: Repository, tag_names: set[str]) -> set[int]:
    """Manifests that lose every tag when `tag_names` go, and that no index keeps as a child."""
    losing = set(Tag.objects.filter(repository=repository, name__in=tag_names).values_list("manifest_id", flat=True))
    keeping_a_tag = Tag.objects.filter(manifest_id__in=losing).exclude(name__in=tag_names)
    children = ManifestReference.objects.filter(child_id__in=losing)
    return (
        losing
        - set(keeping_a_tag.values_list("manifest_id", flat=True))
        - set(children.values_list("child_id", flat=True))
    )


def _with_dependents(repository: Repository, roots: set[int]) -> set[int]:
    """The manifests plus the index children only they need and every referrer of them."""
    doomed = set(roots)
    pending = list(roots)
    while pending:
        parent_ids = pending
        pending = []
        for child_id in ManifestReference.objects.filter(manifest_id__in=parent_ids, child__isnull=False).values_list(
            "child_id", flat=True
        ):
            if child_id in doomed:
                continue
            other_parents = ManifestReference.objects.filter(child_id=child_id).exclude(manifest_id__in=doomed)
            if not other_parents.exists() and not Tag.objects.filter(manifest_id=child_id).exists():
                doomed.add(child_id)
                pending.append(child_id)
        digests = Manifest.objects.filter(id__in=parent_ids).values_list("digest", flat=True)
        for referrer_id in Manifest.objects.filter(repository=repository, subject_digest__in=list(digests)).values_list(
            "id", flat=True
        ):
            if referrer_id not in doomed:
                doomed.add(referrer_id)
                pending.append(referrer_id)
    return doomed


def _left_untagged(repository: Repository, doomed: set[int], doomed_tags: list[str]) -> set[int]:
    """Manifests the collector removes after this deletion (not before it), in a project that
    deletes untagged manifests: those only the doomed tags kept, and what only they needed."""
    project_ids = [repository.project_id]
    if not RetentionPolicy.objects.filter(project_id=repository.project_id, delete_untagged=True).exists():
        return set()
    tag_ids = Tag.objects.filter(repository=repository, name__in=doomed_tags).values_list("id", flat=True)
    # Grace does not matter here: it decides when the collector frees them, not whether.
    now = timezone.now()
    after = untagged_garbage(now, project_ids, ignoring_tags=list(tag_ids))
    before = untagged_garbage(now, project_ids)
    return (after - before) - doomed
