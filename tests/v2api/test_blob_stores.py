"""The blob store contract (v2api/storage/base.py), held by both stores: the filesystem and S3 on a
real SeaweedFS. What one store does, the other does, seen through the same calls."""

import hashlib
import os
import tracemalloc
from collections.abc import Iterator

import pytest

from oci.digests import Digest
from tests.conftest import S3Storage
from v2api.errors import DigestInvalid
from v2api.storage import blobstore
from v2api.storage.base import BlobStore
from v2api.storage.filesystem import FilesystemStore
from v2api.storage.s3 import S3Store

MIB = 1024 * 1024
EVERYTHING = float("inf")


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return blobstore.store()


def another_node(store: BlobStore) -> BlobStore:
    """The same storage seen from another process: nothing this one keeps in memory."""
    if isinstance(store, S3Store):
        from django.conf import settings

        return S3Store(settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_PREFIX)
    return FilesystemStore()


def digest_of(content: bytes) -> Digest:
    return Digest.parse("sha256:" + hashlib.sha256(content).hexdigest())


def body(parts: list[bytes], fail_after: int | None = None) -> Iterator[bytes]:
    for index, part in enumerate(parts):
        if fail_after is not None and index == fail_after:
            raise OSError("client went away")
        yield part


def read(store: BlobStore, digest: Digest, first: int = 0) -> bytes:
    handle = store.open_blob(digest, first)
    try:
        return handle.read()
    finally:
        handle.close()


def leftovers(store: BlobStore) -> list[tuple[str, int]]:
    return list(store.leftovers_older_than(EVERYTHING, EVERYTHING, set()))


def chunked_upload(store: BlobStore, upload_id: str, chunks: list[list[bytes]]) -> bytes:
    store.create_upload(upload_id)
    for chunk in chunks:
        store.append_to_upload(upload_id, body(chunk), expected_offset=store.upload_size(upload_id))
    return b"".join(b"".join(chunk) for chunk in chunks)


def test_a_staged_blob_is_served_only_once_installed(store: BlobStore) -> None:
    content = os.urandom(7 * MIB + 3)
    digest = digest_of(content)

    staged = store.stage_blob(body([content[:MIB], content[MIB:]]), digest)
    assert staged.size == len(content)
    assert not store.blob_exists(digest)

    store.install_staged(staged, digest)
    store.discard_staged(staged)

    assert store.blob_exists(digest)
    assert read(store, digest) == content
    assert read(store, digest, first=6 * MIB) == content[6 * MIB :]
    assert leftovers(store) == []


def test_a_staged_blob_of_other_bytes_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(DigestInvalid):
        store.stage_blob(body([os.urandom(6 * MIB)]), digest_of(b"something else"))

    assert leftovers(store) == []


def test_an_empty_blob_goes_through_both_kinds_of_upload(store: BlobStore) -> None:
    empty = digest_of(b"")
    staged = store.stage_blob(body([]), empty)
    store.install_staged(staged, empty)
    store.discard_staged(staged)
    assert read(store, empty) == b""

    store.trash_blob(empty)
    store.empty_trash(empty)
    store.create_upload("empty")
    assert store.verify_upload("empty", empty) == 0
    store.install_upload("empty", empty)
    assert read(store, empty) == b""


def test_chunks_of_any_size_make_the_blob(store: BlobStore) -> None:
    # 1 KiB chunks (oras, the conformance suite), one big streamed body (docker), and sizes
    # that straddle S3's 5 MiB part minimum.
    chunks = [[os.urandom(1024)] for _ in range(3)] + [[os.urandom(3 * MIB), os.urandom(9 * MIB)], [b"x"]]
    content = chunked_upload(store, "any-size", chunks)
    digest = digest_of(content)

    assert store.upload_size("any-size") == len(content)
    assert store.verify_upload("any-size", digest) == len(content)
    store.install_upload("any-size", digest)

    assert read(store, digest) == content
    assert store.upload_size("any-size") == 0
    assert leftovers(store) == []


def test_another_node_continues_and_finishes_an_upload(store: BlobStore) -> None:
    first = os.urandom(6 * MIB)
    second = os.urandom(2 * MIB)
    store.create_upload("shared")
    store.append_to_upload("shared", body([first]), expected_offset=0)

    other = another_node(store)
    assert other.append_to_upload("shared", body([second]), expected_offset=len(first)) == len(first) + len(second)
    third = os.urandom(1000)
    store.append_to_upload("shared", body([third]), expected_offset=len(first) + len(second))

    content = first + second + third
    finisher = another_node(store)
    assert finisher.verify_upload("shared", digest_of(content)) == len(content)
    finisher.install_upload("shared", digest_of(content))
    assert read(store, digest_of(content)) == content


def test_a_body_that_fails_half_way_leaves_the_upload_as_it_was(store: BlobStore) -> None:
    first = [os.urandom(MIB)]
    second = [os.urandom(MIB) for _ in range(7)]
    store.create_upload("cut")
    store.append_to_upload("cut", body(first), expected_offset=0)

    with pytest.raises(OSError):
        store.append_to_upload("cut", body(second, fail_after=6), expected_offset=MIB)
    assert store.upload_size("cut") == MIB

    store.append_to_upload("cut", body(second), expected_offset=MIB)
    content = b"".join(first + second)
    assert store.verify_upload("cut", digest_of(content)) == len(content)


