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
