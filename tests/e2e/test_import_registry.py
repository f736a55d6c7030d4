"""Moving in from the plain registry: a store that Debian's docker-registry wrote (skopeo pushed an
image, a multi-arch index and a single-component name to it) is imported with
`manage.py importregistry`, to the filesystem store and to a bucket, and every image pulled from us
with skopeo has the digests that were pushed; a second run copies nothing; a corrupt blob is
reported and neither it nor the image that needs it is imported."""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from benchmarks.servers import start_reference
from tests.conftest import S3_BUCKET
from tests.e2e.conftest import E2E_DATABASE, REPO_ROOT, LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image, build_index
from tests.e2e.test_s3 import blob_key
from tests.e2e.test_skopeo import layout_blob, skopeo
from tests.seaweedfs import SeaweedFS

MIB = 1024 * 1024
S3_PREFIX = "import"


@dataclass(frozen=True)
class SourceStore:
    """A docker-registry filesystem store, the server stopped, and what was pushed to it by name."""

    root: Path
    pushed: dict[str, OciLayout]


def write_source_store(work_dir: Path, images: dict[str, OciLayout]) -> SourceStore:
    """Start Debian's docker-registry, push `images` (reference: layout) with skopeo, stop it."""
    server = start_reference(work_dir)
    try:
        for reference, layout in images.items():
            skopeo(
                "copy",
                "--all",
                "--dest-tls-verify=false",
                layout.reference,
                f"docker://127.0.0.1:{server.port}/{reference}",
            )
    finally:
        server.stop()
    return SourceStore(work_dir / "reference-storage", images)


@pytest.fixture(scope="module")
def source_store(tmp_path_factory: pytest.TempPathFactory) -> SourceStore:
    images = tmp_path_factory.mktemp("images")
    app = build_image(images / "app", tag="v1", layer_sizes=(64 * 1024, 6 * MIB + 3))
    return write_source_store(
        tmp_path_factory.mktemp("source"),
        {
            "moving-in/app:v1": app,
            "moving-in/app:latest": app,
            "moving-in/tools:multi": build_index(images / "tools", tag="multi"),
            "solo:1.0": build_image(images / "solo", tag="1.0"),
        },
    )


def import_registry(registry: LiveRegistry, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "importregistry", *arguments],
        cwd=REPO_ROOT,
        env=registry.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def pull(registry: LiveRegistry, reference: str, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--retry-times=0",
            "--src-tls-verify=false",
            f"--src-creds={registry.admin_creds}",
            f"docker://{registry.host}/{reference}",
            f"oci:{target}:pulled",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def pulled_into(folder: Path, reference: str) -> Path:
    """An OCI layout folder for a pull of `reference` (skopeo's `oci:` takes no `:` in the path)."""
    return folder / reference.replace("/", "-").replace(":", "-")


def assert_pulls_as_pushed(registry: LiveRegistry, reference: str, pushed: OciLayout, target: Path) -> None:
    pulled = pull(registry, reference, target)
    assert pulled.returncode == 0, pulled.stderr
    [entry] = json.loads((target / "index.json").read_text())["manifests"]
    assert entry["digest"] == pushed.manifest.digest
    for layer in pushed.layers:
        assert layout_blob(target, layer.digest) == layout_blob(pushed.path, layer.digest)


def test_a_docker_registry_store_is_imported_and_every_image_pulls_with_its_digests(
    live_registry: LiveRegistry, source_store: SourceStore, tmp_path: Path
) -> None:
    imported = import_registry(live_registry, str(source_store.root))

    assert imported.returncode == 0, imported.stderr
    # app: config and 2 layers; tools: 2 configs and 2 layers; solo: config and 2 layers.
    assert "imported 3 repositories (2 new projects: moving-in, solo)" in imported.stdout
    assert "10 blobs copied" in imported.stdout
    # app, tools' index and its 2 children, solo; and 4 tags.
    assert "5 manifests imported, 0 already here; 4 tags imported, 0 already here" in imported.stdout
    assert "moving-in/tools: blob 4/4" in imported.stderr
    for reference, pushed in source_store.pushed.items():
        assert_pulls_as_pushed(live_registry, reference, pushed, pulled_into(tmp_path, reference))

    again = import_registry(live_registry, str(source_store.root))

    assert again.returncode == 0, again.stderr
    assert "0 new projects" in again.stdout
    assert "0 blobs copied (0.0 MiB), 10 already here" in again.stdout
    assert "0 manifests imported, 5 already here; 0 tags imported, 4 already here" in again.stdout


def test_a_corrupt_blob_is_reported_and_neither_it_nor_its_image_is_imported(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    good = build_image(tmp_path / "good", tag="v1")
    bad = build_image(tmp_path / "bad", tag="v1")
    source = write_source_store(tmp_path / "source", {"good:v1": good, "bad:v1": bad})
    corrupt = bad.layers[1].digest.split(":")[1]
    data = source.root / "docker/registry/v2/blobs/sha256" / corrupt[:2] / corrupt / "data"
    content = bytearray(data.read_bytes())
    content[100] ^= 0xFF
    data.write_bytes(bytes(content))

    imported = import_registry(live_registry, str(source.root), "--project", "corrupt-source")

    assert imported.returncode == 1
    assert f"problem: bad: corrupt blob sha256:{corrupt} ({data} hashes to sha256:" in imported.stderr
    assert "problem: bad:v1: not imported" in imported.stderr
    assert "3 problems (above)" in imported.stderr
    assert_pulls_as_pushed(live_registry, "corrupt-source/good:v1", good, tmp_path / "good-pulled")
    assert pull(live_registry, "corrupt-source/bad:v1", tmp_path / "bad-pulled").returncode != 0
    head = requests.head(
        f"{live_registry.url}/v2/corrupt-source/bad/blobs/sha256:{corrupt}",
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert head.status_code == 404
    assert not (live_registry.storage_root / "layout-v1/blobs/sha256" / corrupt[:2] / corrupt).exists()


@pytest.fixture(scope="module")
def s3_registry(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    with serving_registry(
        tmp_path_factory.mktemp("s3-import"),
        f"{E2E_DATABASE}_s3_import",
        REGISTRY_STORAGE="s3",
        REGISTRY_S3_BUCKET=S3_BUCKET,
        REGISTRY_S3_PREFIX=S3_PREFIX,
        **seaweedfs.environment,
    ) as registry:
        yield registry


def test_a_docker_registry_store_is_imported_into_a_bucket(
    s3_registry: LiveRegistry, seaweedfs: SeaweedFS, source_store: SourceStore, tmp_path: Path
) -> None:
    imported = import_registry(s3_registry, str(source_store.root), "--project", "from-s3")

    assert imported.returncode == 0, imported.stderr
    assert "imported 3 repositories (1 new projects: from-s3)" in imported.stdout
    stored = seaweedfs.objects(S3_BUCKET, f"{S3_PREFIX}/layout-v1/")
    for pushed in source_store.pushed.values():
        for layer in pushed.layers:
            assert stored[f"{S3_PREFIX}/layout-v1/{blob_key(layer.digest)}"] == layer.size
    for reference, pushed in source_store.pushed.items():
        assert_pulls_as_pushed(s3_registry, f"from-s3/{reference}", pushed, pulled_into(tmp_path, reference))
