"""Blobs of proxy-cache projects (issue 16): a layer the cache lacks is streamed to the client
while it is fetched from the upstream, verified and stored.

The first pull of a cold layer (`download_blob`) takes the layer's lock (services/locks.py, one
per repository and digest, across every web process) and tees the upstream's bytes to the client
and to storage (a staged blob, stage_blob of the store in use: a temporary file or a multipart
upload, hashed on the way). The last chunk is held back until the digest checked out: if it does
not, the client's connection is cut short of its Content-Length, so a client never receives a
complete wrong body, and nothing is kept. Concurrent pulls of the same layer wait for the lock,
then find the blob stored and are served from storage: one upstream download. The first pull
streams at its client's pace, though, so a pull that waited FETCH_WAIT_SECONDS in vain fetches
(and stores) a copy of its own: a slow client, or one that stopped reading, holds up nobody else
for longer than that. Between the
upstream and storage at most QUEUED_CHUNKS chunks wait, so memory stays bounded whatever the
layer's size; a slow disk slows the download, a slow client slows both.

A HEAD of a cold layer (`stat_blob`) is answered by a HEAD upstream: nothing is downloaded
until a client asks for the bytes.
"""

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass

from oci import media_types
from oci.digests import Digest
from v2api.errors import BlobUnknown, DigestInvalid
from v2api.models import Blob, Manifest, ManifestReference
from v2api.parsing import parse_manifest
from v2api.services import blobs as blob_service
from v2api.services import locks
from v2api.services.proxy import not_cached, upstream_of
from v2api.services.quotas import check_quota
from v2api.services.repositories import get_or_create_repository
from v2api.services.uploads import upload_blob
from v2api.storage import blobstore
from v2api.storage.base import StagedBlob
from v2api.upstream import UpstreamClient, UpstreamError

logger = logging.getLogger(__name__)

# Chunks (of up to a MiB, v2api/upstream.py CHUNK_SIZE) read from the upstream and not yet written.
QUEUED_CHUNKS = 4
# A blob up to this size (a config, a small layer) is stored whole before it is served.
FETCHED_WHOLE_UP_TO = 1024 * 1024
# How long a pull of a cold layer waits for another pull's download of it before making its own:
# long enough for a layer of gigabytes from Docker Hub, so a fleet pulling one new image still
# makes one download; short enough that a client reading slowly holds up nobody for long.
FETCH_WAIT_SECONDS = 30
_END = object()
_ABANDONED = object()


@dataclass(frozen=True)
class UpstreamBlobSize:
    """A blob the upstream holds and the cache does not yet: what a HEAD answers."""

    digest: str
    size: int


def stat_blob(repository_name: str, digest: Digest) -> blob_service.BlobRecord | UpstreamBlobSize:
    """end-2 HEAD in any project: the stored blob, or in a proxy project the size the upstream's
    HEAD gives. Raises BlobUnknown (also when the upstream fails)."""
    found = blob_service.find_blob(repository_name, digest)
    if found is not None:
        return found
    upstream = upstream_of(repository_name)
    if upstream is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    try:
        size = UpstreamClient(upstream).blob_size(upstream.repository_name(repository_name), str(digest))
    except UpstreamError as error:
        raise not_cached(error, BlobUnknown, {"digest": str(digest)}) from None
    return UpstreamBlobSize(str(digest), size)


def download_blob(repository_name: str, digest: Digest) -> "blob_service.BlobRecord | TeedBlob":
    """end-2 GET in any project: the stored blob, or in a proxy project the upstream's bytes as
    they are fetched and stored. Raises BlobUnknown (also when the upstream fails), and Denied
    when the blob would take the project past its quota."""
    found = blob_service.find_blob(repository_name, digest)
    if found is not None:
        return found
    upstream = upstream_of(repository_name)
    if upstream is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    with ExitStack() as held:
        try:
            held.enter_context(locks.waiting_for(f"proxy-fetch:{repository_name}@{digest}", FETCH_WAIT_SECONDS))
        except locks.AlreadyRunning:
            logger.info("another pull of %s@%s is still fetching it; fetching a copy", repository_name, digest)
        # Whoever held the lock before us may have stored it meanwhile.
        found = blob_service.find_blob(repository_name, digest)
        if found is not None:
            return found
        client = UpstreamClient(upstream)
        try:
            fetched = held.enter_context(client.blob_download(upstream.repository_name(repository_name), str(digest)))
        except UpstreamError as error:
            raise not_cached(error, BlobUnknown, {"digest": str(digest)}) from None
        if fetched.size is not None and fetched.size <= FETCHED_WHOLE_UP_TO:
            return _fetch_whole(repository_name, digest, fetched.chunks, client.upstream.base_url)
        if fetched.size is not None:
            check_quota(get_or_create_repository(repository_name), digest, fetched.size)
        teed = TeedBlob(repository_name, digest, fetched.size, fetched.chunks, held.pop_all(), client.upstream.base_url)
    return teed


def _fetch_whole(
    repository_name: str, digest: Digest, chunks: Iterator[bytes], upstream_url: str
) -> blob_service.BlobRecord:
    """Store a small blob before answering: streaming it would gain nothing, and a mismatch is
    then an error the client prints, rather than a connection cut."""
    try:
        try:
            blob = upload_blob(repository_name, digest, chunks)
        except DigestInvalid as mismatch:
            raise _mismatch(upstream_url, mismatch) from None
    except UpstreamError as error:
        raise not_cached(error, BlobUnknown, {"digest": str(digest)}) from None
    reference_from_manifests(repository_name, blob)
    return blob_service.stat_blob(repository_name, digest)


