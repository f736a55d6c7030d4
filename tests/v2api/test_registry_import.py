"""The import service on stores laid out as registry:2 keeps them (written here file by file; the e2e
test imports one that docker-registry wrote): a tag moved in the old registry moves on the next
run, a project's quota stops what does not fit, and a schema 1 manifest is reported."""

import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.models import Project
from oci.digests import Digest
from v2api.models import Blob, Tag
from v2api.services.registry_import import ImportSummary, import_registry
from v2api.services.uploads import upload_blob
from v2api.storage.distribution_layout import DistributionStore

V2 = Path("docker/registry/v2")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

pytestmark = pytest.mark.django_db


class RegistryStore:
    """A registry:2 filesystem store, written as docker-registry writes one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / V2 / "blobs").mkdir(parents=True)
        (root / V2 / "repositories").mkdir()

    def blob(self, content: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        data = self.root / V2 / "blobs/sha256" / digest[7:9] / digest[7:] / "data"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(content)
        return {"digest": digest, "size": len(content)}

    def _link(self, path: Path, digest: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(digest))

    def push(self, repository: str, tag: str, layer: bytes) -> str:
        """An image of one layer, tagged; returns the manifest's digest."""
        folder = self.root / V2 / "repositories" / repository
        layer_descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **self.blob(layer)}
        config = {"mediaType": "application/vnd.oci.image.config.v1+json", **self.blob(b'{"os": "linux"}')}
        for descriptor in (layer_descriptor, config):
            self._link(folder / "_layers/sha256" / str(descriptor["digest"])[7:] / "link", descriptor["digest"])
        return self.put_manifest(
            repository,
            tag,
            json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer_descriptor]}),
        )

    def put_manifest(self, repository: str, tag: str, manifest: str) -> str:
        folder = self.root / V2 / "repositories" / repository / "_manifests"
        digest = str(self.blob(manifest.encode())["digest"])
        self._link(folder / "revisions/sha256" / digest[7:] / "link", digest)
        self._link(folder / "tags" / tag / "current/link", digest)
        return digest


def run_import(root: Path) -> ImportSummary:
    return import_registry(DistributionStore(root), None, lambda progress: None)


def tagged(repository: str, tag: str) -> str:
    return Tag.objects.select_related("manifest").get(repository__name=repository, name=tag).manifest.digest


def test_a_tag_moved_in_the_old_registry_moves_here_on_the_next_run(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path)
    first = store.push("team/app", "latest", b"first layer")
    assert run_import(tmp_path).problems == []
    second = store.push("team/app", "latest", b"second layer")

    summary = run_import(tmp_path)

    assert summary.problems == []
    assert (summary.manifests_imported, summary.manifests_present, summary.tags_imported) == (1, 1, 1)
    assert tagged("team/app", "latest") == second != first


def test_what_a_projects_quota_cannot_hold_is_reported_and_the_rest_imported(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path)
    store.push("team/small", "v1", b"s" * 100)
    big_layer = b"b" * 10_000
    store.push("team/big", "v1", big_layer)
    Project.objects.create(name="team", quota_bytes=1_000)

    summary = run_import(tmp_path)

    big = Digest.of_bytes(big_layer)
    assert f"team/big: blob {big} not imported: quota exceeded" in " ".join(summary.problems)
    assert "team/big:v1: not imported" in " ".join(summary.problems)
    assert tagged("team/small", "v1")
    assert not Blob.objects.filter(digest=str(big)).exists()


def test_a_schema_1_manifest_is_reported_and_the_other_images_imported(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path)
    store.push("app", "v2", b"layer")
    old = store.put_manifest(
        "app",
        "v1",
        json.dumps({"schemaVersion": 1, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}),
    )

    summary = run_import(tmp_path)

    assert f"app@{old}: manifest not imported: Docker schema 1 manifests are not accepted" in summary.problems[0]
    assert summary.problems[1] == f"app:v1: not imported, its manifest {old} was not"
    assert tagged("app", "v2")
    assert summary.projects_created == ["app"]


def pullable(repository: str, digest: str) -> bool:
    return Blob.objects.filter(digest=digest, repository_links__repository__name=repository).exists()


