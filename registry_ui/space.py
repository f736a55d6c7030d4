"""What an image weighs, for the size column of a repository's tags. Disk usage of projects and
repositories (shared, freeable) is v2api/services/usage.py's; this is only the display size of
one image, which the registry's accounting has no rule for, and the totals of the storage page."""

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Sum

from v2api.models import Blob, ManifestReference

if TYPE_CHECKING:  # listings imports this module for image sizes
    from registry_ui.listings import ProjectSummary


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


@dataclass(frozen=True)
class StorageOverview:
    """The administrator's view of the disk: every blob stored, and what no manifest references
    (bytes the next garbage collection frees once their grace window has passed)."""

    projects: list["ProjectSummary"]
    stored_bytes: int
    unreferenced_bytes: int

    @property
    def largest_project_bytes(self) -> int:
        return max((summary.usage.total_bytes for summary in self.projects if summary.usage), default=0)


def storage_overview(projects: list["ProjectSummary"]) -> StorageOverview:
    """Projects (with their usage) from largest to smallest, and the totals of the blob store."""
    referenced = ManifestReference.objects.filter(blob_id=OuterRef("id"))
    return StorageOverview(
        projects=sorted(projects, key=lambda summary: -(summary.usage.total_bytes if summary.usage else 0)),
        stored_bytes=int(Blob.objects.aggregate(total=Sum("size"))["total"] or 0),
        unreferenced_bytes=int(Blob.objects.exclude(Exists(referenced)).aggregate(total=Sum("size"))["total"] or 0),
    )
