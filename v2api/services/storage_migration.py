"""Moving the blobs from one store to the other (disk to bucket, or back): `manage.py migratestorage`.

Every blob the database knows is streamed from the store in use into the other one, which
verifies its digest before it is in place (stage_blob), as a push does. Blobs the target has
already (of the size the database says) are skipped, so the copy resumes after an interruption
and a second run, just before the switch, brings only what was pushed meanwhile. Manifests and
tags live in the database and stay.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from oci.digests import Digest
from v2api.errors import DigestInvalid
from v2api.models import Blob
from v2api.storage.base import BlobStore
from v2api.storage.streams import read_blob_chunks


@dataclass
class MigrationSummary:
    blobs_copied: int = 0
    bytes_copied: int = 0
    blobs_present: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MigrationProgress:
    blobs_done: int
    blobs_total: int
    bytes_done: int
    bytes_total: int


def migrate_blobs(
    source: BlobStore, target: BlobStore, progress: Callable[[MigrationProgress], None]
) -> MigrationSummary:
    """Copy every blob with a row from `source` to `target`; a blob missing from the source or
    not matching its digest there is reported in the summary and not copied."""
    summary = MigrationSummary()
    # One listing instead of a request per blob: a bucket answers a thousand keys a page.
    present = dict(target.blobs_older_than(float("inf")))
    blobs = list(Blob.objects.order_by("id").values_list("digest", "size"))
    bytes_total = sum(size for _, size in blobs)
    bytes_done = 0
    for done, (text, size) in enumerate(blobs, start=1):
        digest = Digest.parse(text)
        if digest in present and present[digest] != size:
            # An earlier copy by other means stopped halfway (`cp -r` writes at the final name):
            # installing would keep it, as the same digest is taken for the same bytes.
            summary.problems.append(
                f"blob {digest} in the target holds {present[digest]} bytes, not {size}: remove it there and run again"
            )
        elif digest in present:
            summary.blobs_present += 1
        elif _copy_blob(source, target, digest, size, summary):
            summary.blobs_copied += 1
            summary.bytes_copied += size
        bytes_done += size
        progress(MigrationProgress(done, len(blobs), bytes_done, bytes_total))
    return summary


def _copy_blob(source: BlobStore, target: BlobStore, digest: Digest, size: int, summary: MigrationSummary) -> bool:
    try:
        handle = source.open_blob(digest)
    except FileNotFoundError:
        summary.problems.append(f"blob {digest} is missing from the store in use; not copied")
        return False
    try:
        # One byte more than the row says: a longer file fails its digest rather than being cut.
        staged = target.stage_blob(read_blob_chunks(handle, size + 1), digest)
    except DigestInvalid as error:
        summary.problems.append(f"blob {digest} is corrupt in the store in use (it hashes to {error.detail['actual']})")
        return False
    try:
        # With the row locked, as a push installs a blob: a collector deleting this blob at the same
        # time either waits or has taken it already, and then nothing is put in place for it.
        with transaction.atomic():
            if not Blob.objects.select_for_update(no_key=True).filter(digest=str(digest)).exists():
                return False
            target.install_staged(staged, digest)
    finally:
        target.discard_staged(staged)
    return True
