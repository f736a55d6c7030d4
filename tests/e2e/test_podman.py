"""podman 4.3 against the live registry: push, pull, a new tag, a second repository, search, manifest lists.

podman keeps its images in a vfs store of its own under a short /tmp directory; images reach it
offline from an OCI layout through skopeo's `containers-storage:` transport.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.access_log import AccessLog, LoggedRequest
from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import build_image

REPOSITORY = "podman-e2e/hello"
LARGE_LAYER = 5 * 1024 * 1024
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
INDEX_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
# What containers/image (podman, skopeo, buildah) puts in User-Agent.
CONTAINERS_USER_AGENT = "containers/"


@dataclass
class Podman:
    """podman with its own vfs storage; `run` returns stdout and fails the test on a non-zero exit."""

    root: Path

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def store(self) -> str:
        """skopeo's name for this storage: `containers-storage:[vfs@GRAPHROOT+RUNROOT]`."""
        return f"containers-storage:[vfs@{self.root / 'graph'}+{self.root / 'run'}]"

    @property
    def auth_file(self) -> Path:
        """Where `podman login` keeps the credentials, instead of $XDG_RUNTIME_DIR/containers/auth.json."""
        return self.root / "auth.json"

    def run(self, *arguments: str) -> str:
        completed = subprocess.run(
            ["podman", *arguments],
            env={
                **os.environ,
                "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
                "REGISTRY_AUTH_FILE": str(self.auth_file),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 0, f"podman {' '.join(arguments)} failed:\n{completed.stderr}"
        return completed.stdout

    def login(self, live_registry: LiveRegistry) -> None:
        username, password = live_registry.admin_credentials
        output = self.run("login", "--tls-verify=false", "-u", username, "-p", password, live_registry.host)
        assert "Login Succeeded" in output, output
        assert live_registry.host in json.loads(self.auth_file.read_text())["auths"]


@dataclass(frozen=True)
class PushedImage:
    reference: str
    digest: str
    image_id: str
    log: list[LoggedRequest]


def _new_podman() -> Podman:
    # Short: the run root holds sockets and lock files.
    root = Path(tempfile.mkdtemp(prefix="pm", dir="/tmp"))
    client = Podman(root)
    client.storage_conf.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n'
    )
    return client


@pytest.fixture(scope="module")
def podman(live_registry: LiveRegistry) -> Iterator[Podman]:
    client = _new_podman()
    client.login(live_registry)
    yield client
    shutil.rmtree(client.root)


@pytest.fixture
def another_podman(live_registry: LiveRegistry) -> Iterator[Podman]:
    """A second podman with an empty store and its own login, like another machine pulling."""
    client = _new_podman()
    client.login(live_registry)
    yield client
    shutil.rmtree(client.root)


@pytest.fixture(scope="module")
def pushed_image(podman: Podman, live_registry: LiveRegistry, tmp_path_factory: pytest.TempPathFactory) -> PushedImage:
    """An image loaded offline into podman's store, then `podman push`ed as podman-e2e/hello:v1."""
    # One layer larger than the server's 1 MiB read buffer, so a chunked body is read in several parts.
    layout = build_image(tmp_path_factory.mktemp("podman-layout"), tag="v1", layer_sizes=(64 * 1024, LARGE_LAYER))
    subprocess.run(
        ["skopeo", "copy", "--quiet", layout.reference, f"{podman.store}localhost/e2e/hello:v1"],
        check=True,
        timeout=60,
    )
    image_id = podman.run("image", "inspect", "--format", "{{.Id}}", "localhost/e2e/hello:v1").strip()
    reference = f"{live_registry.host}/{REPOSITORY}:v1"
    digest_file = podman.root / "digest"
    log = AccessLog(live_registry.data_dir / "server.log")
    podman.run("push", "--quiet", "--tls-verify=false", "--digestfile", str(digest_file), image_id, reference)
    requests_logged = log.wait_for(lambda logged: any(_is_manifest_put(request, "v1") for request in logged))
    return PushedImage(reference, digest_file.read_text().strip(), image_id, requests_logged)


def test_podman_pushes_an_image_whose_tag_resolves_to_the_digest_podman_reports(
    live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    digest, _ = registry_manifest(live_registry, REPOSITORY, "v1")

    assert digest == pushed_image.digest
    assert requests.get(
        f"{live_registry.url}/v2/{REPOSITORY}/tags/list", auth=live_registry.admin_credentials, timeout=10
    ).json()["tags"] == ["v1"]


def test_podman_uploads_every_blob_with_a_patch_and_a_put_that_succeed(
    live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    # podman streams each layer in one PATCH with Transfer-Encoding: chunked (no Content-Length; the
    # config goes with a Content-Length). The access log shows no headers, but a 202 and a PUT
    # that checks the digest show that the whole body arrived.
    _, manifest = registry_manifest(live_registry, REPOSITORY, "v1")
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    mine = [request for request in pushed_image.log if request.is_for(REPOSITORY)]

    assert all(request.user_agent.startswith(CONTAINERS_USER_AGENT) for request in mine)
    patches = [request for request in mine if request.method == "PATCH"]
    assert len(patches) == len(blobs)
    assert {request.status for request in patches} == {202}
    finished = {
        request.query["digest"]: request.status for request in mine if request.method == "PUT" and request.query
    }
    assert finished == dict.fromkeys(blobs, 201)
    assert [request.status for request in mine if _is_manifest_put(request, "v1")] == [201]
    for blob in blobs:
        stored = requests.get(
            f"{live_registry.url}/v2/{REPOSITORY}/blobs/{blob}", auth=live_registry.admin_credentials, timeout=10
        )
        assert stored.status_code == 200
        assert "sha256:" + hashlib.sha256(stored.content).hexdigest() == blob


def test_podman_pulls_the_image_back_with_the_same_digest_and_id(
    podman: Podman, live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    podman.run("rmi", "--all", "--force")
    log = AccessLog(live_registry.data_dir / "server.log")

    podman.run("pull", "--quiet", "--tls-verify=false", pushed_image.reference)

    inspected = json.loads(podman.run("image", "inspect", pushed_image.reference))[0]
    assert inspected["Id"] == pushed_image.image_id
    assert inspected["Digest"] == pushed_image.digest
    assert f"{live_registry.host}/{REPOSITORY}@{pushed_image.digest}" in inspected["RepoDigests"]
    pulled = [request for request in log.requests() if request.is_for(REPOSITORY)]
    assert pulled, "podman pulled nothing from the registry"
    assert {request.status for request in pulled} == {200}


def test_podman_pulls_an_image_by_its_digest(
    podman: Podman, live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    by_digest = f"{live_registry.host}/{REPOSITORY}@{pushed_image.digest}"

    podman.run("pull", "--quiet", "--tls-verify=false", by_digest)

    assert podman.run("image", "inspect", "--format", "{{.Id}}", by_digest).strip() == pushed_image.image_id


def test_pushing_a_new_tag_of_the_same_repository_uploads_no_blob_again(
    podman: Podman, live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    log = AccessLog(live_registry.data_dir / "server.log")
    new_tag = f"{live_registry.host}/{REPOSITORY}:v2"

    podman.run("tag", pushed_image.image_id, new_tag)
    podman.run("push", "--quiet", "--tls-verify=false", new_tag)

    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, "v2") for request in logged))
    assert [request.method for request in logged if request.method in ("POST", "PATCH")] == []
    assert requests.get(
        f"{live_registry.url}/v2/{REPOSITORY}/tags/list", auth=live_registry.admin_credentials, timeout=10
    ).json()["tags"] == ["v1", "v2"]
    assert registry_manifest(live_registry, REPOSITORY, "v2")[0] == pushed_image.digest


def test_pushing_to_another_repository_mounts_the_layers_instead_of_uploading_them(
    podman: Podman, live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    # podman learns where a layer lives from its blob-info cache (/var/lib/containers/cache), which
    # the push of podman-e2e/hello filled; it then asks for a cross-repository mount.
    other = "podman-e2e/copy"
    log = AccessLog(live_registry.data_dir / "server.log")
    reference = f"{live_registry.host}/{other}:v1"

    podman.run("tag", pushed_image.image_id, reference)
    podman.run("push", "--quiet", "--tls-verify=false", reference)

    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, "v1", other) for request in logged))
    _, manifest = registry_manifest(live_registry, other, "v1")
    layers = {layer["digest"] for layer in manifest["layers"]}
    mounts = {
        request.query["mount"]: request for request in logged if request.is_for(other) and "mount" in request.query
    }
    assert set(mounts) == layers
    assert {(request.query["from"], request.status) for request in mounts.values()} == {(REPOSITORY, 201)}
    uploaded = {request.query["digest"] for request in logged if request.is_for(other) and "digest" in request.query}
    # Observed: podman never mounts the image config; it uploads it again, which is harmless.
    assert uploaded.isdisjoint(layers)
    assert registry_manifest(live_registry, other, "v1")[0] == pushed_image.digest


def test_podman_search_lists_repositories_from_the_catalog(
    podman: Podman, live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    log = AccessLog(live_registry.data_dir / "server.log")

    found = podman.run("search", "--tls-verify=false", "--format", "{{.Name}}", f"{live_registry.host}/podman-e2e")

    assert f"{live_registry.host}/{REPOSITORY}" in found.split()
    logged = log.wait_for(
        lambda logged: any(request.path == "/v2/_catalog" and request.status == 200 for request in logged)
    )
    catalog = [
        (request.path, request.status, request.query.get("scope"))
        for request in logged
        if request.path in ("/v2/_catalog", "/auth/token")
    ]
    # Observed: podman first fetches a token without a scope (as `podman login` does) and tries the
    # catalog with it; the 401 insufficient_scope challenge names registry:catalog:*, podman asks
    # for that, and the catalog answers once, with 200. Compared as sets of lines: each worker
    # process writes its line after its answer, so two quick requests served by two processes can
    # reach the log in either order.
    assert sorted(catalog, key=str) == sorted(
        [
            ("/auth/token", 200, None),
            ("/v2/_catalog", 401, None),
            ("/auth/token", 200, "registry:catalog:*"),
            ("/v2/_catalog", 200, None),
        ],
        key=str,
    ), logged


def test_podman_pushes_a_manifest_list_that_another_podman_pulls_for_its_platform(
    podman: Podman, another_podman: Podman, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    repository = "podman-e2e/multi"
    podman.run("manifest", "create", "localhost/e2e/multi:v1")
    for architecture in ("amd64", "arm64"):
        layout = build_image(tmp_path / architecture, tag="v1", layer_sizes=(16 * 1024,), architecture=architecture)
        local = f"localhost/e2e/{architecture}:v1"
        subprocess.run(["skopeo", "copy", "--quiet", layout.reference, podman.store + local], check=True, timeout=60)
        podman.run("manifest", "add", "localhost/e2e/multi:v1", f"containers-storage:{local}")
    digest_file = podman.root / "list-digest"
    reference = f"{live_registry.host}/{repository}:v1"
    log = AccessLog(live_registry.data_dir / "server.log")

    podman.run(
        "manifest",
        "push",
        "--quiet",
        "--all",
        "--tls-verify=false",
        f"--digestfile={digest_file}",
        "localhost/e2e/multi:v1",
        f"docker://{reference}",
    )

    digest, index = registry_manifest(live_registry, repository, "v1", INDEX_TYPES)
    assert digest == digest_file.read_text().strip()
    # Observed: podman keeps the list locally as a Docker manifest list but pushes an OCI index.
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    children = {child["platform"]["architecture"]: child["digest"] for child in index["manifests"]}
    assert sorted(children) == ["amd64", "arm64"]
    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, "v1", repository) for request in logged))
    manifest_puts = [
        (request.path.rsplit("/", 1)[1], request.status)
        for request in logged
        if request.method == "PUT" and "/manifests/" in request.path
    ]
    # Every child by digest first, then the index by tag.
    assert sorted(manifest_puts[:2]) == sorted((child, 201) for child in children.values())
    assert manifest_puts[2:] == [("v1", 201)]

    another_podman.run("pull", "--quiet", "--tls-verify=false", "--arch", "arm64", reference)

    inspected = json.loads(another_podman.run("image", "inspect", reference))[0]
    assert inspected["Architecture"] == "arm64"
    assert f"{live_registry.host}/{repository}@{children['arm64']}" in inspected["RepoDigests"]


def registry_manifest(
    live_registry: LiveRegistry, repository: str, reference: str, accept: str = MANIFEST_TYPES
) -> tuple[str, dict[str, Any]]:
    """The digest the registry answers for `reference` and the manifest it serves."""
    response = requests.get(
        f"{live_registry.url}/v2/{repository}/manifests/{reference}",
        headers={"Accept": accept},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"], response.json()


def _is_manifest_put(request: LoggedRequest, tag: str, repository: str = REPOSITORY) -> bool:
    return request.method == "PUT" and request.path == f"/v2/{repository}/manifests/{tag}"
