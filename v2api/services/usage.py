"""Honest space accounting: what a repository or project holds on disk, what it shares, and
what deleting it would free. A layer shared by several images or repositories counts once in
any total, and "would free" is exactly what the collector frees after the deletion. Also the
display size of one image (image_sizes), for the size column of a repository's tags."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from v2api.models import Blob, Manifest, ManifestReference
from v2api.services.garbage import bytes_freed_without, freeable_by_project, freeable_by_repository, total_size


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
    """repository_usage for each of these repositories, in one query, for a page of a list."""
    return {
        name: Usage(total_bytes=total, shared_bytes=total - freeable)
        for name, (total, freeable) in freeable_by_repository(repository_names).items()
    }


def project_usages(project_names: Iterable[str]) -> dict[str, Usage]:
    """project_usage for each of these projects, in one query, for the home and administration lists."""
    return {
        name: Usage(total_bytes=total, shared_bytes=total - freeable)
        for name, (total, freeable) in freeable_by_project(project_names).items()
    }


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
