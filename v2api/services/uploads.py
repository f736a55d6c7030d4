"""Blob uploads: monolithic, chunked and streamed, continued by any process (end-4a … end-13)."""

import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Project
from oci.digests import Digest
from v2api.errors import BlobUploadInvalid, BlobUploadUnknown, Denied, DigestInvalid, TooManyRequests
from v2api.models import Blob, Repository, Upload
from v2api.services.blobs import record_blob
from v2api.services.locks import upload_lock
from v2api.services.prepared import PreparedQuery, sql_now
from v2api.services.quotas import check_quota
from v2api.services.repositories import get_or_create_repository
from v2api.storage import blobstore


def start_upload(repository_name: str, started_by: str) -> Upload:
    """end-4a: `POST /v2/<name>/blobs/uploads/` opens an upload session for the caller `started_by`.

    Raises TooManyRequests when the caller already holds REGISTRY_MAX_OPEN_UPLOADS open
    uploads: each holds disk until it finishes or is purged.
    """
    upload_id = uuid.uuid4()
    store = blobstore.store()
    # Bytes first, row second: a row never names a missing upload.
    store.create_upload(str(upload_id))
    try:
        repository_id = _insert_upload(upload_id, repository_name, started_by)
        if repository_id is None:
            # The repository's first upload (it is created now), or one upload too many.
            get_or_create_repository(repository_name)
            repository_id = _insert_upload(upload_id, repository_name, started_by)
            if repository_id is None:
                raise _too_many_uploads(started_by)
    except BaseException:
        store.delete_upload(str(upload_id))
        raise
    return Upload(id=upload_id, repository_id=repository_id, started_by=started_by)


def upload_blob(repository_name: str, digest: Digest, body: Iterable[bytes]) -> Blob:
    """end-4b: `POST /v2/<name>/blobs/uploads/?digest=` carries the whole blob in one request.

    Raises DigestInvalid if the body does not hash to `digest`, Denied if it would take the
    project past its quota (quotas.py).
    """
    repository = get_or_create_repository(repository_name)
    store = blobstore.store()
    staged = store.stage_blob(body, digest)
    try:
        check_quota(repository, digest, staged.size)
        return record_blob(repository, digest, staged.size, lambda: store.install_staged(staged, digest))
    finally:
        store.discard_staged(staged)


def get_upload(repository_name: str, upload_id: str) -> Upload:
    """The upload with this id in this repository, with its repository and project (the fields a
    chunk, its quota check and the finishing PUT read; the others load if asked); raises
    BlobUploadUnknown."""
    try:
        parsed_id = uuid.UUID(upload_id)
    except ValueError:
        raise BlobUploadUnknown(detail={"upload": upload_id}) from None
    row = _GET_UPLOAD.fetchone([Upload._meta.pk.get_db_prep_value(parsed_id, connection), repository_name])
    if row is None:
        raise BlobUploadUnknown(detail={"upload": upload_id})
    stored_id, repository_id, started_by, size, project_id, project_name, quota_bytes = row
    project = Project.from_db(connection.alias, ["id", "name", "quota_bytes"], [project_id, project_name, quota_bytes])
    repository = Repository.from_db(
        connection.alias, ["id", "name", "project_id"], [repository_id, repository_name, project_id]
    )
    repository.project = project
    # SQLite keeps a UUID as 32 hex digits, which only the ORM's converters turn back into one.
    upload = Upload.from_db(
        connection.alias,
        ["id", "repository_id", "started_by", "size"],
        [uuid.UUID(str(stored_id)), repository_id, started_by, size],
    )
    upload.repository = repository
    return upload


# Prepared rather than built by the ORM: every PATCH and PUT of an upload asks it, and building the
# two joins cost more of a push's CPU than any other query.
_GET_UPLOAD = PreparedQuery(
    "get_upload",
    f"SELECT u.id, u.repository_id, u.started_by, u.size, p.id, p.name, p.quota_bytes FROM {Upload._meta.db_table} u "
    f"JOIN {Repository._meta.db_table} r ON r.id = u.repository_id "
    f"JOIN {Project._meta.db_table} p ON p.id = r.project_id WHERE u.id = %s AND r.name = %s",
    ("uuid", "text"),
)


def upload_offset(upload: Upload) -> int:
    """end-13: how many bytes the upload holds, whichever process received them."""
    return blobstore.store().upload_size(str(upload.id))


