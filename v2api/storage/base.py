"""The interface of a blob store (blobstore.py picks one); no database here.

Every store keeps the layout of v2api/storage/paths.py. Bytes arrive as an iterable of chunks and are
never held whole in memory. A blob becomes visible at its content address only once its digest
checked out (a rename on disk, a completed multipart upload or copy in a bucket), so a crash at
any point leaves at most garbage among the uploads, never a half blob at a blob's address.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from oci.digests import Digest
from v2api.storage.streams import Readable


class ChunkOutOfOrder(Exception):
    """A chunk did not start where the upload ends."""

    def __init__(self, upload_size: int) -> None:
        self.upload_size = upload_size
        super().__init__(upload_size)


class UploadMissing(Exception):
    """The upload's bytes are gone: another request finished or cancelled it."""


@dataclass(frozen=True)
class StagedBlob:
    """A single-request upload, written and verified, not yet in place; `handle` is the backend's
    name for it (a file's path, a multipart upload)."""

    handle: str
    size: int


class BlobStore(ABC):
    """The operations the registry's services need from a blob store."""

    @abstractmethod
    def create_upload(self, upload_id: str) -> None: ...

    @abstractmethod
    def upload_size(self, upload_id: str) -> int:
        """Bytes received so far, whichever process appended them; 0 for an upload that is gone."""

    @abstractmethod
    def append_to_upload(self, upload_id: str, chunks: Iterable[bytes], expected_offset: int | None) -> int:
        """Append a request body to an upload and return its new size.

        If the body fails half way (client gone, short body), the upload is left as it was so
        that the client can resend the chunk. Raises ChunkOutOfOrder when `expected_offset` is
        not the current size, UploadMissing when the upload is gone. Callers serialise appends
        to one upload (services/locks.py `upload_lock`).
        """

    @abstractmethod
    def truncate_upload(self, upload_id: str, size: int) -> None:
        """Cut an upload back to `size`, the size it had before its last append: a last chunk
        whose request was refused."""

    @abstractmethod
    def delete_upload(self, upload_id: str) -> None:
        """Drop an upload's bytes, if any are left."""

    @abstractmethod
    def verify_upload(self, upload_id: str, digest: Digest) -> int:
        """Check that a finished upload hashes to `digest` and return its size.

        Raises UploadMissing, or DigestInvalid (the upload stays as it is).
        """

    @abstractmethod
    def install_upload(self, upload_id: str, digest: Digest) -> None:
        """Put a verified upload at its blob's address and drop the upload.

        Callers hold the blob's database row locked, so the garbage collector cannot be removing
        a blob of the same digest at the same time. An existing blob of that digest wins.
        """

    @abstractmethod
    def stage_blob(self, chunks: Iterable[bytes], digest: Digest) -> StagedBlob:
        """Write a whole blob sent in one request and verify it, out of reach of readers.

        Raises DigestInvalid when the bytes do not match; nothing is kept then.
        """

    @abstractmethod
    def install_staged(self, staged: StagedBlob, digest: Digest) -> None:
        """Put a staged, verified blob at its address (with the blob's row locked, as install_upload)."""

    @abstractmethod
    def discard_staged(self, staged: StagedBlob) -> None:
        """Drop what stage_blob kept, if install_staged did not use it."""

    @abstractmethod
    def trash_blob(self, digest: Digest) -> bool:
        """Move a blob out of its address, where nothing serves it; False if it is not there.

        The collector does this before its transaction commits and empties the trash after: if the
        commit fails, restore_blob puts the blob back, so a row never outlives its bytes.
        """

    @abstractmethod
    def restore_blob(self, digest: Digest) -> None: ...

    @abstractmethod
    def empty_trash(self, digest: Digest) -> None: ...

    @abstractmethod
    def trashed_blobs(self) -> list[Digest]:
        """Blobs a collector moved to the trash and did not get to delete or restore (it was killed)."""

    @abstractmethod
    def leftovers_older_than(
        self, uploads_before: float, staged_before: float, keep_uploads: set[str]
    ) -> Iterator[tuple[str, int]]:
        """Uploads (other than `keep_uploads`) untouched since `uploads_before` and staged blobs
        untouched since `staged_before`, as names for remove_leftover with their sizes: what a
        crashed or abandoned request left."""

    @abstractmethod
    def remove_leftover(self, name: str) -> None: ...

    @abstractmethod
    def blobs_older_than(self, timestamp: float) -> Iterator[tuple[Digest, int]]:
        """The digests and sizes of the blobs stored before `timestamp`; anything not at a blob's
        address is not ours to judge and is left out."""

    @abstractmethod
    def blob_exists(self, digest: Digest) -> bool: ...

    @abstractmethod
    def open_blob(self, digest: Digest, first: int = 0) -> Readable:
        """Open a blob for reading from byte `first`; raises FileNotFoundError if it is not there."""

    def download_url(self, digest: Digest) -> str | None:
        """A short-lived URL a client may fetch the blob from directly, or None to stream it."""
        return None

    @abstractmethod
    def check_writable(self) -> None:
        """Raise if the store takes no writes now (for /health/ready)."""
