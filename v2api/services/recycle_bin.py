"""The recycle bin: what a deletion removes stays restorable for a window, then the collector frees it.

Every deletion passes through deletion.execute_deletion (a DELETE by tag or digest, the API, the
dashboard, deletion jobs, retention), which hands it to `recycle` inside its own transaction, as
the collector does with the untagged manifests it deletes (gc.py), so no path forgets the bin. A
recycled deletion keeps a copy of each manifest its tags named or it deleted (and of their index
children), and a row per blob they reference: garbage.garbage_blobs keeps those blobs while the
deletion is unexpired, so a manifest in the bin keeps its layers. The window is the project's
`recycle_seconds`, else REGISTRY_RECYCLE_SECONDS; 0 keeps no bin.

A restore stores the manifests again (a re-push of the same digest meanwhile is simply found) and
puts each tag back on its digest, in the repository it was in, created again if it was deleted
whole or left the catalog once emptied. A tag that now points elsewhere is a conflict, never moved.
An untagged manifest the collector deleted comes back untagged, by digest, pushed anew: tag it
before the grace window passes, or the next collection puts it back in the bin.
Bytes in the bin do not count toward the project's quota, which counts what the project's manifests
reference (as Harbor's counts its artifacts, not its disk): a full project makes room by deleting,
and the bin is bounded by its window. A restore brings bytes back into the project, so it meets
the quota as a push does.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from accounts.models import Project
from audit import actions
from audit.recorder import record
from oci.digests import Digest
from v2api.errors import Denied
from v2api.models import (
    Blob,
    Manifest,
    ManifestReference,
    RecycledBlob,
    RecycledDeletion,
    RecycledManifest,
    Repository,
    RepositoryBlob,
    Tag,
)
from v2api.parsing import parse_manifest
from v2api.services.immutability import immutable_tag_message, immutable_tags
from v2api.services.manifests import restore_manifest
from v2api.services.quotas import check_quota
from v2api.services.recycle_windows import recycle_window
from v2api.services.repositories import get_or_create_repository

# The action of a deletion of untagged manifests by the collector (gc.py), as the bin lists it.
COLLECTED_UNTAGGED = "gc.untagged"


class RestoreConflict(Exception):
    """A tag of the deletion now names another image (restoring would move it), or its bytes
    would take the project past its quota."""


@dataclass(frozen=True)
class RecycledItem:
    """A deletion in the bin as the API and the dashboard list it."""

    deletion: RecycledDeletion
    # Digests of the images the deletion removed (not those only its tags named).
    manifests: list[str]
    # What deleting it permanently lets the next collection free (blobs nothing else keeps).
    bytes_to_free: int


def recycle(repository: Repository, tags: Iterable[str], manifest_ids: set[int], action: str) -> datetime | None:
    """Keep what a deletion is about to remove: these tags of the repository and these manifests.

    Called inside the deletion's transaction before its rows go. Returns when the deletion expires
    (the collector may free its bytes from then on), or None when the project keeps no bin.
    """
    window = recycle_window(repository.project)
    if not window:
        return None
    named = dict(Tag.objects.filter(repository=repository, name__in=list(tags)).values_list("name", "manifest_id"))
    kept = _with_children(manifest_ids | set(named.values()))
    rows = list(Manifest.objects.filter(id__in=kept).values_list("id", "digest", "media_type", "content"))
    digests = {manifest_id: digest for manifest_id, digest, _, _ in rows}
    deletion = RecycledDeletion.objects.create(
        project_id=repository.project_id,
        repository_name=repository.name,
        action=action,
        tags={name: digests[manifest_id] for name, manifest_id in sorted(named.items())},
        expires_at=timezone.now() + window,
    )
    RecycledManifest.objects.bulk_create(
        RecycledManifest(
            deletion=deletion,
            digest=digest,
            media_type=media_type,
            content=bytes(content),
            deleted=manifest_id in manifest_ids,
        )
        for manifest_id, digest, media_type, content in rows
    )
    blob_ids = set(
        ManifestReference.objects.filter(manifest_id__in=kept, blob__isnull=False).values_list("blob_id", flat=True)
    )
    RecycledBlob.objects.bulk_create(RecycledBlob(deletion=deletion, blob_id=blob_id) for blob_id in sorted(blob_ids))
    return deletion.expires_at


def recycled_items(project: Project) -> list[RecycledItem]:
    """The project's deletions still in the bin, newest first."""
    deletions = list(
        RecycledDeletion.objects.filter(project=project, expires_at__gt=timezone.now()).order_by("-deleted_at", "-id")
    )
    deleted: dict[int, list[str]] = {deletion.id: [] for deletion in deletions}
    for deletion_id, digest in (
        RecycledManifest.objects.filter(deletion__in=deletions, deleted=True)
        .order_by("digest")
        .values_list("deletion_id", "digest")
    ):
        deleted[deletion_id].append(digest)
    freed = _bytes_to_free(deletions)
    return [RecycledItem(deletion, deleted[deletion.id], freed[deletion.id]) for deletion in deletions]