def append_chunk(repository_name: str, upload_id: str, body: Iterable[bytes], start: int | None) -> tuple[Upload, int]:
    """end-5: `PATCH` a chunk onto an upload; return the upload and its new size.

    `start` is the first byte of a `Content-Range`; a chunk that does not begin where the upload
    ends raises BlobUploadInvalid with 416 and the current range, as the spec asks.
    """
    upload = get_upload(repository_name, upload_id)
    store = blobstore.store()
    with upload_lock(str(upload.id)):
        offset = store.upload_size(str(upload.id)) if start is None else start
        try:
            size = store.append_to_upload(str(upload.id), body, start)
        except blobstore.UploadMissing:
            raise BlobUploadUnknown(
                "the upload was finished or cancelled meanwhile", detail={"upload": upload_id}
            ) from None
        except blobstore.ChunkOutOfOrder as error:
            raise _out_of_order(repository_name, upload, error, start) from None
        try:
            check_quota(upload.repository, None, size - upload.size)
        except Denied:
            store.truncate_upload(str(upload.id), offset)
            raise
    # The row's size counts against the quota while the upload is open; its updated_at marks
    # activity, so stale-upload cleanup spares uploads in use.
    upload.size = size
    _execute(_UPDATE_UPLOAD_SIZE_SQL, [size, sql_now(), _db_id(upload)])
    return upload, size


def finish_upload(
    repository_name: str, upload_id: str, digest: Digest, final_chunk: Iterable[bytes] | None, start: int | None = None
) -> None:
    """end-6: `PUT …?digest=` closes an upload, with or without a last chunk.

    `start` is the first byte of the last chunk's `Content-Range`: a chunk that does not begin
    where the upload ends raises BlobUploadInvalid with 416, as a PATCH out of order does.
    Raises DigestInvalid when the bytes do not hash to `digest`, and Denied when the blob would
    take the project past its quota (quotas.py). The upload stays open then, as it was before
    this request (without its last chunk), so the client can resend the PUT: after fixing the
    digest, or once space is freed or the quota raised, as Harbor lets a refused push resume.
    """
    upload = get_upload(repository_name, upload_id)
    with upload_lock(str(upload.id)):
        _finish_locked(repository_name, upload, digest, final_chunk, start)


def _finish_locked(
    repository_name: str, upload: Upload, digest: Digest, final_chunk: Iterable[bytes] | None, start: int | None
) -> None:
    store = blobstore.store()
    upload_id = str(upload.id)
    offset = store.upload_size(upload_id)
    try:
        if final_chunk is not None:
            store.append_to_upload(upload_id, final_chunk, start)
        size = store.verify_upload(upload_id, digest)
        check_quota(upload.repository, digest, size, finishing=upload)
        # The upload's row goes in the blob's commit: a blob recorded always closes its upload.
        record_blob(
            upload.repository, digest, size, lambda: store.install_upload(upload_id, digest), finished_upload=upload
        )
    except blobstore.UploadMissing:
        # A concurrent PUT finished it (or a DELETE cancelled it) between our read and now.
        raise BlobUploadUnknown(
            "the upload was finished or cancelled meanwhile", detail={"upload": upload_id}
        ) from None
    except blobstore.ChunkOutOfOrder as error:
        # Nothing was appended: the upload stays as it was, open for the right chunk.
        raise _out_of_order(repository_name, upload, error, start) from None
    except (DigestInvalid, Denied):
        if final_chunk is not None:
            store.truncate_upload(upload_id, offset)
        raise


def cancel_upload(repository_name: str, upload_id: str) -> None:
    """`DELETE /v2/<name>/blobs/uploads/<id>` (Docker Registry API v2) drops an upload and its bytes."""
    upload = get_upload(repository_name, upload_id)
    # The row's id, not the one in the URL: `urn:uuid:…`, braces or capitals name the same
    # upload, and its bytes are stored under the canonical form only. Read before delete(),
    # which clears it.
    stored_id = str(upload.id)
    with upload_lock(stored_id):
        upload.delete()
        blobstore.store().delete_upload(stored_id)


def _out_of_order(
    repository_name: str, upload: Upload, error: blobstore.ChunkOutOfOrder, start: int | None
) -> BlobUploadInvalid:
    """416 with the upload's current range, which the spec asks for so the client can resume."""
    return BlobUploadInvalid(
        "chunk out of order",
        detail={"expected_start": error.upload_size, "received_start": start},
        status=416,
        headers=upload_range_headers(repository_name, upload, error.upload_size),
    )


