"""The blob store in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO, SeaweedFS), through boto3.

Nothing is kept on the web node: an upload's parts and state live in the bucket (s3_uploads.py),
so any node continues it. The endpoint, credentials and region are boto3's own (AWS_ENDPOINT_URL_S3
or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION). A blob's key is written
once its digest checked out: a single-request upload is a multipart upload to the blob's own key,
completed only then; a chunked one is assembled under uploads/ and copied by the server.
"""

import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

from oci.digests import Digest, new_hasher
from v2api.storage import paths
from v2api.storage.base import BlobStore, ChunkOutOfOrder, StagedBlob, UploadMissing
from v2api.storage.s3_bucket import Bucket, outages_as_unavailable
from v2api.storage.s3_uploads import MIN_PART, Part, PartWriter, UploadState, copy_ranges
from v2api.storage.streams import Readable, RunningHashes, check_digest, hash_into, write_hashing


@outages_as_unavailable
class S3Store(BlobStore):
    def __init__(self, bucket: str, prefix: str) -> None:
        self._objects = Bucket(bucket)
        self._root = paths.bucket_root(prefix)
        self._running_hashes = RunningHashes()

    def _key(self, path: Path) -> str:
        return paths.object_key(path)

    # --- chunked uploads -------------------------------------------------------------------

    def create_upload(self, upload_id: str) -> None:
        self._save_state(upload_id, UploadState())

    def upload_size(self, upload_id: str) -> int:
        try:
            return self._state(upload_id).size
        except UploadMissing:
            return 0

    def append_to_upload(self, upload_id: str, chunks: Iterable[bytes], expected_offset: int | None) -> int:
        state = self._state(upload_id)
        if expected_offset is not None and expected_offset != state.size:
            raise ChunkOutOfOrder(state.size)
        hasher = self._running_hashes.take(upload_id, state.size)
        if hasher is None and state.size == 0:
            hasher = new_hasher("sha256")
        writer = self._writer(upload_id, state)
        tail: str | None = None
        try:
            written = write_hashing(chunks, writer, hasher)
            writer.flush()
            if len(writer.buffer) >= MIN_PART:
                writer.send(bytes(writer.buffer))
            elif writer.buffer:
                # Under a part's minimum: kept as the tail until more arrives or the upload ends.
                tail = self._key(paths.upload_tail_path(self._root, upload_id, state.size + written, uuid.uuid4().hex))
                self._objects.client.put_object(Bucket=self._objects.name, Key=tail, Body=bytes(writer.buffer))
        except BaseException:
            # The state is not rewritten, so the upload is as it was: parts sent now carry numbers
            # it does not list, which a later part replaces or completion leaves out.
            if tail is not None:
                self._objects.delete_keys([tail])
            raise
        size = state.size + written
        new = UploadState(
            size=size,
            base=None,
            multipart=writer.multipart,
            parts=tuple(writer.parts),
            tail=tail,
            tail_size=len(writer.buffer) if tail else 0,
            previous=state,
        )
        self._save_state(upload_id, new)
        # Objects only the state before the previous one named are no longer wanted.
        if state.previous is not None:
            self._objects.delete_keys(state.previous.keys() - new.keys() - state.keys())
        if hasher is not None:
            self._running_hashes.put(upload_id, size, hasher)
        return size

    def _writer(self, upload_id: str, state: UploadState) -> PartWriter:
        """A writer that carries on after `state`'s bytes: its parts, then the base and the tail
        taken into new parts (copied by the server when big enough, else read back)."""
        key = self._key(paths.upload_data_path(self._root, upload_id))
        writer = PartWriter(self._objects.client, self._objects.name, key, state.multipart, state.parts)
        if state.base is not None and state.base_size >= MIN_PART:
            for first, last in copy_ranges(state.base_size):
                writer.copy(state.base, first, last)
        elif state.base is not None and state.base_size:
            writer.write(self._objects.read(state.base, 0, state.base_size - 1))
        if state.tail is not None:
            writer.write(self._objects.read(state.tail))
        return writer

    def truncate_upload(self, upload_id: str, size: int) -> None:
        state = self._state(upload_id)
        self._running_hashes.forget(upload_id)
        if state.size == size:
            return
        if state.previous is None or state.previous.size != size:
            raise ValueError(f"upload {upload_id} can only go back to its size before its last append")
        self._save_state(upload_id, state.previous)

    def delete_upload(self, upload_id: str) -> None:
        self._running_hashes.forget(upload_id)
        self._objects.remove_prefix(self._key(paths.upload_dir(self._root, upload_id)) + "/")

    def verify_upload(self, upload_id: str, digest: Digest) -> int:
        state = self._state(upload_id)
        hasher = self._running_hashes.take(upload_id, state.size) if digest.algorithm == "sha256" else None
        if hasher is None:
            # Parts cannot be read back before they are assembled, nor hashlib state stored: an
            # upload that another process (or node) appended to is assembled and read once here.
            state = self._assemble(upload_id, state)
            hasher = new_hasher(digest.algorithm)
            if state.size and state.base is not None:
                hash_into(hasher, self._objects.open(state.base, 0, state.size - 1))
        else:
            self._running_hashes.put(upload_id, state.size, hasher)
        check_digest(hasher, digest)
        return state.size

    def install_upload(self, upload_id: str, digest: Digest) -> None:
        state = self._assemble(upload_id, self._state(upload_id))
        target = self._key(paths.blob_path(self._root, digest))
        # Same digest, same bytes: a blob already in place serves.
        if not self._objects.exists(target):
            self._objects.copy(state.base, state.size, target)
        self.delete_upload(upload_id)

    def _assemble(self, upload_id: str, state: UploadState) -> UploadState:
        """Put all of the upload's bytes in one object (completing its multipart upload) and
        record that; an upload already in one object is left as it is."""
        if state.multipart is None and state.tail is None and (state.base is not None or state.size == 0):
            return state
        key = self._key(paths.upload_data_path(self._root, upload_id))
        if state.multipart is None:
            # Fewer bytes than a part, all in the tail (or none at all).
            tail = self._objects.read(state.tail) if state.tail else b""
            self._objects.client.put_object(Bucket=self._objects.name, Key=key, Body=tail)
        else:
            writer = PartWriter(self._objects.client, self._objects.name, key, state.multipart, state.parts)
            if state.tail is not None:
                writer.send(self._objects.read(state.tail))
            writer.complete()
        assembled = state.assembled(key)
        self._save_state(upload_id, assembled)
        return assembled

    def _state(self, upload_id: str) -> UploadState:
        try:
            return UploadState.from_json(self._objects.read(self._key(paths.upload_state_path(self._root, upload_id))))
        except FileNotFoundError:
            raise UploadMissing(upload_id) from None

    def _save_state(self, upload_id: str, state: UploadState) -> None:
        key = self._key(paths.upload_state_path(self._root, upload_id))
        self._objects.client.put_object(Bucket=self._objects.name, Key=key, Body=state.to_json())

    # --- single-request uploads ------------------------------------------------------------

    def stage_blob(self, chunks: Iterable[bytes], digest: Digest) -> StagedBlob:
        key = self._key(paths.blob_path(self._root, digest))
        writer = PartWriter(self._objects.client, self._objects.name, key, None, ())
        hasher = new_hasher(digest.algorithm)
        try:
            size = write_hashing(chunks, writer, hasher)
            writer.flush()
            check_digest(hasher, digest)
            if writer.buffer or not writer.parts:
                writer.send(bytes(writer.buffer))
        except BaseException:
            writer.abort()
            raise
        handle = {
            "key": key,
            "multipart": writer.multipart,
            "parts": [[part.number, part.etag] for part in writer.parts],
        }
        return StagedBlob(json.dumps(handle), size)

    def install_staged(self, staged: StagedBlob, digest: Digest) -> None:
        handle = json.loads(staged.handle)
        if self._objects.exists(handle["key"]):
            return  # discard_staged aborts ours
        parts = tuple(Part(number, etag, 0) for number, etag in handle["parts"])
        PartWriter(self._objects.client, self._objects.name, handle["key"], handle["multipart"], parts).complete()

    def discard_staged(self, staged: StagedBlob) -> None:
        handle = json.loads(staged.handle)
        self._objects.abort(handle["key"], handle["multipart"])

    # --- blobs ------------------------------------------------------------------------------

    def trash_blob(self, digest: Digest) -> bool:
        return self._objects.move(
            self._key(paths.blob_path(self._root, digest)), self._key(paths.trash_path(self._root, digest))
        )

    def restore_blob(self, digest: Digest) -> None:
        self._objects.move(
            self._key(paths.trash_path(self._root, digest)), self._key(paths.blob_path(self._root, digest))
        )

    def empty_trash(self, digest: Digest) -> None:
        self._objects.delete_keys([self._key(paths.trash_path(self._root, digest))])

    def trashed_blobs(self) -> list[Digest]:
        found = []
        for entry in self._objects.list(self._key(paths.trash_dir(self._root)) + "/"):
            try:
                found.append(paths.digest_of_trashed(entry["Key"].rsplit("/", 1)[-1]))
            except ValueError:
                continue
        return found

    def blobs_older_than(self, timestamp: float) -> Iterator[tuple[Digest, int]]:
        for entry in self._objects.list(self._key(paths.blobs_root(self._root)) + "/"):
            try:
                digest = paths.digest_of_blob(self._root, Path(entry["Key"]))
            except ValueError:
                continue
            if entry["LastModified"].timestamp() < timestamp:
                yield digest, entry["Size"]

    def blob_exists(self, digest: Digest) -> bool:
        return self._objects.exists(self._key(paths.blob_path(self._root, digest)))

    def open_blob(self, digest: Digest, first: int = 0) -> Readable:
        return self._objects.open(self._key(paths.blob_path(self._root, digest)), first, None)

    def download_url(self, digest: Digest) -> str | None:
        if not settings.REGISTRY_S3_REDIRECT:
            return None
        return self._objects.presigned_get(
            self._key(paths.blob_path(self._root, digest)),
            settings.REGISTRY_S3_REDIRECT_ENDPOINT,
            settings.REGISTRY_S3_REDIRECT_SECONDS,
        )

    def check_writable(self) -> None:
        # The bucket answers and these credentials reach it; a probe object could be left behind.
        self._objects.client.head_bucket(Bucket=self._objects.name)

    # --- what crashes and abandoned uploads leave -------------------------------------------

    def leftovers_older_than(
        self, uploads_before: float, staged_before: float, keep_uploads: set[str]
    ) -> Iterator[tuple[str, int]]:
        uploads_prefix = self._key(paths.uploads_root(self._root)) + "/"
        newest: dict[str, float] = {}
        sizes: dict[str, int] = {}
        for entry in self._objects.list(uploads_prefix):
            upload_id = entry["Key"][len(uploads_prefix) :].split("/", 1)[0]
            newest[upload_id] = max(newest.get(upload_id, 0.0), entry["LastModified"].timestamp())
            sizes[upload_id] = sizes.get(upload_id, 0) + entry["Size"]
        for upload in self._objects.multipart_uploads(uploads_prefix):
            upload_id = upload["Key"][len(uploads_prefix) :].split("/", 1)[0]
            last_part, size = self._objects.multipart_activity(upload)
            newest[upload_id] = max(newest.get(upload_id, 0.0), last_part)
            sizes[upload_id] = sizes.get(upload_id, 0) + size
        for upload_id, last_written in newest.items():
            if upload_id not in keep_uploads and last_written < uploads_before:
                yield json.dumps(["upload", upload_id]), sizes[upload_id]
        # Single-request uploads in flight are multipart uploads to a blob's key, idle as long as
        # they take no part (as a staged file on disk is idle as long as it is not written).
        for upload in self._objects.multipart_uploads(self._key(paths.blobs_root(self._root)) + "/"):
            last_part, size = self._objects.multipart_activity(upload)
            if last_part < staged_before:
                yield json.dumps(["staged", upload["Key"], upload["UploadId"]]), size

    def remove_leftover(self, name: str) -> None:
        kind, *arguments = json.loads(name)
        if kind == "upload":
            self.delete_upload(arguments[0])
        else:
            self._objects.abort(arguments[0], arguments[1])