def recycled_bytes(project: Project) -> int:
    """Bytes that only the project's deletions in the bin keep: freed once their windows end.
    A blob another project's bin keeps too is left out, as _bytes_to_free leaves out a blob
    another deletion keeps: emptying this bin would not free it."""
    unexpired = RecycledBlob.objects.filter(blob_id=OuterRef("id"), deletion__expires_at__gt=timezone.now())
    held = (
        Blob.objects.filter(Exists(unexpired.filter(deletion__project=project)))
        .exclude(Exists(unexpired.exclude(deletion__project=project)))
        .exclude(Exists(ManifestReference.objects.filter(blob_id=OuterRef("id"))))
    )
    return int(held.aggregate(total=Sum("size"))["total"] or 0)


@dataclass(frozen=True)
class Restored:
    repository: str
    # Each tag put back and its digest.
    tags: dict[str, str]
    # Digests of the manifests stored again (or found already there: pushed again meanwhile).
    manifests: list[str]


def restore(project: Project, deletion_id: int) -> Restored:
    """Bring back a deletion of the bin: its images on the same digests, its tags on them.

    The deletion leaves the bin. Raises RecycledDeletion.DoesNotExist when it is not in the
    project's bin (restored, deleted permanently, or expired), RestoreConflict when one of its
    tags now names another image (immutable or not) or when its bytes do not fit in the
    project's quota; then nothing is restored.
    """
    _refuse_past_quota(project, deletion_id)
    with transaction.atomic():
        deletion = (
            RecycledDeletion.objects.select_for_update()
            .select_related("project")
            .get(project=project, id=deletion_id, expires_at__gt=timezone.now())
        )
        repository = get_or_create_repository(deletion.repository_name)
        blobs = _linked_blobs(repository, deletion)
        restored: dict[str, Manifest] = {}
        for recycled in _children_first(list(deletion.manifests.all())):
            restored[recycled.digest] = restore_manifest(
                repository, Digest.parse(recycled.digest), bytes(recycled.content), recycled.media_type, blobs
            )
        for name, digest in deletion.tags.items():
            # Every manifest a tag named is in the deletion, so restored just now.
            _put_tag_back(repository, name, restored[digest])
        record(
            actions.RECYCLE_RESTORE,
            project=project.name,
            resource=deletion.repository_name,
            detail={"deletion": deletion.id, "tags": deletion.tags, "manifests": sorted(restored)},
        )
        deletion.delete()
    return Restored(deletion.repository_name, deletion.tags, sorted(restored))


def delete_permanently(project: Project, deletion_id: int) -> bool:
    """Take a deletion out of the bin for good: the next collection frees what only it kept.
    False if it is not in the project's bin (an expired deletion left it with its window)."""
    with transaction.atomic():
        deletion = (
            RecycledDeletion.objects.select_for_update()
            .filter(project=project, id=deletion_id, expires_at__gt=timezone.now())
            .first()
        )
        if deletion is None:
            return False
        record(
            actions.RECYCLE_DELETE,
            project=project.name,
            resource=deletion.repository_name,
            detail={
                "deletion": deletion.id,
                "tags": deletion.tags,
                "bytes_to_free": _bytes_to_free([deletion])[deletion.id],
            },
        )
        deletion.delete()
    return True