def _too_many_uploads(started_by: str) -> TooManyRequests:
    limit = settings.REGISTRY_MAX_OPEN_UPLOADS
    return TooManyRequests(
        f"{started_by} holds {limit} open uploads, the most allowed: finish or cancel some, or wait for them",
        headers={"Retry-After": "10"},
    )


def _insert_upload(upload_id: uuid.UUID, repository_name: str, started_by: str) -> int | None:
    """Insert the upload's row if its repository exists and the caller holds fewer than
    REGISTRY_MAX_OPEN_UPLOADS open uploads; the repository's id, or None.

    Per caller, not per repository: one pusher filling a repository's share would lock out
    everyone else pushing there."""
    now = sql_now()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_UPLOAD_SQL,
            [
                Upload._meta.pk.get_db_prep_value(upload_id, connection),
                started_by,
                now,
                now,
                repository_name,
                started_by,
                settings.REGISTRY_MAX_OPEN_UPLOADS - 1,
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


# The upload's row is written out rather than saved by the ORM: every POST inserts it and every
# PATCH updates it, and the ORM's save cost more CPU than the statement (py-spy, issue 18). The
# POST's one statement finds the repository and counts the caller's open uploads as it inserts:
# three round trips were one each.
_INSERT_UPLOAD_SQL = (
    f"INSERT INTO {Upload._meta.db_table} (id, repository_id, started_by, size, started_at, updated_at) "
    f"SELECT %s, r.id, %s, 0, %s, %s FROM {Repository._meta.db_table} r WHERE r.name = %s AND NOT EXISTS "
    f"(SELECT 1 FROM {Upload._meta.db_table} WHERE started_by = %s LIMIT 1 OFFSET %s) RETURNING repository_id"
)
_UPDATE_UPLOAD_SIZE_SQL = f"UPDATE {Upload._meta.db_table} SET size = %s, updated_at = %s WHERE id = %s"


def _execute(sql: str, parameters: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def _db_id(upload: Upload) -> Any:
    return Upload._meta.pk.get_db_prep_value(upload.id, connection)


def upload_range_headers(repository_name: str, upload: Upload, size: int) -> dict[str, str]:
    """The headers that tell a client where an upload stands (Location is made absolute by the view)."""
    # distribution answers "0-0" for an empty upload; clients parse the end as an inclusive offset.
    return {
        "Location": f"/v2/{repository_name}/blobs/uploads/{upload.id}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": str(upload.id),
    }


# A staged file is written by one single-request upload for as long as that request runs; idle this
# long, the request is gone (killed with its worker, or cut), and nothing can resume it.
STAGED_FILE_IDLE = timedelta(hours=1)


def purge_stale_uploads(max_age: timedelta, dry_run: bool = False) -> dict[str, int]:
    """Drop uploads nobody touched for `max_age`, with their bytes, files in uploads/ that no
    upload row owns, and staged files idle for STAGED_FILE_IDLE (all left by a crash). Safe to
    run at any time: an upload in use is skipped (its row is locked by the request using it, or
    it was touched recently)."""
    cutoff = timezone.now() - max_age
    stale = Upload.objects.filter(updated_at__lt=cutoff)
    purged = {"uploads_deleted": 0, "bytes_freed": 0, "orphan_files_deleted": 0}
    for upload_id in stale.values_list("id", flat=True):
        with transaction.atomic():
            upload = Upload.objects.select_for_update(skip_locked=True).filter(id=upload_id, updated_at__lt=cutoff)
            if not upload.exists():
                continue
            purged["uploads_deleted"] += 1
            purged["bytes_freed"] += blobstore.store().upload_size(str(upload_id))
            if not dry_run:
                upload.delete()
                transaction.on_commit(partial(blobstore.store().delete_upload, str(upload_id)))
    known = {str(upload_id) for upload_id in Upload.objects.values_list("id", flat=True)}
    staged_cutoff = timezone.now() - min(max_age, STAGED_FILE_IDLE)
    store = blobstore.store()
    for orphan, size in store.leftovers_older_than(cutoff.timestamp(), staged_cutoff.timestamp(), known):
        purged["orphan_files_deleted"] += 1
        purged["bytes_freed"] += size
        if not dry_run:
            store.remove_leftover(orphan)
    return purged