def test_a_blob_file_linked_outside_the_store_is_not_read(tmp_path: Path) -> None:
    """A store handed over by another team may hold symbolic links: the registry's own files
    (its signing keys, another store's blobs), or /dev/zero, which would be read for ever."""
    store = RegistryStore(tmp_path / "store")
    layer = b"bytes of a file the store does not own"
    outside = tmp_path / "elsewhere"
    outside.write_bytes(layer)
    store.push("team/app", "v1", layer)
    data = tmp_path / "store" / V2 / "blobs/sha256" / hashlib.sha256(layer).hexdigest()[:2]
    data = data / hashlib.sha256(layer).hexdigest() / "data"
    data.unlink()
    data.symlink_to(outside)

    summary = run_import(tmp_path / "store")

    digest = str(Digest.of_bytes(layer))
    assert f"team/app: blob {digest} not imported: {data} leads out of the store, to {outside}" in summary.problems
    assert not Blob.objects.filter(digest=digest).exists()
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_a_link_file_linked_outside_the_store_is_reported(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path / "store")
    digest = store.push("team/app", "v1", b"layer")
    outside = tmp_path / "elsewhere"
    outside.write_text(digest)
    current = tmp_path / "store" / V2 / "repositories/team/app/_manifests/tags/v1/current/link"
    current.unlink()
    current.symlink_to(outside)

    summary = run_import(tmp_path / "store")

    assert summary.problems == [f"team/app: {current} names no digest; skipped"]
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_a_blob_of_another_project_is_not_linked_for_a_manifest_that_only_names_it(tmp_path: Path) -> None:
    """A private layer's digest is no secret (it is in every manifest that uses it): a store that
    names it without holding its bytes must not get it linked into a repository of its own."""
    private_layer = b"a layer only the secret project may pull"
    private = Digest.of_bytes(private_layer)
    Project.objects.create(name="secret")
    upload_blob("secret/base", private, [private_layer])
    store = RegistryStore(tmp_path)
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", **store.blob(b'{"os": "linux"}')}
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": str(private),
        "size": len(private_layer),
    }
    store.put_manifest(
        "team/app",
        "v1",
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}),
    )

    summary = run_import(tmp_path)

    assert f"team/app: blob {private} is missing from the source; skipped" in summary.problems
    assert not pullable("team/app", str(private))
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_a_blob_of_another_project_is_linked_when_the_source_holds_the_same_bytes(tmp_path: Path) -> None:
    layer = b"a base layer both registries hold"
    Project.objects.create(name="secret")
    upload_blob("secret/base", Digest.of_bytes(layer), [layer])
    store = RegistryStore(tmp_path)
    store.push("team/app", "v1", layer)

    summary = run_import(tmp_path)

    assert summary.problems == []
    assert summary.blobs_present == 1
    assert pullable("team/app", str(Digest.of_bytes(layer)))
    assert tagged("team/app", "v1")


def test_a_blob_file_linked_to_this_registrys_own_copy_of_a_private_layer_is_not_read(
    tmp_path: Path, storage_root: Path
) -> None:
    """What the rule against links out of the store is for: this registry's own file of a
    private layer hashes to its digest, as the source's own bytes would."""
    private_layer = b"a layer only the secret project may pull"
    private = Digest.of_bytes(private_layer)
    Project.objects.create(name="secret")
    upload_blob("secret/base", private, [private_layer])
    store = RegistryStore(tmp_path / "store")
    store.push("team/app", "v1", private_layer)
    data = tmp_path / "store" / V2 / "blobs/sha256" / private.hex[:2] / private.hex / "data"
    data.unlink()
    (ours,) = storage_root.rglob(private.hex)
    data.symlink_to(ours)

    summary = run_import(tmp_path / "store")

    assert f"team/app: blob {private} not imported: {data} leads out of the store" in " ".join(summary.problems)
    assert not pullable("team/app", str(private))


def test_a_blob_of_another_project_is_not_linked_for_a_source_file_of_other_bytes(tmp_path: Path) -> None:
    private_layer = b"a layer only the secret project may pull"
    private = Digest.of_bytes(private_layer)
    Project.objects.create(name="secret")
    upload_blob("secret/base", private, [private_layer])
    store = RegistryStore(tmp_path)
    store.push("team/app", "v1", private_layer)
    data = tmp_path / V2 / "blobs/sha256" / private.hex[:2] / private.hex / "data"
    data.write_bytes(b"other bytes under the private layer's digest")

    summary = run_import(tmp_path)

    assert f"team/app: corrupt blob {private}" in " ".join(summary.problems)
    assert not pullable("team/app", str(private))
    assert not Tag.objects.filter(repository__name="team/app", name="v1").exists()


def test_the_manifests_of_a_repository_are_not_all_held_in_memory_at_once(tmp_path: Path) -> None:
    """A repository of the plain registry keeps every revision ever pushed, and a store from
    elsewhere may hold thousands of manifests as large as this registry allows: the import holds
    one at a time (here 32 of 1 MiB each, all at once before)."""
    store = RegistryStore(tmp_path)
    store.push("team/app", "base", b"layer")
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", **store.blob(b'{"os": "linux"}')}
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **store.blob(b"layer")}
    for number in range(32):
        store.put_manifest(
            "team/app",
            f"v{number}",
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": config,
                    "layers": [layer],
                    "annotations": {"padding": f"{number}" + "x" * 1024 * 1024},
                }
            ),
        )

    tracemalloc.start()
    try:
        summary = run_import(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary.problems == []
    assert summary.manifests_imported == 33
    assert peak < 20 * 1024 * 1024, f"{peak / 1024 / 1024:.1f} MiB"


class CountingReads(DistributionStore):
    """The store as the import reads it, counting the reads of each blob's bytes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads: dict[Digest, int] = {}

    def blob_chunks(self, digest: Digest) -> Iterator[bytes]:
        self.reads[digest] = self.reads.get(digest, 0) + 1
        return super().blob_chunks(digest)


def test_a_layer_shared_by_many_repositories_of_the_store_is_read_once(tmp_path: Path) -> None:
    """A base layer under every repository of the old registry: once its bytes came from the
    source, the other repositories link it without reading it again."""
    store = RegistryStore(tmp_path)
    base = b"a base layer every team builds on"
    for team in ("team-a", "team-b", "team-c"):
        store.push(f"{team}/app", "v1", base)
    source = CountingReads(tmp_path)

    summary = import_registry(source, None, lambda progress: None)

    assert summary.problems == []
    assert summary.tags_imported == 3
    assert source.reads[Digest.of_bytes(base)] == 1