def _refuse_past_quota(project: Project, deletion_id: int) -> None:
    """The quota's rule for the bytes a restore brings back into the project, as for a push.

    Bytes in the bin do not count toward the quota, so without this rule deleting, pushing
    another image into the room made and restoring would grow a project past it at will. Asked
    before the restore's transaction, as a push asks, so that a refusal stays in the audit log.
    """
    deletion = RecycledDeletion.objects.filter(project=project, id=deletion_id).first()
    if deletion is None or project.quota_bytes is None:
        return
    in_the_project = ManifestReference.objects.filter(blob_id=OuterRef("id"), manifest__repository__project=project)
    returning = (
        Blob.objects.filter(recycled_by__deletion=deletion)
        .exclude(Exists(in_the_project))
        .aggregate(total=Sum("size"))["total"]
    )
    if not returning:
        return
    # The repository may be gone (deleted whole): the check only needs its name and project.
    repository = Repository(name=deletion.repository_name, project=project)
    try:
        check_quota(repository, None, int(returning), needs="restoring this deletion needs")
    except Denied as refused:
        raise RestoreConflict(refused.message) from None


def _bytes_to_free(deletions: list[RecycledDeletion]) -> dict[int, int]:
    """For each deletion, its blobs that no manifest and no other unexpired deletion keeps, in one query."""
    held_elsewhere = RecycledBlob.objects.filter(
        blob_id=OuterRef("blob_id"), deletion__expires_at__gt=timezone.now()
    ).exclude(deletion_id=OuterRef("deletion_id"))
    freed = {deletion.id: 0 for deletion in deletions}
    for deletion_id, size in (
        RecycledBlob.objects.filter(deletion__in=deletions)
        .exclude(Exists(held_elsewhere))
        .exclude(Exists(ManifestReference.objects.filter(blob_id=OuterRef("blob_id"))))
        .values_list("deletion_id", "blob__size")
    ):
        freed[deletion_id] += size
    return freed


def _with_children(manifest_ids: set[int]) -> set[int]:
    """These manifests and, for indexes, every manifest they need, however deep."""
    found = set(manifest_ids)
    pending = set(manifest_ids)
    while pending:
        children = set(
            ManifestReference.objects.filter(manifest_id__in=pending, child__isnull=False).values_list(
                "child_id", flat=True
            )
        )
        pending = children - found
        found |= pending
    return found


def _linked_blobs(repository: Repository, deletion: RecycledDeletion) -> dict[str, Blob]:
    """The deletion's blobs, linked into the repository again (the collector may have dropped the
    links). The existing links are locked first, as a push locks them, so a collection that is
    about to drop one either has (and the link is made again) or waits for this restore."""
    blobs = {blob.digest: blob for blob in Blob.objects.filter(recycled_by__deletion=deletion)}
    linked = set(
        RepositoryBlob.objects.select_for_update(no_key=True)
        .filter(repository=repository, blob__in=blobs.values())
        .order_by("id")
        .values_list("blob_id", flat=True)
    )
    RepositoryBlob.objects.bulk_create(
        [RepositoryBlob(repository=repository, blob=blob) for blob in blobs.values() if blob.id not in linked],
        ignore_conflicts=True,
    )
    return blobs


def _children_first(manifests: list[RecycledManifest]) -> list[RecycledManifest]:
    """An index after the manifests it names, so that its references find them."""
    children = {
        recycled.digest: {
            str(child.digest) for child in parse_manifest(bytes(recycled.content), recycled.media_type).children
        }
        for recycled in manifests
    }
    ordered: list[RecycledManifest] = []
    placed: set[str] = set()
    pending = sorted(manifests, key=lambda recycled: recycled.digest)
    while pending:
        ready = [recycled for recycled in pending if not (children[recycled.digest] - placed) & set(children)]
        # A cycle cannot be pushed (digests name content), so `ready` is never empty; guard anyway.
        ready = ready or pending
        ordered.extend(ready)
        placed.update(recycled.digest for recycled in ready)
        pending = [recycled for recycled in pending if recycled.digest not in placed]
    return ordered


def _put_tag_back(repository: Repository, name: str, manifest: Manifest) -> None:
    """Create the tag on its manifest; a tag that now names another image is a conflict."""
    tag, created = Tag.objects.select_for_update().get_or_create(
        repository=repository, name=name, defaults={"manifest": manifest}
    )
    if created or tag.manifest_id == manifest.id:
        return
    rule = immutable_tags(repository.name, [name]).get(name)
    current = Manifest.objects.values_list("digest", flat=True).get(id=tag.manifest_id)
    if rule is not None:
        raise RestoreConflict(
            f"{immutable_tag_message(name, rule)} and now points to {current}: "
            f"it cannot be moved back to {manifest.digest}."
        )
    raise RestoreConflict(
        f"tag {name} now points to {current}, not {manifest.digest}: push or delete it first, then restore."
    )