def test_a_chunk_out_of_order_is_refused_with_the_size(store: BlobStore) -> None:
    store.create_upload("order")
    store.append_to_upload("order", body([b"abc"]), expected_offset=0)

    with pytest.raises(blobstore.ChunkOutOfOrder) as refused:
        store.append_to_upload("order", body([b"def"]), expected_offset=10)
    assert refused.value.upload_size == 3


@pytest.mark.parametrize("checked_elsewhere", [False, True])
def test_a_refused_last_chunk_is_cut_off_and_the_upload_goes_on(store: BlobStore, checked_elsewhere: bool) -> None:
    """As finish_upload does when the digest is wrong: append, verify, truncate, then the right PUT."""
    first = os.urandom(6 * MIB)
    store.create_upload("again")
    store.append_to_upload("again", body([first]), expected_offset=0)
    checker = another_node(store) if checked_elsewhere else store

    checker.append_to_upload("again", body([b"wrong"]), expected_offset=len(first))
    with pytest.raises(DigestInvalid):
        checker.verify_upload("again", digest_of(first + b"right"))
    checker.truncate_upload("again", len(first))
    assert store.upload_size("again") == len(first)

    store.append_to_upload("again", body([b"right"]), expected_offset=len(first))
    assert checker.verify_upload("again", digest_of(first + b"right")) == len(first) + 5
    checker.install_upload("again", digest_of(first + b"right"))
    assert read(store, digest_of(first + b"right")) == first + b"right"


def test_a_deleted_upload_leaves_nothing(store: BlobStore) -> None:
    chunked_upload(store, "gone", [[os.urandom(6 * MIB)], [os.urandom(100)]])

    store.delete_upload("gone")

    assert store.upload_size("gone") == 0
    with pytest.raises(blobstore.UploadMissing):
        store.append_to_upload("gone", body([b"late"]), expected_offset=None)
    assert leftovers(store) == []


def test_abandoned_uploads_are_leftovers_unless_kept(store: BlobStore) -> None:
    chunked_upload(store, "kept", [[b"a" * 100]])
    chunked_upload(store, "abandoned", [[os.urandom(6 * MIB)], [b"b" * 10]])

    found = dict(store.leftovers_older_than(EVERYTHING, 0.0, keep_uploads={"kept"}))
    assert len(found) == 1
    [(name, size)] = found.items()
    assert size >= 6 * MIB + 10

    store.remove_leftover(name)
    assert list(store.leftovers_older_than(EVERYTHING, 0.0, keep_uploads={"kept"})) == []
    assert store.upload_size("kept") == 100


def test_an_existing_blob_wins_over_a_second_install(store: BlobStore) -> None:
    content = os.urandom(1000)
    digest = digest_of(content)
    for upload_id in ("one", "two"):
        chunked_upload(store, upload_id, [[content]])
        store.verify_upload(upload_id, digest)
        store.install_upload(upload_id, digest)

    assert read(store, digest) == content
    assert [found for found, _ in store.blobs_older_than(EVERYTHING)] == [digest]
    assert leftovers(store) == []


def test_a_trashed_blob_is_out_of_reach_until_restored(store: BlobStore) -> None:
    content = os.urandom(6 * MIB)
    digest = digest_of(content)
    staged = store.stage_blob(body([content]), digest)
    store.install_staged(staged, digest)
    store.discard_staged(staged)

    assert store.trash_blob(digest)
    assert not store.blob_exists(digest)
    assert store.trashed_blobs() == [digest]
    with pytest.raises(FileNotFoundError):
        store.open_blob(digest)

    store.restore_blob(digest)
    assert read(store, digest) == content
    assert store.trash_blob(digest)
    store.empty_trash(digest)
    assert store.trashed_blobs() == []
    assert not store.trash_blob(digest)
    assert list(store.blobs_older_than(EVERYTHING)) == []


def test_blobs_are_listed_with_their_sizes_by_age(store: BlobStore) -> None:
    content = os.urandom(4321)
    digest = digest_of(content)
    staged = store.stage_blob(body([content]), digest)
    store.install_staged(staged, digest)

    assert list(store.blobs_older_than(EVERYTHING)) == [(digest, 4321)]
    assert list(store.blobs_older_than(0.0)) == []


def test_the_bucket_holds_blobs_at_their_documented_keys(s3_storage: S3Storage) -> None:
    content = os.urandom(2000)
    digest = digest_of(content)
    store = blobstore.store()
    chunked_upload(store, "keys", [[content]])
    store.verify_upload("keys", digest)
    store.install_upload("keys", digest)

    assert s3_storage.objects() == {f"layout-v1/blobs/sha256/{digest.hex[:2]}/{digest.hex}": 2000}
    assert s3_storage.multipart_uploads() == []


def test_memory_stays_bounded_whatever_the_size_of_the_body(store: BlobStore) -> None:
    """A 160 MiB layer streamed in one PATCH (docker, podman) holds a few 8 MiB parts, not the layer."""
    chunk = os.urandom(MIB)
    store.create_upload("large")
    tracemalloc.start()
    try:
        store.append_to_upload("large", (chunk for _ in range(160)), expected_offset=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert store.upload_size("large") == 160 * MIB
    assert peak < 64 * MIB
