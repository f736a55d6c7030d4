"""The layout of the blob store, on disk and in a bucket. No I/O here: only this module builds paths.

    <REGISTRY_STORAGE_ROOT>/ on disk, or s3://<REGISTRY_S3_BUCKET>/<REGISTRY_S3_PREFIX>/ in a bucket
        layout-v1/                          the layout's own version, unrelated to the API version
            blobs/<algorithm>/<hex[:2]>/<hex>   immutable bytes, named by their digest
            uploads/<upload-id>/data            disk: a chunked upload in progress, appended to;
                                                bucket: the upload assembled, once it is verified
            uploads/<upload-id>/state           bucket: the upload's multipart upload, its parts and
                                                its tail, as JSON (storage/s3_uploads.py)
            uploads/<upload-id>/tail-<n>-<id>   bucket: bytes after the last part, fewer than a
                                                part's minimum (5 MiB), kept until more arrive
            staging/<random>                    disk: a single-request upload in flight (in a bucket
                                                it is a multipart upload to its blob's key, which
                                                shows nothing until it is completed)
            trash/<algorithm>-<hex>             a blob the collector is deleting, out of reach
            locks/<name>.lock                   disk: singleton jobs and uploads on a single host
                                                (SQLite runs; Postgres takes advisory locks)

On disk everything lives on one filesystem, so a finished upload or a staged file moves into
`blobs/` with one atomic rename; in a bucket a blob's key is written once, by a completed
multipart upload or a server-side copy, after its digest checked out. The two-character fan-out
keeps directories small at millions of blobs. Which repository may see a blob, and every
manifest, live in the database, not here. A bucket's keys are these paths below the prefix, with
`/` between the parts: `object_key`.
"""

from pathlib import Path

from oci.digests import Digest, InvalidDigest

LAYOUT_VERSION = "layout-v1"


def layout_root(storage_root: Path) -> Path:
    return storage_root / LAYOUT_VERSION


def blobs_root(storage_root: Path) -> Path:
    return layout_root(storage_root) / "blobs"


def blob_path(storage_root: Path, digest: Digest) -> Path:
    return blobs_root(storage_root) / digest.algorithm / digest.hex[:2] / digest.hex


def digest_of_blob(storage_root: Path, path: Path) -> Digest:
    """The digest a file under blobs/ is stored as; ValueError if it is not at a blob's path."""
    try:
        algorithm, fan_out, encoded = path.relative_to(blobs_root(storage_root)).parts
        digest = Digest.parse(f"{algorithm}:{encoded}")
    except (ValueError, InvalidDigest):
        raise ValueError(str(path)) from None
    if fan_out != digest.hex[:2]:
        raise ValueError(str(path))
    return digest


def uploads_root(storage_root: Path) -> Path:
    return layout_root(storage_root) / "uploads"


def upload_dir(storage_root: Path, upload_id: str) -> Path:
    return uploads_root(storage_root) / upload_id


def upload_data_path(storage_root: Path, upload_id: str) -> Path:
    return upload_dir(storage_root, upload_id) / "data"


def upload_state_path(storage_root: Path, upload_id: str) -> Path:
    return upload_dir(storage_root, upload_id) / "state"


def upload_tail_path(storage_root: Path, upload_id: str, offset: int, unique: str) -> Path:
    return upload_dir(storage_root, upload_id) / f"tail-{offset}-{unique}"


def staging_dir(storage_root: Path) -> Path:
    return layout_root(storage_root) / "staging"


def trash_dir(storage_root: Path) -> Path:
    return layout_root(storage_root) / "trash"


def trash_path(storage_root: Path, digest: Digest) -> Path:
    return trash_dir(storage_root) / f"{digest.algorithm}-{digest.hex}"


def digest_of_trashed(name: str) -> Digest:
    """The digest a trash/ file name stands for; ValueError if it is not one of ours."""
    algorithm, separator, encoded = name.partition("-")
    if not separator:
        raise ValueError(name)
    try:
        return Digest.parse(f"{algorithm}:{encoded}")
    except InvalidDigest:
        raise ValueError(name) from None


def locks_dir(storage_root: Path) -> Path:
    return layout_root(storage_root) / "locks"


def bucket_root(prefix: str) -> Path:
    """The root that the path functions take for a bucket: its key prefix (or nothing)."""
    return Path(prefix.strip("/") or ".")


def object_key(path: Path) -> str:
    """The bucket key of a path built on bucket_root."""
    return path.as_posix()
