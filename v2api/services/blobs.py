"""Blobs a repository may serve: lookup, recording, cross-repository mounts and unlinking.

Recording a blob and the garbage collector deleting one meet on the blob's row: whoever
installs a file or links a blob holds the row with `FOR NO KEY UPDATE` (or the same lock, which
an upsert's DO UPDATE takes); the collector takes `FOR UPDATE SKIP LOCKED`, re-checks, and moves
the file away before it commits. So a blob row that a push or mount just used is never deleted
under it, and a committed row always has its file.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Project
from oci.digests import Digest
from v2api.errors import BlobUnknown
from v2api.models import Blob, Repository, RepositoryBlob, Upload
from v2api.services.prepared import PreparedQuery, sql_now, unix_time
from v2api.services.quotas import check_quota
from v2api.storage import blobstore


@dataclass(frozen=True)
class BlobRecord:
    digest: str
    size: int
    # As on ResolvedManifest: whether anyone may pull from the repository's project.
    project_public: bool
    # The repository's link to the blob, and when it was made (Unix time), for refresh_old_link.
    link_id: int
    linked_at: float

    @property
    def link_is_old(self) -> bool:
        """Older than half the collector's grace window (none with no window): refresh_old_link's
        cue, cheap enough to ask before who is asking is looked at."""
        grace = settings.REGISTRY_GC_GRACE_SECONDS
        return bool(grace) and time.time() - self.linked_at >= grace / 2


def stat_blob(repository_name: str, digest: Digest) -> BlobRecord:
    """end-2: the blob's size, if this repository links it; raises BlobUnknown."""
    blob = find_blob(repository_name, digest)
    if blob is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    return blob


def find_blob(repository_name: str, digest: Digest) -> BlobRecord | None:
    """The blob, if this repository links it, in one indexed query; None otherwise.

    Written out and prepared rather than built by the ORM each time: every layer of every pull
    asks this.
    """
    row = _FIND_BLOB.fetchone([repository_name, str(digest)])
    if row is None:
        return None
    return BlobRecord(row[0], row[1], project_public=bool(row[2]), link_id=row[3], linked_at=float(row[4]))


def refresh_old_link(blob: BlobRecord) -> None:
    """A pusher's HEAD that found the blob keeps its link inside the collector's grace window.

    docker and skopeo HEAD each layer, skip the ones found, and PUT the manifest that needs them
    only once the other layers are up, which may take longer than the window. Written only when
    the link is older than half the window, so the common HEAD stays one query; with no window
    the collector keeps nothing for a push in flight, and there is nothing to refresh.
    """
    if not blob.link_is_old:
        return
    refresh_before = timezone.now() - timedelta(seconds=settings.REGISTRY_GC_GRACE_SECONDS / 2)
    RepositoryBlob.objects.filter(id=blob.link_id, linked_at__lt=refresh_before).update(linked_at=timezone.now())


_FIND_BLOB = PreparedQuery(
    "find_blob",
    f"SELECT b.digest, b.size, p.public, l.id, {unix_time('l.linked_at')} FROM {Blob._meta.db_table} b "
    f"JOIN {RepositoryBlob._meta.db_table} l ON l.blob_id = b.id "
    f"JOIN {Repository._meta.db_table} r ON r.id = l.repository_id "
    f"JOIN {Project._meta.db_table} p ON p.id = r.project_id "
    "WHERE r.name = %s AND b.digest = %s",
    ("text", "text"),
)


def record_blob(
    repository: Repository,
    digest: Digest,
    size: int,
    install_file: Callable[[], None],
    finished_upload: Upload | None = None,
) -> Blob:
    """Record a verified blob and let `repository` serve it; `install_file` puts its bytes in
    place, and `finished_upload`, the upload that became the blob, goes in the same commit.

    The row is locked (or inserted) before the file moves, in one transaction: see the module
    docstring. Safe to repeat: the same digest is the same bytes.
    """
    with transaction.atomic():
        blob_id = _lock_or_insert_blob(digest, size)
        install_file()
        _link(repository.id, blob_id)
        if finished_upload is not None:
            _delete_upload_row(finished_upload)
    # The row as the upsert left it, without another query (created_at loads if asked).
    return Blob.from_db(connection.alias, ["id", "digest", "size"], [blob_id, str(digest), size])


