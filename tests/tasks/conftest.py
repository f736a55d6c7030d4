from pathlib import Path

import pytest

from accounts.models import Project
from oci.digests import Digest
from tests.conftest import PushImage
from v2api.storage import paths


def blob_file(storage_root: Path, digest: str) -> Path:
    return paths.blob_path(storage_root, Digest.parse(digest))


def bytes_on_disk(storage_root: Path) -> int:
    """What the blob store holds, measured on disk."""
    blobs = paths.blobs_root(storage_root)
    return sum(path.stat().st_size for path in blobs.rglob("*") if path.is_file()) if blobs.exists() else 0


@pytest.fixture
def disk(storage_root: Path):  # type: ignore[no-untyped-def]
    return lambda: bytes_on_disk(storage_root)


@pytest.fixture
def projects(push_image: PushImage) -> list[str]:
    """Three projects: layers shared inside one, across two, and an empty project."""
    for name in ("team", "ops", "empty"):
        Project.objects.create(name=name)
    push_image("team/app", "v1", layers=[b"base" * 100, b"app"])
    push_image("team/app", "v2", layers=[b"base" * 100, b"app 2"])
    push_image("team/web", "v1", layers=[b"base" * 100, b"common"])
    push_image("ops/tool", "v1", layers=[b"common", b"tool"])
    return ["team", "ops", "empty"]
