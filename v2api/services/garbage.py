"""What the garbage collector frees: the one definition of "freeable".

The collector's mark (gc.py), deletion plans (deletion.py), retention runs, usage figures
(usage.py) and the administrator's storage page all count through here, so the bytes a page or
the API promises are the bytes a collection then frees. At a cutoff (now minus the grace
window, REGISTRY_GC_GRACE_SECONDS), garbage is:

- an untagged manifest, in a project whose retention policy deletes them, that nothing kept
  needs (not an index's child, not a referrer of something kept, not pushed after the cutoff);
  where the project keeps a recycle bin it goes there, and its blobs with it until the window ends;
- a repository's link to a blob, made before the cutoff, that no manifest of that repository
  references;
- a blob stored before the cutoff that no manifest references, no repository links and no
  deletion in the recycle bin keeps (services/recycle_bin.py) until it expires;
- a file under blobs/ without a blob row, last written before the cutoff: a push whose database
  connection broke after the file was in place and before its row committed.

A promise made before a collection counts with the cutoff `now`: what the next collection frees
once everything involved is older than the grace window, which the pages say alongside. A
deletion's promise (bytes_freed_without, the usage figures) leaves the recycle bin out: what the
bin keeps is freed by the first collection after its window ends, and the pages say when.
"""

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Project
from oci.digests import Digest
from v2api.models import (
    Blob,
    Manifest,
    ManifestReference,
    RecycledBlob,
    Repository,
    RepositoryBlob,
    RetentionPolicy,
    Tag,
)
from v2api.services.recycle_windows import keeps_a_bin
from v2api.storage import blobstore

# Manifest ids, or a queryset of manifests (a subquery, for a whole project's).
Manifests = Collection[int] | QuerySet[Manifest]


def grace_window() -> timedelta:
    """How long what was pushed, uploaded or linked stays safe from the collector (the setting)."""
    return timedelta(seconds=settings.REGISTRY_GC_GRACE_SECONDS)


def untagged_garbage(
    cutoff: datetime, project_ids: Iterable[int] | None = None, ignoring_tags: Iterable[int] = ()
) -> set[int]:
    """Ids of untagged manifests, in projects that delete them, that nothing kept needs.

    `project_ids` narrows the projects looked at; `ignoring_tags` (tag ids) plans a deletion:
    those tags count as gone.
    """
    scope = RetentionPolicy.objects.filter(delete_untagged=True)
    if project_ids is not None:
        scope = scope.filter(project_id__in=list(project_ids))
    in_scope = Manifest.objects.filter(repository__project__in=scope.values("project_id"))
    rows = list(in_scope.values_list("id", "repository_id", "digest", "subject_digest", "pushed_at"))
    if not rows:
        return set()
    children: dict[int, list[int]] = {}
    for parent_id, child_id in ManifestReference.objects.filter(manifest__in=in_scope, child__isnull=False).values_list(
        "manifest_id", "child_id"
    ):
        children.setdefault(parent_id, []).append(child_id)
    referrers: dict[tuple[int, str], list[int]] = {}
    for manifest_id, repository_id, _, subject, _ in rows:
        if subject:
            referrers.setdefault((repository_id, subject), []).append(manifest_id)
    identity = {manifest_id: (repository_id, digest) for manifest_id, repository_id, digest, _, _ in rows}
    tagged = set(
        Tag.objects.filter(manifest__in=in_scope)
        .exclude(id__in=list(ignoring_tags))
        .values_list("manifest_id", flat=True)
    )
    recent = {manifest_id for manifest_id, _, _, _, pushed_at in rows if pushed_at >= cutoff}
    kept: set[int] = set()
    pending = list(tagged | recent)
    while pending:
        manifest_id = pending.pop()
        if manifest_id in kept:
            continue
        kept.add(manifest_id)
        pending.extend(children.get(manifest_id, []))
        pending.extend(referrers.get(identity[manifest_id], []))
    return set(identity) - kept


def garbage_links(cutoff: datetime, gone: Manifests = ()) -> QuerySet[RepositoryBlob]:
    """Links made before `cutoff` that no manifest of their repository references, the `gone`
    manifests (deleted, or about to be) aside."""
    return RepositoryBlob.objects.filter(_link_is_garbage(cutoff, gone))


