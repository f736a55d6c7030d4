"""Large chunks are hashed on another thread while they are written: the digest, the bytes on
disk and the clean-up after a failed body must be what hashing in line gave."""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from oci.digests import Digest
from v2api.errors import DigestInvalid
from v2api.storage import blobstore, paths, streams

MIB = 1024 * 1024


def body(parts: list[bytes], fail_after: int | None = None) -> Iterator[bytes]:
    for index, part in enumerate(parts):
        if fail_after is not None and index == fail_after:
            raise OSError("client went away")
        yield part


def mixed_parts() -> list[bytes]:
    """Large chunks (hashed in parallel) between small ones (hashed in line), in one body."""
    return [os.urandom(size) for size in (MIB, 1000, 3 * MIB, streams.PARALLEL_HASH_FROM, 17, 2 * MIB)]


def test_a_staged_blob_has_the_bytes_and_digest_of_its_body(storage_root: Path) -> None:
    parts = mixed_parts()
    content = b"".join(parts)
    digest = Digest.parse("sha256:" + hashlib.sha256(content).hexdigest())

    staged = blobstore.store().stage_blob(body(parts), digest)

    assert staged.size == len(content)
    assert Path(staged.handle).read_bytes() == content


def test_a_staged_blob_of_other_bytes_is_refused_and_removed(storage_root: Path) -> None:
    parts = mixed_parts()
    wrong = Digest.parse("sha256:" + hashlib.sha256(b"something else").hexdigest())

    with pytest.raises(DigestInvalid):
        blobstore.store().stage_blob(body(parts), wrong)

    assert list(paths.staging_dir(storage_root).iterdir()) == []


def test_an_upload_in_large_patches_verifies_with_the_running_hash(storage_root: Path) -> None:
    first, second = mixed_parts(), mixed_parts()
    content = b"".join(first + second)
    digest = Digest.parse("sha256:" + hashlib.sha256(content).hexdigest())
    blobstore.store().create_upload("u1")

    blobstore.store().append_to_upload("u1", body(first), expected_offset=0)
    size = blobstore.store().append_to_upload("u1", body(second), expected_offset=len(b"".join(first)))

    assert size == len(content)
    assert blobstore.store().verify_upload("u1", digest) == len(content)


def test_a_patch_that_fails_half_way_leaves_the_upload_and_its_hash_as_they_were(storage_root: Path) -> None:
    first, second = mixed_parts(), mixed_parts()
    blobstore.store().create_upload("u2")
    blobstore.store().append_to_upload("u2", body(first), expected_offset=0)

    with pytest.raises(OSError):
        blobstore.store().append_to_upload("u2", body(second, fail_after=3), expected_offset=None)
    assert blobstore.store().upload_size("u2") == len(b"".join(first))

    # The client sends the chunk again, whole this time; the blob verifies.
    blobstore.store().append_to_upload("u2", body(second), expected_offset=len(b"".join(first)))
    content = b"".join(first + second)
    digest = Digest.parse("sha256:" + hashlib.sha256(content).hexdigest())
    assert blobstore.store().verify_upload("u2", digest) == len(content)
