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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings

from oci.digests import Digest, Hasher, new_hasher
from v2api.errors import DigestInvalid
from v2api.storage import paths

READ_SIZE = 1024 * 1024
# Chunks this large are hashed on _hash_pool while they are written (see _write_hashing).
PARALLEL_HASH_FROM = 256 * 1024
_hash_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="blob-hash")


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


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
        try:
            size = offset + _write_hashing(chunks, data, hasher)
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


def verify_upload(upload_id: str, digest: Digest) -> int:
    """Check that a finished upload hashes to `digest` and return its size.

    Raises UploadMissing, or DigestInvalid (the upload stays as it is).
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
    return size


def install_upload(upload_id: str, digest: Digest) -> None:
    """Move a verified upload to its blob path and drop the upload's folder.

    Callers hold the blob's database row locked, so the garbage collector cannot be removing
    a file of the same digest at the same time.
    """
    source = paths.upload_data_path(_root(), upload_id)
    if not source.exists():
        raise UploadMissing(upload_id)
    _install(source, digest)
    delete_upload(upload_id)


@dataclass(frozen=True)
class StagedBlob:
    """A single-request upload, written and verified in staging/, not yet in place."""

    path: Path
    size: int


def stage_blob(chunks: Iterable[bytes], digest: Digest) -> StagedBlob:
    """Write a whole blob sent in one request to staging/ and verify it.

    Raises DigestInvalid when the bytes do not match; nothing is kept then.
    """
    staging = paths.staging_dir(_root())
    staging.mkdir(parents=True, exist_ok=True)
    hasher = new_hasher(digest.algorithm)
    with tempfile.NamedTemporaryFile(dir=staging, delete=False) as temporary:
        temporary_path = Path(temporary.name)
        try:
            size = _write_hashing(chunks, temporary, hasher)
            temporary.flush()
            _check_digest(hasher, digest)
        except BaseException:
            temporary_path.unlink(missing_ok=True)
            raise
    return StagedBlob(temporary_path, size)


def install_staged(staged: StagedBlob, digest: Digest) -> None:
    """Move a staged, verified blob to its path (with the blob's row locked, as install_upload)."""
    _install(staged.path, digest)


def discard_staged(staged: StagedBlob) -> None:
    staged.path.unlink(missing_ok=True)


def trash_blob(digest: Digest) -> Path | None:
    """Move a blob's file out of blobs/ into trash/, where nothing serves it; None if it is not there.

    The collector does this before its transaction commits and empties the trash after: if the
    commit fails, restore_blob puts the file back, so a row never outlives its file.
    """
    source = paths.blob_path(_root(), digest)
    target = paths.trash_path(_root(), digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except FileNotFoundError:
        return None
    return target


def restore_blob(trashed: Path, digest: Digest) -> None:
    target = paths.blob_path(_root(), digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(trashed, target)


def empty_trash(trashed: Path) -> None:
    trashed.unlink(missing_ok=True)


def trashed_blobs() -> list[tuple[Path, Digest]]:
    """Files a collector moved to trash/ and did not get to delete or restore (it was killed)."""
    trash = paths.trash_dir(_root())
    if not trash.is_dir():
        return []
    found = []
    for path in trash.iterdir():
        try:
            found.append((path, paths.digest_of_trashed(path)))
        except ValueError:
            continue
    return found


def files_older_than(uploads_before: float, staged_before: float, keep_uploads: set[str]) -> Iterator[tuple[Path, int]]:
    """Upload folders (other than `keep_uploads`) untouched since `uploads_before` and staged files
    untouched since `staged_before`, with their sizes: what a crashed or abandoned request left."""
    uploads = paths.uploads_root(_root())
    if uploads.is_dir():
        for folder in uploads.iterdir():
            if folder.name in keep_uploads:
                continue
            data = folder / "data"
            newest = max((entry.stat().st_mtime for entry in [folder, *folder.iterdir()]), default=0.0)
            if newest < uploads_before:
                yield folder, data.stat().st_size if data.exists() else 0
    staging = paths.staging_dir(_root())
    if staging.is_dir():
        for staged in staging.iterdir():
            status = staged.stat()
            if status.st_mtime < staged_before:
                yield staged, status.st_size


def blob_files_older_than(timestamp: float) -> Iterator[tuple[Digest, int]]:
    """The digests and sizes of the files under blobs/ last written before `timestamp`; files not
    at a blob's path are not ours to judge and are left out."""
    root = _root()
    for directory, _, names in os.walk(paths.blobs_root(root)):
        for name in names:
            path = Path(directory) / name
            try:
                digest = paths.digest_of_blob(root, path)
                status = path.stat()
            except (ValueError, FileNotFoundError):
                continue
            if status.st_mtime < timestamp:
                yield digest, status.st_size


def remove_leftover(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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


def _write_hashing(chunks: Iterable[bytes], file: _Writable, hasher: Hasher | None) -> int:
    """Write `chunks` to `file`, feeding them to `hasher` on the way; return the bytes written.

    A large chunk is hashed on another thread while this one writes it and reads the next:
    hashlib and file writes both release the GIL, so the two run on two cores at once: a push
    of one 512 MiB layer went from 223 to 310-330 MiB/s on 2 cores (issue 6's benchmark).
    Small chunks hash here: handing them over costs more than it saves.
    """
    written = 0
    hashing: Future[None] | None = None
    try:
        for chunk in chunks:
            if hashing is not None:
                hashing.result()
                hashing = None
            if hasher is not None:
                if len(chunk) >= PARALLEL_HASH_FROM:
                    hashing = _hash_pool.submit(hasher.update, chunk)
                else:
                    hasher.update(chunk)
            file.write(chunk)
            written += len(chunk)
    finally:
        # The hasher must hold every chunk before anyone reads it, and a failed request's last
        # chunk must not be hashed into a hasher someone else takes.
        if hashing is not None:
            hashing.result()
    return written


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
    # Staged files are made 0600; blobs are read by whoever serves them (nginx, X-Accel-Redirect).
    source.chmod(0o644)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
