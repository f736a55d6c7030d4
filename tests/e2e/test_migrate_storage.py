"""Moving a registry's blobs between disk and bucket (a real SeaweedFS) with
`manage.py migratestorage`: skopeo pushes, the command copies, a second run copies nothing, the
operator switches REGISTRY_STORAGE as told, and skopeo pulls every image back from the new store
with the old one gone; a corrupt blob is reported and not copied."""

import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import S3_BUCKET
from tests.e2e.conftest import E2E_DATABASE, REPO_ROOT, LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image, build_index
from tests.e2e.test_import_registry import assert_pulls_as_pushed, pulled_into
from tests.e2e.test_s3 import blob_key
from tests.e2e.test_skopeo import push
from tests.seaweedfs import SeaweedFS

MIB = 1024 * 1024


def registry_with_a_bucket(seaweedfs: SeaweedFS, data_dir: Path, storage: str) -> Iterator[LiveRegistry]:
    """A registry keeping its blobs in `storage`, configured for the bucket too (a prefix of its own)."""
    with serving_registry(
        data_dir,
        f"{E2E_DATABASE}_migrate",
        REGISTRY_STORAGE=storage,
        REGISTRY_S3_BUCKET=S3_BUCKET,
        REGISTRY_S3_PREFIX=f"migrate-{uuid.uuid4().hex}",
        **seaweedfs.environment,
    ) as registry:
        yield registry


@pytest.fixture
def disk_registry(seaweedfs: SeaweedFS, tmp_path: Path) -> Iterator[LiveRegistry]:
    yield from registry_with_a_bucket(seaweedfs, tmp_path / "registry", "filesystem")


@pytest.fixture
def bucket_registry(seaweedfs: SeaweedFS, tmp_path: Path) -> Iterator[LiveRegistry]:
    yield from registry_with_a_bucket(seaweedfs, tmp_path / "registry", "s3")


def push_images(registry: LiveRegistry, folder: Path) -> dict[str, OciLayout]:
    images = {
        "moved/app:v1": build_image(folder / "app", tag="v1", layer_sizes=(64 * 1024, 6 * MIB + 3)),
        "moved/tools:multi": build_index(folder / "tools", tag="multi"),
    }
    for reference, layout in images.items():
        push(registry, layout, f"docker://{registry.host}/{reference}", "--all")
    return images


def migrate_storage(registry: LiveRegistry, to: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "migratestorage", "--to", to],
        cwd=REPO_ROOT,
        env=registry.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def bucket_blobs(seaweedfs: SeaweedFS, registry: LiveRegistry) -> dict[str, int]:
    prefix = f"{registry.environment['REGISTRY_S3_PREFIX']}/layout-v1/"
    return {key.removeprefix(prefix): size for key, size in seaweedfs.objects(S3_BUCKET, prefix).items()}


def assert_every_image_pulls_as_pushed(registry: LiveRegistry, images: dict[str, OciLayout], folder: Path) -> None:
    for reference, pushed in images.items():
        assert_pulls_as_pushed(registry, reference, pushed, pulled_into(folder, reference))


