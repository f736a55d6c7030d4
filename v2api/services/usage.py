"""Honest space accounting: what a repository or project holds on disk, what it shares, and
what deleting it would free. A layer shared by several images or repositories counts once in
any total, and "would free" is exactly what the collector frees after the deletion."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet, Sum

from v2api.models import Blob, Manifest, ManifestReference


@dataclass(frozen=True)
class Usage:
    total_bytes: int
    shared_bytes: int

    @property
    def freeable_bytes(self) -> int:
        """What deleting all of it frees: the bytes nothing outside it needs."""
        return self.total_bytes - self.shared_bytes


def repository_usage(repository_name: str) -> Usage:
    return _usage(Manifest.objects.filter(repository__name=repository_name))


def project_usage(project_name: str) -> Usage:
    return _usage(Manifest.objects.filter(repository__namespace=project_name))


def _usage(inside: QuerySet[Manifest]) -> Usage:
    blobs = Blob.objects.filter(id__in=ManifestReference.objects.filter(manifest__in=inside).values("blob_id"))
    used_outside = ManifestReference.objects.filter(blob_id=OuterRef("id")).exclude(manifest__in=inside)
    total = blobs.aggregate(total=Sum("size"))["total"] or 0
    shared = blobs.filter(Exists(used_outside)).aggregate(total=Sum("size"))["total"] or 0
    return Usage(total_bytes=int(total), shared_bytes=int(shared))


def repository_usages(repository_names: Iterable[str]) -> dict[str, Usage]:
    """repository_usage for each of these repositories, in one query, for a page of a list.

    Same rule: each distinct blob a repository's manifests reference counts once in its total,
    and is shared when a manifest of another repository references it too.
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
