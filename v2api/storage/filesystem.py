"""The blob store on a local (or shared) filesystem under REGISTRY_STORAGE_ROOT.

A blob becomes visible only by an atomic rename of a fully written, fsynced file whose digest
checked out, so a crash at any point leaves at most garbage in `uploads/` or `staging/`.
"""

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

from oci.digests import Digest, new_hasher
from v2api.storage import paths
from v2api.storage.base import BlobStore, ChunkOutOfOrder, StagedBlob, UploadMissing
from v2api.storage.streams import Readable, RunningHashes, check_digest, hash_into, write_hashing


def _root() -> Path:
    return Path(settings.REGISTRY_STORAGE_ROOT)


class FilesystemStore(BlobStore):
    def __init__(self) -> None:
        self._running_hashes = RunningHashes()

    def create_upload(self, upload_id: str) -> None:
        path = paths.upload_data_path(_root(), upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def upload_size(self, upload_id: str) -> int:
        try:
            return paths.upload_data_path(_root(), upload_id).stat().st_size
        except FileNotFoundError:
            return 0

    def append_to_upload(self, upload_id: str, chunks: Iterable[bytes], expected_offset: int | None) -> int:
        # An exclusive lock on the file serialises concurrent PATCHes to one upload on this host,
        # and a body that fails half way is cut back off the file.
        path = paths.upload_data_path(_root(), upload_id)
        if not path.exists():
            raise UploadMissing(upload_id)
        with open(path, "ab") as data:
            fcntl.flock(data, fcntl.LOCK_EX)
            offset = os.fstat(data.fileno()).st_size
            if expected_offset is not None and expected_offset != offset:
                raise ChunkOutOfOrder(offset)
            hasher = self._running_hashes.take(upload_id, offset)
            if hasher is None and offset == 0:
                hasher = new_hasher("sha256")
            try:
                size = offset + write_hashing(chunks, data, hasher)
                data.flush()
            except BaseException:
                data.truncate(offset)
                raise
            if hasher is not None:
                self._running_hashes.put(upload_id, size, hasher)
            return size

    def truncate_upload(self, upload_id: str, size: int) -> None:
        path = paths.upload_data_path(_root(), upload_id)
        with open(path, "r+b") as data:
            fcntl.flock(data, fcntl.LOCK_EX)
            data.truncate(size)
        self._running_hashes.forget(upload_id)

    def delete_upload(self, upload_id: str) -> None:
        self._running_hashes.forget(upload_id)
        shutil.rmtree(paths.upload_dir(_root(), upload_id), ignore_errors=True)

    def verify_upload(self, upload_id: str, digest: Digest) -> int:
        source = paths.upload_data_path(_root(), upload_id)
        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise UploadMissing(upload_id) from None
        hasher = self._running_hashes.take(upload_id, size) if digest.algorithm == "sha256" else None
        if hasher is None:
            with open(source, "rb") as data:
                hasher = hash_into(new_hasher(digest.algorithm), data)
        check_digest(hasher, digest)
        return size

    def install_upload(self, upload_id: str, digest: Digest) -> None:
        source = paths.upload_data_path(_root(), upload_id)
        if not source.exists():
            raise UploadMissing(upload_id)
        _install(source, digest)
        self.delete_upload(upload_id)

    def stage_blob(self, chunks: Iterable[bytes], digest: Digest) -> StagedBlob:
        staging = paths.staging_dir(_root())
        staging.mkdir(parents=True, exist_ok=True)
        hasher = new_hasher(digest.algorithm)
        with tempfile.NamedTemporaryFile(dir=staging, delete=False) as temporary:
            temporary_path = Path(temporary.name)
            try:
                size = write_hashing(chunks, temporary, hasher)
                temporary.flush()
                check_digest(hasher, digest)
            except BaseException:
                temporary_path.unlink(missing_ok=True)
                raise
        return StagedBlob(str(temporary_path), size)

    def install_staged(self, staged: StagedBlob, digest: Digest) -> None:
        _install(Path(staged.handle), digest)

    def discard_staged(self, staged: StagedBlob) -> None:
        Path(staged.handle).unlink(missing_ok=True)

    def trash_blob(self, digest: Digest) -> bool:
        target = paths.trash_path(_root(), digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(paths.blob_path(_root(), digest), target)
        except FileNotFoundError:
            return False
        return True

    def restore_blob(self, digest: Digest) -> None:
        target = paths.blob_path(_root(), digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(paths.trash_path(_root(), digest), target)

    def empty_trash(self, digest: Digest) -> None:
        paths.trash_path(_root(), digest).unlink(missing_ok=True)

    def trashed_blobs(self) -> list[Digest]:
        trash = paths.trash_dir(_root())
        if not trash.is_dir():
            return []
        found = []
        for path in trash.iterdir():
            try:
                found.append(paths.digest_of_trashed(path.name))
            except ValueError:
                continue
        return found

    def leftovers_older_than(
        self, uploads_before: float, staged_before: float, keep_uploads: set[str]
    ) -> Iterator[tuple[str, int]]:
        uploads = paths.uploads_root(_root())
        if uploads.is_dir():
            for folder in uploads.iterdir():
                if folder.name in keep_uploads:
                    continue
                data = folder / "data"
                newest = max((entry.stat().st_mtime for entry in [folder, *folder.iterdir()]), default=0.0)
                if newest < uploads_before:
                    yield str(folder), data.stat().st_size if data.exists() else 0
        staging = paths.staging_dir(_root())
        if staging.is_dir():
            for staged in staging.iterdir():
                status = staged.stat()
                if status.st_mtime < staged_before:
                    yield str(staged), status.st_size

    def remove_leftover(self, name: str) -> None:
        path = Path(name)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def blobs_older_than(self, timestamp: float) -> Iterator[tuple[Digest, int]]:
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

    def blob_exists(self, digest: Digest) -> bool:
        return paths.blob_path(_root(), digest).is_file()

    def open_blob(self, digest: Digest, first: int = 0) -> Readable:
        # A real file object: FileResponse lets gunicorn hand it to sendfile(2).
        handle = open(paths.blob_path(_root(), digest), "rb")  # noqa: SIM115 (the response closes it)
        if first:
            handle.seek(first)
        return handle

    def check_writable(self) -> None:
        # An unnamed temporary file (O_TMPFILE on Linux) proves the filesystem takes writes and
        # leaves nothing behind for the garbage collector to wonder about, even if the process dies.
        with tempfile.TemporaryFile(dir=_root()) as probe:
            probe.write(b"ok")
            probe.flush()


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
