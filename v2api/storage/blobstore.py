"""File I/O for blobs and uploads; no database here.

Bytes arrive as an iterable of chunks and are never held whole in memory. A blob becomes
visible only by an atomic rename of a fully written, fsynced file whose digest checked out,
so a crash at any point leaves at most garbage in `uploads/` or `staging/`, never a half blob.
"""

import fcntl
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from v2api.digests import Digest, Hasher, new_hasher
from v2api.errors import DigestInvalid
from v2api.storage import paths

READ_SIZE = 1024 * 1024


class ChunkOutOfOrder(Exception):
    """A chunk did not start where the upload ends."""

    def __init__(self, upload_size: int) -> None:
        self.upload_size = upload_size
        super().__init__(upload_size)


class UploadMissing(Exception):
    """The upload's bytes are gone: another request finished or cancelled it."""


def _root() -> Path:
    return Path(settings.REGISTRY_STORAGE_ROOT)


class _RunningHashes:
    """sha256 state of uploads this process appended to, so finishing one need not re-read it.

    hashlib state cannot be stored, so another process finishing the upload re-hashes the file;
    this cache only saves that read in the common case (every chunk through one process).
    """

    LIMIT = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_upload: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()

    def take(self, upload_id: str, offset: int) -> Hasher | None:
        with self._lock:
            entry = self._by_upload.pop(upload_id, None)
        if entry is not None and entry[0] == offset:
            return entry[1]
        return None

    def put(self, upload_id: str, offset: int, hasher: Hasher) -> None:
        with self._lock:
            self._by_upload[upload_id] = (offset, hasher)
            while len(self._by_upload) > self.LIMIT:
                self._by_upload.popitem(last=False)

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._by_upload.pop(upload_id, None)


_running_hashes = _RunningHashes()


def create_upload(upload_id: str) -> None:
    path = paths.upload_data_path(_root(), upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def upload_size(upload_id: str) -> int:
    """Bytes received so far; the file is the truth, whichever process appended them."""
    try:
        return paths.upload_data_path(_root(), upload_id).stat().st_size
    except FileNotFoundError:
        return 0


def append_to_upload(upload_id: str, chunks: Iterable[bytes], expected_offset: int | None) -> int:
    """Append a request body to an upload and return its new size.

    An exclusive lock on the file serialises concurrent PATCHes to one upload across
    processes. If the body fails half way (client gone, short body), the file is cut back
    to where it was so that the client can resend the chunk.
    Raises ChunkOutOfOrder when `expected_offset` is not the current size.
    """
    path = paths.upload_data_path(_root(), upload_id)
    if not path.exists():
        raise UploadMissing(upload_id)
    with open(path, "ab") as data:
        fcntl.flock(data, fcntl.LOCK_EX)
        offset = os.fstat(data.fileno()).st_size
        if expected_offset is not None and expected_offset != offset:
            raise ChunkOutOfOrder(offset)
        hasher = _running_hashes.take(upload_id, offset)
        if hasher is None and offset == 0:
            hasher = new_hasher("sha256")
        size = offset
        try:
            for chunk in chunks:
                data.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                size += len(chunk)
            data.flush()
        except BaseException:
            data.truncate(offset)
            raise
        if hasher is not None:
            _running_hashes.put(upload_id, size, hasher)
        return size


def truncate_upload(upload_id: str, size: int) -> None:
    """Cut an upload back to `size` bytes, dropping a last chunk whose request was refused."""
    path = paths.upload_data_path(_root(), upload_id)
    with open(path, "r+b") as data:
        fcntl.flock(data, fcntl.LOCK_EX)
        data.truncate(size)
    _running_hashes.forget(upload_id)


def delete_upload(upload_id: str) -> None:
    _running_hashes.forget(upload_id)
    shutil.rmtree(paths.upload_dir(_root(), upload_id), ignore_errors=True)


def commit_upload(upload_id: str, digest: Digest) -> int:
    """Verify a finished upload against `digest`, move it into place and return its size.

    Raises DigestInvalid (and keeps the upload) when the bytes do not match.
    """
    source = paths.upload_data_path(_root(), upload_id)
    try:
        size = source.stat().st_size
    except FileNotFoundError:
        raise UploadMissing(upload_id) from None
    hasher = _running_hashes.take(upload_id, size) if digest.algorithm == "sha256" else None
    if hasher is None:
        hasher = _hash_file(source, digest.algorithm)
    _check_digest(hasher, digest)
    _install(source, digest)
    delete_upload(upload_id)
    return size


def store_blob(chunks: Iterable[bytes], digest: Digest) -> int:
    """Write a whole blob sent in one request; verify, install, and return its size.

    Raises DigestInvalid when the bytes do not match; nothing is kept then.
    """
    staging = paths.staging_dir(_root())
    staging.mkdir(parents=True, exist_ok=True)
    hasher = new_hasher(digest.algorithm)
    size = 0
    with tempfile.NamedTemporaryFile(dir=staging, delete=False) as temporary:
        temporary_path = Path(temporary.name)
        try:
            for chunk in chunks:
                temporary.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
            temporary.flush()
            _check_digest(hasher, digest)
            _install(temporary_path, digest)
        except BaseException:
            temporary_path.unlink(missing_ok=True)
            raise
    return size


def blob_exists(digest: Digest) -> bool:
    return paths.blob_path(_root(), digest).is_file()


def open_blob(digest: Digest) -> BinaryIO:
    """Open a blob for reading; raises FileNotFoundError if it is not on disk."""
    return open(paths.blob_path(_root(), digest), "rb")


def read_blob_chunks(handle: BinaryIO, length: int) -> Iterator[bytes]:
    """Yield `length` bytes from the handle's position, a buffer at a time, then close it."""
    try:
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(READ_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _hash_file(path: Path, algorithm: str) -> Hasher:
    hasher = new_hasher(algorithm)
    with open(path, "rb") as data:
        while chunk := data.read(READ_SIZE):
            hasher.update(chunk)
    return hasher


def _check_digest(hasher: Hasher, digest: Digest) -> None:
    actual = hasher.hexdigest()
    if actual != digest.hex:
        raise DigestInvalid(detail={"expected": str(digest), "actual": f"{digest.algorithm}:{actual}"})


def _install(source: Path, digest: Digest) -> None:
    """fsync `source` and rename it to the blob's path; an existing blob of that digest wins."""
    target = paths.blob_path(_root(), digest)
    if target.exists():
        # Same digest, same bytes: the copy already in place serves.
        source.unlink(missing_ok=True)
        return
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