def _mismatch(upstream_url: str, mismatch: DigestInvalid) -> UpstreamError:
    return UpstreamError(
        f"the upstream {upstream_url} sent a blob that does not match its digest ({mismatch.detail}); nothing was kept"
    )


class TeedBlob:
    """The upstream's bytes for the client, written to storage on the way; iterate once, then
    close (Django's StreamingHttpResponse does both). Holds the layer's lock (unless it waited for
    it in vain) and the upstream's answer until closed."""

    def __init__(
        self,
        repository_name: str,
        digest: Digest,
        size: int | None,
        chunks: Iterator[bytes],
        held: ExitStack,
        upstream_url: str,
    ) -> None:
        self.repository_name = repository_name
        self.digest = digest
        self.size = size
        self._chunks = chunks
        self._held = held
        self._upstream_url = upstream_url
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUED_CHUNKS)
        self._staged: StagedBlob | None = None
        self._staging_error: BaseException | None = None
        self._writer = threading.Thread(target=self._stage, name=f"proxy-stage-{digest.hex[:12]}", daemon=True)

    def __iter__(self) -> Iterator[bytes]:
        self._writer.start()
        held_back: bytes | None = None
        try:
            # Sends the headers (gunicorn writes them with the first body write): what fails from
            # here on cuts the connection short of its length, however early it fails.
            yield b""
            for chunk in self._chunks:
                self._hand_over(chunk)
                if held_back is not None:
                    yield held_back
                held_back = chunk
            self._hand_over(_END)
            self._writer.join()
            self._keep()
        except UpstreamError as error:
            self._abandon()
            logger.warning("cut the download of %s@%s short: %s", self.repository_name, self.digest, error)
            raise
        except BaseException:
            self._abandon()
            raise
        if held_back is not None:
            yield held_back

    def close(self) -> None:
        """Release the lock and the upstream's answer; a download cut short keeps nothing."""
        try:
            self._abandon()
        finally:
            self._held.close()

    def _stage(self) -> None:
        try:
            self._staged = blobstore.store().stage_blob(self._queued(), self.digest)
        except BaseException as error:  # handed to the response's thread, which reports it
            self._staging_error = error

    def _queued(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _ABANDONED:
                raise _Abandoned
            assert isinstance(item, bytes)
            yield item

    def _hand_over(self, item: object) -> None:
        """Queue `item` for the writer, waiting while the queue is full, unless the writer failed."""
        while True:
            try:
                self._queue.put(item, timeout=1)
                return
            except queue.Full:
                if not self._writer.is_alive():
                    self._raise_staging_error()

    def _keep(self) -> None:
        """Record the verified blob (or say why it is not kept), linked into the repository and
        referenced by the manifests here that name it."""
        if self._staging_error is not None:
            self._raise_staging_error()
        staged = self._staged
        assert staged is not None
        self._staged = None
        store = blobstore.store()
        try:
            repository = get_or_create_repository(self.repository_name)
            if self.size is None:
                # The upstream sent no length to check before the download (download_blob): the
                # quota is asked now, as an upload's is once its bytes are in.
                check_quota(repository, self.digest, staged.size)
            blob = blob_service.record_blob(
                repository, self.digest, staged.size, lambda: store.install_staged(staged, self.digest)
            )
        finally:
            store.discard_staged(staged)
        reference_from_manifests(self.repository_name, blob)

    def _raise_staging_error(self) -> None:
        error = self._staging_error
        if isinstance(error, DigestInvalid):
            raise _mismatch(self._upstream_url, error)
        raise error or RuntimeError("the blob's writer stopped")

    def _abandon(self) -> None:
        """Stop the writer if it still runs (stage_blob then drops what it wrote), and drop what
        it staged if it finished."""
        if self._writer.is_alive():
            # What waits in the queue is dropped, so the writer meets the signal next.
            while True:
                with suppress(queue.Empty):
                    self._queue.get_nowait()
                try:
                    self._queue.put_nowait(_ABANDONED)
                    break
                except queue.Full:
                    continue
            self._writer.join()
        if self._staged is not None:
            blobstore.store().discard_staged(self._staged)
            self._staged = None


class _Abandoned(Exception):
    """The download stopped (the client went, the upstream broke off): the writer drops its work."""


def reference_from_manifests(repository_name: str, blob: Blob) -> None:
    """A blob fetched after its manifest becomes that manifest's reference, as if both were
    pushed together: quotas count it, and the collector keeps it while the manifest stays.

    A proxy project's repository holds the few manifests of one upstream image's tags, so reading
    those that do not reference the blob yet is cheap.
    """
    candidates = (
        Manifest.objects.filter(repository__name=repository_name, media_type__in=media_types.IMAGE_MANIFESTS)
        .exclude(references__blob=blob)
        .only("id", "media_type", "content")
    )
    digest = Digest.parse(blob.digest)
    for manifest in candidates:
        if any(
            descriptor.digest == digest
            for descriptor in parse_manifest(bytes(manifest.content), manifest.media_type).blobs
        ):
            ManifestReference.objects.create(manifest=manifest, blob=blob)
