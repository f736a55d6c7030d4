"""Online garbage collection: frees disk while the registry keeps serving pushes and pulls.

Mark: what garbage.py defines as garbage, the one definition that deletion plans, usage
figures and the storage page count with too. Every manifest is kept, except, in projects whose
retention policy asks for it, untagged manifests that nothing kept needs. A blob is kept while
a kept manifest references it or a kept link links it; a repository's link to a blob is kept
while a manifest of that repository references it or while it is younger than the grace window.

The recycle bin (services/recycle_bin.py) keeps the blobs of its deletions from the collector until
they expire; a collection first empties the bin of the deletions expired when it starts, so their
blobs are freed by that same collection (once past the grace window). The untagged manifests it
deletes go into the bin too, where the project keeps one: their blobs wait for the window's end.

Sweep: untagged manifests, then links, then blobs, in batches, then the files without a row.
Each batch locks its rows with `FOR UPDATE SKIP LOCKED` and re-checks them in a new statement,
so what a concurrent push locked or referenced meanwhile survives (see services/blobs.py for the
push side). A blob's file moves to trash/ before its row's deletion commits and is removed after;
a collector killed half way has its trash restored or emptied by the next run. A file without a
row is claimed by inserting a row for it, which waits for a push recording that digest at the
same moment (the unique digest) and fails if that push commits: only a file nobody records goes.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from oci.digests import Digest
from v2api.models import Blob, Manifest, ManifestReference, RecycledDeletion, Repository, RepositoryBlob, Tag
from v2api.services.garbage import (
    binned_by_collection,
    blob_files_without_row,
    collectable_bytes_at,
    garbage_blobs,
    garbage_links,
    recycled_bytes_at,
    untagged_garbage,
)
from v2api.services.locks import exclusive
from v2api.services.recycle_bin import COLLECTED_UNTAGGED, recycle
from v2api.storage import blobstore

logger = logging.getLogger(__name__)
BATCH_SIZE = 1000
Progress = Callable[[str, int, int], None]


@dataclass
class GarbageReport:
    dry_run: bool
    manifests_deleted: int = 0
    links_deleted: int = 0
    blobs_deleted: int = 0
    files_without_row_deleted: int = 0
    # Blobs' bytes and those of the files without a row.
    bytes_freed: int = 0
    # Garbage younger than the grace window, left for a later collection: why one started right
    # after a deletion frees less than the deletion promised, or nothing.
    bytes_waiting_for_grace: int = 0
    # Deletions whose recycle-bin window had ended, removed from the bin; and the bytes that
    # deletions still in the bin keep, freed by a collection after their window ends.
    recycled_deletions_expired: int = 0
    bytes_in_recycle_bin: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def collect_garbage(grace: timedelta, dry_run: bool = False, progress: Progress | None = None) -> GarbageReport:
    """Delete what nothing needs and free its disk; a dry run reports the same without deleting.

    Raises AlreadyRunning if another collector holds the lock.
    """
    report = progress or (lambda phase, done, total: None)
    with exclusive("collect-garbage"):
        _settle_trash()
        # One moment for the whole run: the bin's deletions expired by then go first, and every
        # later look at the bin counts the rest as keeping their blobs.
        started = timezone.now()
        cutoff = started - grace
        untagged = untagged_garbage(cutoff)
        result = GarbageReport(dry_run=dry_run)
        expired = RecycledDeletion.objects.filter(expires_at__lte=started)
        if dry_run:
            result.recycled_deletions_expired = expired.count()
            result.manifests_deleted = len(untagged)
            result.links_deleted = garbage_links(cutoff, gone=untagged).count()
            binned = binned_by_collection(untagged)
            doomed = garbage_blobs(cutoff, gone=untagged, recycled_after=started, binned=binned)
            result.blobs_deleted = doomed.count()
            rowless = blob_files_without_row(cutoff)
            result.files_without_row_deleted = len(rowless)
            doomed_bytes = sum(doomed.values_list("size", flat=True))
            result.bytes_freed = doomed_bytes + sum(size for _, size in rowless)
            result.bytes_waiting_for_grace = collectable_bytes_at(started, started) - doomed_bytes
            result.bytes_in_recycle_bin = recycled_bytes_at(started, binned)
            return result
        result.recycled_deletions_expired = _empty_expired(started)
        result.manifests_deleted = _sweep_manifests(untagged, cutoff, report)
        result.links_deleted = _sweep_links(cutoff, report)
        result.blobs_deleted, result.bytes_freed = _sweep_blobs(cutoff, started, report)
        result.files_without_row_deleted, rowless_bytes = _sweep_files_without_row(cutoff, report)
        result.bytes_freed += rowless_bytes
        # What is garbage now that the old garbage is gone is what the grace window still keeps.
        result.bytes_waiting_for_grace = collectable_bytes_at(timezone.now(), started)
        result.bytes_in_recycle_bin = recycled_bytes_at(started)
    logger.info("garbage collection: %s", result.as_dict())
    return result


def _empty_expired(started: datetime) -> int:
    """Remove from the bin the deletions expired when the collection started.

    Their rows are locked first, as a restore and a permanent delete lock a deletion before
    deleting its manifests and blobs: a restore that began just inside the window is waited for
    (and has taken its deletion out of the bin once it commits), where deleting the children
    first deadlocked with it."""
    with transaction.atomic():
        expired = list(
            RecycledDeletion.objects.select_for_update()
            .filter(expires_at__lte=started)
            .order_by("id")
            .values_list("id", flat=True)
        )
        return RecycledDeletion.objects.filter(id__in=expired).delete()[1].get("v2api.RecycledDeletion", 0)


def _sweep_manifests(candidates: set[int], cutoff: datetime, report: Progress) -> int:
    deleted = 0
    for done, batch in _batches(sorted(candidates)):
        with transaction.atomic():
            locked = list(
                Manifest.objects.select_for_update(skip_locked=True).filter(id__in=batch).values_list("id", flat=True)
            )
            # Re-check what a push may have changed since the mark: a new tag, a new index naming
            # it, a new referrer of it. Anything outside this sweep's candidates keeps it.
            still_needed = set(Tag.objects.filter(manifest_id__in=locked).values_list("manifest_id", flat=True))
            still_needed |= set(
                ManifestReference.objects.filter(child_id__in=locked)
                .exclude(manifest_id__in=candidates)
                .values_list("child_id", flat=True)
            )
            subjects = Manifest.objects.filter(id__in=locked).values_list("id", "repository_id", "digest")
            for manifest_id, repository_id, digest in subjects:
                new_referrer = (
                    Manifest.objects.filter(repository_id=repository_id, subject_digest=digest)
                    .exclude(id__in=candidates)
                    .exists()
                )
                if new_referrer:
                    still_needed.add(manifest_id)
            doomed = set(
                Manifest.objects.filter(id__in=locked, pushed_at__lt=cutoff)
                .exclude(id__in=still_needed)
                .values_list("id", flat=True)
            )
            _recycle_untagged(doomed)
            deleted += Manifest.objects.filter(id__in=doomed).delete()[1].get("v2api.Manifest", 0)
        report("untagged manifests", done, len(candidates))
    return deleted


def _recycle_untagged(manifest_ids: set[int]) -> None:
    """Into the recycle bin of their projects (those that keep one), a deletion per repository."""
    for repository in Repository.objects.filter(manifests__id__in=manifest_ids).distinct().select_related("project"):
        in_repository = set(repository.manifests.filter(id__in=manifest_ids).values_list("id", flat=True))
        recycle(repository, [], in_repository, COLLECTED_UNTAGGED)


def _sweep_links(cutoff: datetime, report: Progress) -> int:
    candidates = list(garbage_links(cutoff).values_list("id", flat=True))
    deleted = 0
    for done, batch in _batches(candidates):
        with transaction.atomic():
            locked = list(
                RepositoryBlob.objects.select_for_update(skip_locked=True)
                .filter(id__in=batch)
                .values_list("id", flat=True)
            )
            deleted += garbage_links(cutoff).filter(id__in=locked).delete()[0]
        report("links", done, len(candidates))
    return deleted


def _sweep_blobs(cutoff: datetime, started: datetime, report: Progress) -> tuple[int, int]:
    candidates = list(garbage_blobs(cutoff, recycled_after=started).values_list("id", flat=True))
    deleted = freed = 0
    for done, batch in _batches(candidates):
        trashed: list[Digest] = []
        try:
            with transaction.atomic():
                locked = list(
                    Blob.objects.select_for_update(skip_locked=True).filter(id__in=batch).values_list("id", flat=True)
                )
                doomed = list(
                    garbage_blobs(cutoff, recycled_after=started)
                    .filter(id__in=locked)
                    .values_list("id", "digest", "size")
                    .order_by("id")
                )
                for _, digest_text, size in doomed:
                    digest = Digest.parse(digest_text)
                    if blobstore.store().trash_blob(digest):
                        trashed.append(digest)
                        freed += size
                Blob.objects.filter(id__in=[blob_id for blob_id, _, _ in doomed]).delete()
                deleted += len(doomed)
        except BaseException:
            # The rows stay, so their files come back.
            for digest in trashed:
                blobstore.store().restore_blob(digest)
            raise
        for digest in trashed:
            blobstore.store().empty_trash(digest)
        report("blobs", done, len(candidates))
    return deleted, freed


def _sweep_files_without_row(cutoff: datetime, report: Progress) -> tuple[int, int]:
    candidates = blob_files_without_row(cutoff)
    deleted = freed = 0
    for done, (digest, size) in enumerate(candidates, start=1):
        trashed = False
        try:
            with transaction.atomic():
                try:
                    # The claim: a push recording this digest right now holds its row, so this
                    # insert waits for it and then fails; one that comes after waits for ours.
                    with transaction.atomic():
                        claim = Blob.objects.create(digest=str(digest), size=size)
                except IntegrityError:
                    continue
                trashed = blobstore.store().trash_blob(digest)
                claim.delete()
        except BaseException:
            if trashed:
                blobstore.store().restore_blob(digest)
            raise
        if trashed:
            blobstore.store().empty_trash(digest)
            deleted += 1
            freed += size
        report("files without a row", done, len(candidates))
    return deleted, freed


def _settle_trash() -> None:
    """Finish what a killed collector left in trash/: restore files whose row is still there."""
    for digest in blobstore.store().trashed_blobs():
        if Blob.objects.filter(digest=str(digest)).exists():
            blobstore.store().restore_blob(digest)
        else:
            blobstore.store().empty_trash(digest)


def _batches(ids: list[int]) -> Iterator[tuple[int, list[int]]]:
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        yield start + len(batch), batch
