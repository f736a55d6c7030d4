"""Blobs a repository may serve: lookup, linking, cross-repository mounts and unlinking."""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from v2api.digests import Digest
from v2api.errors import BlobUnknown
from v2api.models import Blob, Repository, RepositoryBlob
from v2api.storage import blobstore


def stat_blob(repository_name: str, digest: Digest) -> Blob:
    """end-2: the blob's size, if this repository links it. One indexed query; raises BlobUnknown."""
    blob = (
        Blob.objects.filter(digest=str(digest), repository_links__repository__name=repository_name)
        .only("digest", "size")
        .first()
    )
    if blob is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    return blob


def link_blob(repository: Repository, digest: Digest, size: int) -> Blob:
    """Record a blob whose file is in place and let `repository` serve it. Safe to repeat."""
    blob = _get_or_create_blob(digest, size)
    try:
        with transaction.atomic():
            RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    except IntegrityError:
        # A concurrent push of the same layer linked it first; the link is what we wanted.
        pass
    return blob


def mount_blob(
    repository: Repository, digest: Digest, source_name: str | None, readable_namespaces: QuerySet | None
) -> Blob | None:
    """end-11: link a blob that `source_name` already serves into `repository`.

    Without a source, any repository in `readable_namespaces` (None: any at all) will do, so a
    mount never hands out a blob the caller could not pull. Returns None when there is nothing
    to mount, and the caller starts an ordinary upload.
    """
    links = RepositoryBlob.objects.filter(blob__digest=str(digest))
    if source_name is not None:
        links = links.filter(repository__name=source_name)
    elif readable_namespaces is not None:
        links = links.filter(repository__namespace__in=readable_namespaces)
    link = links.select_related("blob").first()
    if link is None or not blobstore.blob_exists(digest):
        return None
    return link_blob(repository, digest, link.blob.size)


def unlink_blob(repository_name: str, digest: Digest) -> None:
    """end-10: `DELETE /v2/<name>/blobs/<digest>` removes the blob from this repository only.

    The file stays until garbage collection finds nothing else uses it. Raises BlobUnknown.
    """
    deleted, _ = RepositoryBlob.objects.filter(repository__name=repository_name, blob__digest=str(digest)).delete()
    if not deleted:
        raise BlobUnknown(detail={"digest": str(digest)})


def _get_or_create_blob(digest: Digest, size: int) -> Blob:
    blob = Blob.objects.filter(digest=str(digest)).first()
    if blob is not None:
        return blob
    try:
        with transaction.atomic():
            return Blob.objects.create(digest=str(digest), size=size)
    except IntegrityError:
        return Blob.objects.get(digest=str(digest))