def mount_blob(
    repository: Repository, digest: Digest, source_name: str | None, readable_projects: QuerySet[Project] | None
) -> Blob | None:
    """end-11: link a blob that `source_name` already serves into `repository`.

    Without a source, any repository in `readable_projects` (None: any at all) will do, so a
    mount never hands out a blob the caller could not pull. Returns None when there is nothing
    to mount, and the caller starts an ordinary upload. Raises Denied when the blob would take
    the target's project past its quota (quotas.py): a mount brings bytes into a project as an
    upload does, so it is refused rather than answered with an upload that would be refused too.
    """
    links = RepositoryBlob.objects.filter(blob__digest=str(digest))
    if source_name is not None:
        links = links.filter(repository__name=source_name)
    elif readable_projects is not None:
        links = links.filter(repository__project__in=readable_projects)
    size = links.values_list("blob__size", flat=True).first()
    if size is None:
        return None
    check_quota(repository, digest, size)
    with transaction.atomic():
        blob = _lock_blob(digest)
        if blob is None or not blobstore.store().blob_exists(digest):
            return None
        _link(repository.id, blob.id)
    return blob


def unlink_blob(repository_name: str, digest: Digest) -> None:
    """end-10: `DELETE /v2/<name>/blobs/<digest>` removes the blob from this repository only.

    The file stays until garbage collection finds nothing else uses it. Raises BlobUnknown.
    """
    deleted, _ = RepositoryBlob.objects.filter(repository__name=repository_name, blob__digest=str(digest)).delete()
    if not deleted:
        raise BlobUnknown(detail={"digest": str(digest)})


def read_small_blob(digest: Digest, limit: int) -> bytes | None:
    """The bytes of a blob of at most `limit` bytes (an image config, which the dashboard shows);
    None when it is larger or its file is gone. Layers are never read this way."""
    try:
        handle = blobstore.store().open_blob(digest)
    except FileNotFoundError:
        return None
    try:
        content = handle.read(limit + 1)
    finally:
        handle.close()
    return content if len(content) <= limit else None


def _lock_blob(digest: Digest) -> Blob | None:
    return Blob.objects.select_for_update(no_key=True).filter(digest=str(digest)).first()


# One statement that inserts the row or, when it exists, locks it as `FOR NO KEY UPDATE` would: a
# DO UPDATE locks the row it meets in that mode (it changes no key column), waits for a
# collector holding it, and inserts after all if the collector deleted it. The SELECT then
# INSERT it replaces cost five statements with the savepoint that caught a concurrent insert.
_LOCK_OR_INSERT_BLOB_SQL = (
    f"INSERT INTO {Blob._meta.db_table} (digest, size, created_at) VALUES (%s, %s, %s) "
    f"ON CONFLICT (digest) DO UPDATE SET size = {Blob._meta.db_table}.size RETURNING id"
)
# Link, or refresh the link's time in the same statement: a blob pushed or mounted again is
# inside the grace window again. The link's row is locked as the blob's is.
_LINK_SQL = (
    f"INSERT INTO {RepositoryBlob._meta.db_table} (repository_id, blob_id, linked_at) VALUES (%s, %s, %s) "
    "ON CONFLICT (repository_id, blob_id) DO UPDATE SET linked_at = excluded.linked_at"
)


def _lock_or_insert_blob(digest: Digest, size: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_OR_INSERT_BLOB_SQL, [str(digest), size, sql_now()])
        return int(cursor.fetchone()[0])


def _link(repository_id: int, blob_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_LINK_SQL, [repository_id, blob_id, sql_now()])


def _delete_upload_row(upload: Upload) -> None:
    # Written out: the ORM's delete() collects related rows first, which an upload has none of.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Upload._meta.db_table} WHERE id = %s",
            [Upload._meta.pk.get_db_prep_value(upload.id, connection)],
        )
