"""Honest space accounting: what a repository or project holds on disk, what it shares, and
what deleting it would free. A layer shared by several images or repositories counts once in
any total, and "would free" is exactly what the collector frees after the deletion."""

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
