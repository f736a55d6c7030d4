"""The on-disk layout of the registry's storage root. No I/O here: only this module builds paths.

    <REGISTRY_STORAGE_ROOT>/
        layout-v1/                          the layout's own version, unrelated to the API version
            blobs/<algorithm>/<hex[:2]>/<hex>   immutable bytes, named by their digest
            uploads/<upload-id>/data            a chunked upload in progress, appended chunk by chunk
            staging/<random>                    a single-request upload in flight

Everything lives on one filesystem, so a finished upload or a staged file moves into `blobs/`
with one atomic rename. The two-character fan-out keeps directories small at millions of blobs.
Which repository may see a blob, and every manifest, live in the database, not here.
"""

from pathlib import Path

from v2api.digests import Digest

LAYOUT_VERSION = "layout-v1"


def layout_root(storage_root: Path) -> Path:
    return storage_root / LAYOUT_VERSION


def blobs_root(storage_root: Path) -> Path:
    return layout_root(storage_root) / "blobs"


def blob_path(storage_root: Path, digest: Digest) -> Path:
    return blobs_root(storage_root) / digest.algorithm / digest.hex[:2] / digest.hex


def upload_dir(storage_root: Path, upload_id: str) -> Path:
    return layout_root(storage_root) / "uploads" / upload_id


def upload_data_path(storage_root: Path, upload_id: str) -> Path:
    return upload_dir(storage_root, upload_id) / "data"


def staging_dir(storage_root: Path) -> Path:
    return layout_root(storage_root) / "staging"