def test_blobs_move_from_disk_into_the_bucket_and_pull_from_there_after_the_switch(
    disk_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    images = push_images(disk_registry, tmp_path / "images")

    migrated = migrate_storage(disk_registry, "s3")

    assert migrated.returncode == 0, migrated.stderr
    # app: a config and 2 layers; tools: 2 configs and 2 layers.
    assert re.match(r"7 blobs copied \(6\.\d MiB\), 0 already there\n", migrated.stdout)
    prefix = disk_registry.environment["REGISTRY_S3_PREFIX"]
    assert f"set REGISTRY_STORAGE=s3 REGISTRY_S3_BUCKET={S3_BUCKET} REGISTRY_S3_PREFIX={prefix}" in migrated.stdout
    assert re.search(r"blob 7/7, (6\.\d)/\1 MiB", migrated.stderr)
    stored = bucket_blobs(seaweedfs, disk_registry)
    for layout in images.values():
        for layer in layout.layers:
            assert stored[blob_key(layer.digest)] == layer.size

    again = migrate_storage(disk_registry, "s3")

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 blobs copied (0.0 MiB), 7 already there\n")

    disk_registry.environment["REGISTRY_STORAGE"] = "s3"
    shutil.rmtree(disk_registry.storage_root)
    disk_registry.restart()
    assert_every_image_pulls_as_pushed(disk_registry, images, tmp_path)


def test_blobs_move_from_the_bucket_back_to_disk(
    bucket_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    images = push_images(bucket_registry, tmp_path / "images")
    bucket_registry.environment["REGISTRY_STORAGE_ROOT"] = str(tmp_path / "disk")

    migrated = migrate_storage(bucket_registry, "filesystem")

    assert migrated.returncode == 0, migrated.stderr
    assert re.match(r"7 blobs copied \(6\.\d MiB\), 0 already there\n", migrated.stdout)
    assert f"set REGISTRY_STORAGE=filesystem REGISTRY_STORAGE_ROOT={tmp_path / 'disk'}" in migrated.stdout
    for layout in images.values():
        for layer in layout.layers:
            assert (tmp_path / "disk/layout-v1" / blob_key(layer.digest)).stat().st_size == layer.size

    bucket_registry.environment["REGISTRY_STORAGE"] = "filesystem"
    seaweedfs.client().delete_objects(
        Bucket=S3_BUCKET,
        Delete={
            "Objects": [
                {"Key": key} for key in seaweedfs.objects(S3_BUCKET, bucket_registry.environment["REGISTRY_S3_PREFIX"])
            ]
        },
    )
    bucket_registry.restart()
    assert_every_image_pulls_as_pushed(bucket_registry, images, tmp_path)


def test_a_corrupt_blob_on_disk_is_reported_and_not_copied(
    disk_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    images = push_images(disk_registry, tmp_path / "images")
    corrupt = images["moved/app:v1"].layers[1].digest
    on_disk = disk_registry.storage_root / "layout-v1" / blob_key(corrupt)
    content = bytearray(on_disk.read_bytes())
    content[1000] ^= 0xFF
    on_disk.write_bytes(bytes(content))

    migrated = migrate_storage(disk_registry, "s3")

    assert migrated.returncode == 1
    assert migrated.stdout.startswith("6 blobs copied")
    assert f"problem: blob {corrupt} is corrupt in the store in use (it hashes to sha256:" in migrated.stderr
    assert "1 problems (above): those blobs are not in s3" in migrated.stderr
    assert "REGISTRY_STORAGE=s3" not in migrated.stdout
    assert blob_key(corrupt) not in bucket_blobs(seaweedfs, disk_registry)


def test_a_blob_cut_short_in_the_target_is_reported_not_taken_for_copied(
    bucket_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    """What an earlier copy of the blobs left (a `cp -r` stopped halfway writes files at their
    final names): the switch would serve its bytes under a digest they no longer have."""
    images = push_images(bucket_registry, tmp_path / "images")
    bucket_registry.environment["REGISTRY_STORAGE_ROOT"] = str(tmp_path / "disk")
    layer = images["moved/app:v1"].layers[1]
    cut_short = tmp_path / "disk/layout-v1" / blob_key(layer.digest)
    cut_short.parent.mkdir(parents=True)
    cut_short.write_bytes(b"\0" * 1000)

    migrated = migrate_storage(bucket_registry, "filesystem")

    assert migrated.returncode == 1
    assert migrated.stdout.startswith("6 blobs copied")
    assert (
        f"problem: blob {layer.digest} in the target holds 1000 bytes, not {layer.size}: remove it there"
        in migrated.stderr
    )
    assert "REGISTRY_STORAGE=filesystem" not in migrated.stdout