def _link_is_garbage(cutoff: datetime, gone: Manifests) -> Q:
    references = ManifestReference.objects.filter(
        manifest__repository_id=OuterRef("repository_id"), blob_id=OuterRef("blob_id")
    ).exclude(manifest__in=gone)
    return Q(~Exists(references), linked_at__lt=cutoff)


def garbage_blobs(
    cutoff: datetime,
    gone: Manifests | None = None,
    recycled_after: datetime | None = None,
    binned: Manifests = (),
) -> QuerySet[Blob]:
    """Blobs stored before `cutoff` that no manifest references and no repository links.

    With `gone`, those manifests, and the links the collector drops once they are gone, count as
    deleted already: a dry run, a deletion plan, a usage figure. Without it every reference and
    link that exists keeps its blob: the sweep's re-check, where a link a push has just made or
    refreshed must keep the blob it links. With `recycled_after`, a deletion in the recycle bin
    that expires after it keeps its blobs too (what a collection then frees); without, the bin
    counts as emptied (what a deletion frees once its window has passed). `binned` (among `gone`)
    are the untagged manifests a collection puts in the recycle bin: their blobs stay with them.
    """
    references = ManifestReference.objects.filter(blob_id=OuterRef("id"))
    links = RepositoryBlob.objects.filter(blob_id=OuterRef("id"))
    if gone is not None:
        references = references.exclude(manifest__in=gone)
        # Correlated per blob rather than NOT IN over every garbage link in the registry.
        links = links.exclude(_link_is_garbage(cutoff, gone))
    blobs = Blob.objects.filter(created_at__lt=cutoff).exclude(Exists(references)).exclude(Exists(links))
    if recycled_after is not None:
        blobs = blobs.exclude(Exists(_recycled_after(recycled_after)))
    if binned:
        blobs = blobs.exclude(Exists(_referenced_by(binned)))
    return blobs


def binned_by_collection(untagged: Collection[int]) -> set[int]:
    """The untagged manifests a collection puts in the recycle bin rather than deletes outright:
    those of projects that keep one. Their blobs are freed by the first collection after the window."""
    if not untagged:
        return set()
    in_a_bin = Project.objects.filter(keeps_a_bin()).values("id")
    return set(
        Manifest.objects.filter(id__in=list(untagged), repository__project__in=in_a_bin).values_list("id", flat=True)
    )


def blob_files_without_row(cutoff: datetime) -> list[tuple[Digest, int]]:
    """Files under blobs/ last written before `cutoff` that no blob row names, with their sizes."""
    old_files = list(blobstore.store().blobs_older_than(cutoff.timestamp()))
    recorded: set[str] = set()
    for start in range(0, len(old_files), 1000):
        batch = [str(digest) for digest, _ in old_files[start : start + 1000]]
        recorded.update(Blob.objects.filter(digest__in=batch).values_list("digest", flat=True))
    return [(digest, size) for digest, size in old_files if str(digest) not in recorded]


def bytes_freed_without(manifests: Manifests) -> int:
    """Bytes the collector frees once these manifests are gone and the grace window has passed:
    the blobs they reference that nothing else keeps."""
    if not isinstance(manifests, QuerySet) and not manifests:
        return 0
    referenced = ManifestReference.objects.filter(manifest__in=manifests, blob__isnull=False).values("blob_id")
    return total_size(garbage_blobs(timezone.now(), gone=manifests).filter(id__in=referenced))


def collectable_bytes() -> int:
    """Bytes the next collection frees once everything is older than the grace window: what a
    collection with no grace would free now, untagged manifests the retention policies delete
    included, the recycle bin's unexpired deletions left out."""
    return collectable_bytes_at(timezone.now())


def collectable_bytes_at(cutoff: datetime, now: datetime | None = None) -> int:
    """Bytes of the blobs a collection started `now` with this cutoff (now minus its grace
    window) frees: the recycle bin's deletions expired by `now` have gone by then, and the
    untagged manifests it puts in the bin keep their blobs."""
    untagged = untagged_garbage(cutoff)
    return total_size(
        garbage_blobs(
            cutoff, gone=untagged, recycled_after=now or timezone.now(), binned=binned_by_collection(untagged)
        )
    )


