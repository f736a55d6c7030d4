from pathlib import Path

import pytest

from oci.digests import Digest
from v2api.storage import paths

ROOT = Path("/srv/registry")
SHA256 = Digest.parse("sha256:" + "ab" * 32)
SHA512 = Digest.parse("sha512:" + "cd" * 64)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (paths.layout_root(ROOT), "/srv/registry/layout-v1"),
        (paths.blob_path(ROOT, SHA256), "/srv/registry/layout-v1/blobs/sha256/ab/" + "ab" * 32),
        (paths.blob_path(ROOT, SHA512), "/srv/registry/layout-v1/blobs/sha512/cd/" + "cd" * 64),
        (paths.upload_dir(ROOT, "u-1"), "/srv/registry/layout-v1/uploads/u-1"),
        (paths.upload_data_path(ROOT, "u-1"), "/srv/registry/layout-v1/uploads/u-1/data"),
        (paths.staging_dir(ROOT), "/srv/registry/layout-v1/staging"),
    ],
)
def test_each_path_of_the_layout_is_where_the_docstring_draws_it(path: Path, expected: str) -> None:
    assert str(path) == expected


def test_a_blob_path_reads_back_as_its_digest() -> None:
    assert paths.digest_of_blob(ROOT, paths.blob_path(ROOT, SHA512)) == SHA512


@pytest.mark.parametrize(
    "relative",
    ["sha256/cd/" + "ab" * 32, "sha256/ab/" + "ab" * 31, "sha256/" + "ab" * 32, "sha256/ab/x/" + "ab" * 32],
)
def test_a_file_not_at_a_blob_path_has_no_digest(relative: str) -> None:
    with pytest.raises(ValueError):
        paths.digest_of_blob(ROOT, paths.blobs_root(ROOT) / relative)
