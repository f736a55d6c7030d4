"""Honest space accounting: what a repository or project holds on disk, what it shares, and
what deleting it would free. A layer shared by several images or repositories counts once in
any total, and "would free" is exactly what the collector frees after the deletion. Also the
display size of one image (image_sizes), for the size column of a repository's tags."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import Project
from v2api.models import Blob, Manifest, ManifestReference, Repository
from v2api.services.garbage import bytes_freed_without, total_size


@dataclass(frozen=True)
class Usage:
    total_bytes: int
    shared_bytes: int

    @property
    def freeable_bytes(self) -> int:
        """What deleting all of it frees at the next collection, once older than the grace window:
        the bytes nothing outside it needs."""
        return self.total_bytes - self.shared_bytes


def repository_usage(repository_name: str) -> Usage:
    return _usage(Manifest.objects.filter(repository__name=repository_name))


def project_usage(project_name: str) -> Usage:
    return _usage(Manifest.objects.filter(repository__project__name=project_name))


def project_stored_bytes(project_name: str) -> int:
    """What the project's manifests reference, each blob once: the figure its quota limits, asked on
    every push of a new layer, so without the cost of what deleting it would free."""
    return _stored_bytes(Manifest.objects.filter(repository__project__name=project_name))


def _stored_bytes(inside: QuerySet[Manifest]) -> int:
    return total_size(
        Blob.objects.filter(id__in=ManifestReference.objects.filter(manifest__in=inside).values("blob_id"))
    )


def _usage(inside: QuerySet[Manifest]) -> Usage:
    total = _stored_bytes(inside)
    # Freeable is the collector's definition (garbage.py), as deletion plans count it.
    freeable = bytes_freed_without(inside)
    return Usage(total_bytes=total, shared_bytes=total - freeable)


def repository_usages(repository_names: Iterable[str]) -> dict[str, Usage]:
    """repository_usage for each of these repositories, in one query, for a page of a list.

    Same rule, written for a page at once (tests hold the two equal): each distinct blob a
    repository's manifests reference counts once in its total, and is shared when a manifest of
    another repository references it too; what garbage.py frees is the rest.
    """
    names = list(repository_names)
    used_outside = ManifestReference.objects.filter(blob_id=OuterRef("blob_id")).exclude(
        manifest__repository_id=OuterRef("manifest__repository_id")
    )
    pairs = (
        ManifestReference.objects.filter(blob__isnull=False, manifest__repository__name__in=names)
        .annotate(shared=Exists(used_outside))
        .values_list("manifest__repository__name", "blob_id", "blob__size", "shared")
        .distinct()
    )
    totals = {name: 0 for name in names}
    shared = {name: 0 for name in names}
    for name, _, size, is_shared in pairs:
        totals[name] += size
        if is_shared:
            shared[name] += size
    return {name: Usage(total_bytes=totals[name], shared_bytes=shared[name]) for name in names}


def project_usages(project_names: Iterable[str]) -> dict[str, Usage]:
    """project_usage for each of these projects, in one query, for the home and administration lists.

    Same rule, written for a list at once (tests hold the two equal): each distinct blob the
    manifests of a project's repositories reference counts once in its total, and is shared when a
    manifest of a repository in another project references it; what garbage.py frees is the rest.
    Unlike repository_usages the sums are taken in the database: a project's distinct blobs can
    run to many thousands, a page of repositories' rarely does.
    """
    names = list(dict.fromkeys(project_names))
    usages = {name: Usage(total_bytes=0, shared_bytes=0) for name in names}
    if not names:
        return usages
    placeholders = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(_PROJECT_USAGES_SQL.format(names=placeholders), names)
        for name, total, shared in cursor.fetchall():
            usages[name] = Usage(total_bytes=int(total), shared_bytes=int(shared))
    return usages


# Written out: the ORM cannot sum over a DISTINCT subquery. Plain SQL, so SQLite runs it too.
_PROJECT_USAGES_SQL = (
    "SELECT inside.project_name, SUM(b.size), SUM(CASE WHEN EXISTS ("
    f" SELECT 1 FROM {ManifestReference._meta.db_table} o_ref"
    f" JOIN {Manifest._meta.db_table} o_m ON o_m.id = o_ref.manifest_id"
    f" JOIN {Repository._meta.db_table} o_r ON o_r.id = o_m.repository_id"
    " WHERE o_ref.blob_id = inside.blob_id AND o_r.project_id <> inside.project_id"
    ") THEN b.size ELSE 0 END) "
    "FROM (SELECT DISTINCT p.id AS project_id, p.name AS project_name, ref.blob_id AS blob_id"
    f" FROM {ManifestReference._meta.db_table} ref"
    f" JOIN {Manifest._meta.db_table} m ON m.id = ref.manifest_id"
    f" JOIN {Repository._meta.db_table} r ON r.id = m.repository_id"
    f" JOIN {Project._meta.db_table} p ON p.id = r.project_id"
    " WHERE ref.blob_id IS NOT NULL AND p.name IN ({names})) inside "
    f"JOIN {Blob._meta.db_table} b ON b.id = inside.blob_id "
    "GROUP BY inside.project_id, inside.project_name"
)


def image_sizes(manifest_ids: list[int]) -> dict[int, int]:
    """Bytes of each image by manifest id: its config and layers, or for an index the unique blobs
    of its children (a layer two platforms share counts once). Two queries for any page."""
    children: dict[int, set[int]] = defaultdict(set)
    for parent_id, child_id in ManifestReference.objects.filter(
        manifest_id__in=manifest_ids, child__isnull=False
    ).values_list("manifest_id", "child_id"):
        children[parent_id].add(child_id)
    every_manifest = set(manifest_ids).union(*children.values())
    blobs: dict[int, dict[int, int]] = defaultdict(dict)
    for manifest_id, blob_id, size in ManifestReference.objects.filter(
        manifest_id__in=every_manifest, blob__isnull=False
    ).values_list("manifest_id", "blob_id", "blob__size"):
        blobs[manifest_id][blob_id] = size
    sizes = {}
    for manifest_id in manifest_ids:
        unique: dict[int, int] = dict(blobs[manifest_id])
        for child_id in children[manifest_id]:
            unique.update(blobs[child_id])
        sizes[manifest_id] = sum(unique.values())
    return sizes