def recycled_bytes_at(now: datetime, binned: Manifests = ()) -> int:
    """Bytes only the recycle bin's deletions unexpired at `now` keep, and the `binned` untagged
    manifests a collection is about to put there: a collection frees them once those deletions
    expire (or are deleted permanently) and the grace window has passed."""
    kept = Q(Exists(_recycled_after(now)))
    if binned:
        kept |= Q(Exists(_referenced_by(binned)))
    return total_size(garbage_blobs(now, gone=untagged_garbage(now)).filter(kept))


def _recycled_after(moment: datetime) -> QuerySet[RecycledBlob]:
    return RecycledBlob.objects.filter(blob_id=OuterRef("id"), deletion__expires_at__gt=moment)


def _referenced_by(manifests: Manifests) -> QuerySet[ManifestReference]:
    return ManifestReference.objects.filter(blob_id=OuterRef("id"), manifest__in=manifests)


def total_size(blobs: QuerySet[Blob]) -> int:
    return int(blobs.aggregate(total=Sum("size"))["total"] or 0)


# A page of repositories or projects at once. The garbage is bytes_freed_without's, grouped: at
# the cutoff `now` a blob the group's manifests reference becomes garbage exactly when no manifest
# outside the group references it, since a link is kept only by a manifest of its own repository
# that references its blob, which keeps the blob anyway. tests/registry_ui/test_storage.py and
# tests/tasks/test_project_usages.py hold the grouped forms equal to bytes_freed_without.


def freeable_by_repository(repository_names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """For each repository, the bytes its manifests reference (each blob once) and the part the
    collector frees once they are gone, in one query for a page of a list."""
    names = list(repository_names)
    used_outside = ManifestReference.objects.filter(blob_id=OuterRef("blob_id")).exclude(
        manifest__repository_id=OuterRef("manifest__repository_id")
    )
    pairs = (
        ManifestReference.objects.filter(blob__isnull=False, manifest__repository__name__in=names)
        .annotate(kept=Exists(used_outside))
        .values_list("manifest__repository__name", "blob_id", "blob__size", "kept")
        .distinct()
    )
    totals = {name: 0 for name in names}
    freeable = {name: 0 for name in names}
    for name, _, size, kept in pairs:
        totals[name] += size
        if not kept:
            freeable[name] += size
    return {name: (totals[name], freeable[name]) for name in names}


def freeable_by_project(project_names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """freeable_by_repository for projects, for the home and administration lists. The sums are
    taken in the database: a project's distinct blobs can run to many thousands, a page of
    repositories' rarely does."""
    names = list(dict.fromkeys(project_names))
    found = dict.fromkeys(names, (0, 0))
    if not names:
        return found
    placeholders = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(_FREEABLE_BY_PROJECT_SQL.format(names=placeholders), names)
        for name, total, freeable in cursor.fetchall():
            found[name] = (int(total), int(freeable))
    return found


# Written out: the ORM cannot sum over a DISTINCT subquery. Plain SQL, so SQLite runs it too.
_FREEABLE_BY_PROJECT_SQL = (
    "SELECT inside.project_name, SUM(b.size), SUM(CASE WHEN EXISTS ("
    f" SELECT 1 FROM {ManifestReference._meta.db_table} o_ref"
    f" JOIN {Manifest._meta.db_table} o_m ON o_m.id = o_ref.manifest_id"
    f" JOIN {Repository._meta.db_table} o_r ON o_r.id = o_m.repository_id"
    " WHERE o_ref.blob_id = inside.blob_id AND o_r.project_id <> inside.project_id"
    ") THEN 0 ELSE b.size END) "
    "FROM (SELECT DISTINCT p.id AS project_id, p.name AS project_name, ref.blob_id AS blob_id"
    f" FROM {ManifestReference._meta.db_table} ref"
    f" JOIN {Manifest._meta.db_table} m ON m.id = ref.manifest_id"
    f" JOIN {Repository._meta.db_table} r ON r.id = m.repository_id"
    f" JOIN {Project._meta.db_table} p ON p.id = r.project_id"
    " WHERE ref.blob_id IS NOT NULL AND p.name IN ({names})) inside "
    f"JOIN {Blob._meta.db_table} b ON b.id = inside.blob_id "
    "GROUP BY inside.project_id, inside.project_name"
)
