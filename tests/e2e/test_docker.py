"""The real docker engine (dockerd 20.10, CLI 28) against the live registry: push, pull, run, retag, mount.

dockerd runs as root with vfs storage and no bridge network under a short /tmp directory; an
image reaches it offline as a docker-archive that skopeo writes from an OCI layout. 127.0.0.0/8
is an insecure registry by default, so plain HTTP needs no daemon flag.
"""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.access_log import AccessLog, LoggedRequest
from tests.e2e.conftest import Docker, LiveRegistry
from tests.e2e.images import build_image, build_index

REPOSITORY = "docker-e2e/hello"
LARGE_LAYER = 5 * 1024 * 1024
LOADED = "e2e/hello:v1"
GREETING = "hello from harbor-lite"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_USER_AGENT = "docker/"
_PUSHED_DIGEST = re.compile(r"^v\d+: digest: (sha256:[0-9a-f]{64}) size: \d+$", re.MULTILINE)


@dataclass(frozen=True)
class PushedImage:
    reference: str
    digest: str
    image_id: str
    output: str
    log: list[LoggedRequest]


@pytest.fixture(scope="module")
def loaded_image(dockerd: Docker, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A runnable busybox image loaded into dockerd offline; returns its image id."""
    directory = tmp_path_factory.mktemp("docker-image")
    # One layer larger than the server's 1 MiB read buffer, so a chunked body is read in several
    # parts, and larger than 4 MiB, so its download gives the database connection back first.
    layout = build_image(directory / "layout", tag="v1", layer_sizes=(64 * 1024, LARGE_LAYER), runnable=True)
    archive = directory / "image.tar"
    subprocess.run(
        ["skopeo", "copy", "--quiet", layout.reference, f"docker-archive:{archive}:{LOADED}"], check=True, timeout=60
    )
    assert f"Loaded image: {LOADED}" in dockerd.run("load", "--input", str(archive))
    return dockerd.run("image", "inspect", "--format", "{{.Id}}", LOADED).strip()


@pytest.fixture(scope="module")
def pushed_image(dockerd: Docker, live_registry: LiveRegistry, loaded_image: str) -> PushedImage:
    """The loaded image, `docker push`ed as docker-e2e/hello:v1."""
    reference = f"{live_registry.host}/{REPOSITORY}:v1"
    log = AccessLog(live_registry.data_dir / "server.log")
    dockerd.run("tag", LOADED, reference)
    output = dockerd.run("push", reference)
    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, REPOSITORY, "v1") for request in logged))
    pushed = _PUSHED_DIGEST.search(output)
    assert pushed is not None, output
    return PushedImage(reference, pushed.group(1), loaded_image, output, logged)


@pytest.fixture(scope="module")
def pulled_image(dockerd: Docker, live_registry: LiveRegistry, pushed_image: PushedImage) -> list[LoggedRequest]:
    """Every local copy removed, then `docker pull`ed back; returns the requests docker made."""
    dockerd.run("rmi", "--force", pushed_image.image_id)
    assert dockerd.try_run("image", "inspect", pushed_image.image_id).returncode != 0
    log = AccessLog(live_registry.data_dir / "server.log")
    dockerd.run("pull", pushed_image.reference)
    _, manifest = registry_manifest(live_registry, REPOSITORY, "v1")
    blobs = 1 + len(manifest["layers"])
    logged = log.wait_for(
        lambda logged: sum(request.path.startswith(f"/v2/{REPOSITORY}/blobs/") for request in logged) >= blobs
    )
    return [request for request in logged if request.user_agent.startswith(DOCKER_USER_AGENT)]


def test_docker_pushes_an_image_whose_tag_resolves_to_the_digest_docker_reports(
    live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    digest, manifest = registry_manifest(live_registry, REPOSITORY, "v1")

    assert digest == pushed_image.digest
    # docker pushes what `docker load` stored: a Docker v2 schema 2 manifest, whose config is the image id.
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["digest"] == pushed_image.image_id
    assert requests.get(
        f"{live_registry.url}/v2/{REPOSITORY}/tags/list", auth=live_registry.admin_credentials, timeout=10
    ).json()["tags"] == ["v1"]


def test_docker_uploads_every_blob_with_a_chunked_patch_and_a_put_that_succeed(
    live_registry: LiveRegistry, pushed_image: PushedImage
) -> None:
    # docker streams every blob, the config too, in one PATCH with Transfer-Encoding: chunked and
    # neither Content-Length nor Content-Type; the PUT checks the digest of what arrived.
    _, manifest = registry_manifest(live_registry, REPOSITORY, "v1")
    blobs = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    mine = [request for request in pushed_image.log if request.is_for(REPOSITORY)]

    assert all(request.user_agent.startswith(DOCKER_USER_AGENT) for request in mine)
    patches = [request for request in mine if request.method == "PATCH"]
    assert len(patches) == len(blobs)
    assert {request.status for request in patches} == {202}
    finished = {request.query["digest"]: request.status for request in mine if "digest" in request.query}
    assert finished == dict.fromkeys(blobs, 201)
    assert [request.status for request in mine if _is_manifest_put(request, REPOSITORY, "v1")] == [201]
    assert pushed_image.output.count("Pushed") == len(manifest["layers"])


def test_docker_pulls_the_image_back_with_the_same_id_and_repo_digest(
    dockerd: Docker, live_registry: LiveRegistry, pushed_image: PushedImage, pulled_image: list[LoggedRequest]
) -> None:
    inspected = json.loads(dockerd.run("image", "inspect", pushed_image.reference))[0]

    assert inspected["Id"] == pushed_image.image_id
    assert inspected["RepoDigests"] == [f"{live_registry.host}/{REPOSITORY}@{pushed_image.digest}"]


def test_docker_pull_resolves_the_tag_with_head_then_gets_the_manifest_by_digest(
    pushed_image: PushedImage, pulled_image: list[LoggedRequest]
) -> None:
    manifests = [
        (request.method, request.path.rsplit("/", 1)[1], request.status)
        for request in pulled_image
        if request.path.startswith(f"/v2/{REPOSITORY}/manifests/")
    ]

    assert manifests == [("HEAD", "v1", 200), ("GET", pushed_image.digest, 200)]
    assert {request.status for request in pulled_image if request.is_for(REPOSITORY)} == {200}


def test_the_pulled_image_runs_and_prints_its_greeting(
    dockerd: Docker, pushed_image: PushedImage, pulled_image: list[LoggedRequest]
) -> None:
    output = dockerd.run("run", "--rm", "--network", "none", pushed_image.reference)

    assert output.strip() == GREETING


def test_pushing_a_second_tag_finds_every_layer_already_in_the_repository(
    dockerd: Docker, live_registry: LiveRegistry, pushed_image: PushedImage, pulled_image: list[LoggedRequest]
) -> None:
    reference = f"{live_registry.host}/{REPOSITORY}:v2"
    log = AccessLog(live_registry.data_dir / "server.log")

    dockerd.run("tag", pushed_image.reference, reference)
    output = dockerd.run("push", reference)

    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, REPOSITORY, "v2") for request in logged))
    assert output.count("Layer already exists") == len(registry_manifest(live_registry, REPOSITORY, "v1")[1]["layers"])
    assert [request for request in logged if request.method in ("POST", "PATCH")] == []
    assert f"v2: digest: {pushed_image.digest}" in output
    assert requests.get(
        f"{live_registry.url}/v2/{REPOSITORY}/tags/list", auth=live_registry.admin_credentials, timeout=10
    ).json()["tags"] == ["v1", "v2"]


def test_pushing_to_another_repository_mounts_the_layers_from_the_repository_it_was_pulled_from(
    dockerd: Docker, live_registry: LiveRegistry, pushed_image: PushedImage, pulled_image: list[LoggedRequest]
) -> None:
    other = "docker-e2e/copy"
    reference = f"{live_registry.host}/{other}:v1"
    log = AccessLog(live_registry.data_dir / "server.log")

    dockerd.run("tag", pushed_image.reference, reference)
    output = dockerd.run("push", reference)

    logged = log.wait_for(lambda logged: any(_is_manifest_put(request, other, "v1") for request in logged))
    _, manifest = registry_manifest(live_registry, other, "v1")
    layers = {layer["digest"] for layer in manifest["layers"]}
    assert output.count(f"Mounted from {REPOSITORY}") == len(layers)
    mounts = {
        request.query["mount"]: request for request in logged if request.is_for(other) and "mount" in request.query
    }
    assert set(mounts) == layers
    assert {(request.query["from"], request.status) for request in mounts.values()} == {(REPOSITORY, 201)}
    # Observed: docker never mounts the image config; it uploads it again, which is harmless.
    uploaded = {request.query["digest"] for request in logged if request.is_for(other) and "digest" in request.query}
    assert uploaded.isdisjoint(layers)
    assert f"v1: digest: {pushed_image.digest}" in output


def test_docker_pulls_and_runs_an_oci_image_that_skopeo_pushed(
    dockerd: Docker, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    layout = build_image(tmp_path / "layout", tag="v1", runnable=True)
    reference = f"{live_registry.host}/docker-e2e/from-skopeo:v1"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            layout.reference,
            f"docker://{reference}",
        ],
        check=True,
        timeout=60,
    )

    output = dockerd.run("pull", reference)

    assert f"Digest: {layout.manifest.digest}" in output
    assert dockerd.run("run", "--rm", "--network", "none", reference).strip() == GREETING


def test_docker_pulls_the_child_of_a_multi_arch_index_for_the_platform_it_asks_for(
    dockerd: Docker, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    layout = build_index(tmp_path / "layout", tag="v1", architectures=("amd64", "arm64"))
    reference = f"{live_registry.host}/docker-e2e/multi:v1"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--all",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            layout.reference,
            f"docker://{reference}",
        ],
        check=True,
        timeout=60,
    )

    amd64 = dockerd.run("pull", "--platform", "linux/amd64", reference)
    amd64_image = json.loads(dockerd.run("image", "inspect", reference))[0]
    arm64 = dockerd.run("pull", "--platform", "linux/arm64", reference)
    arm64_image = json.loads(dockerd.run("image", "inspect", reference))[0]

    # The digest docker reports is the index's, whichever child it took.
    assert f"Digest: {layout.manifest.digest}" in amd64
    assert f"Digest: {layout.manifest.digest}" in arm64
    assert (amd64_image["Architecture"], arm64_image["Architecture"]) == ("amd64", "arm64")
    # Observed: docker records the index digest on the first image pulled only; the arm64 image,
    # pulled second under the same tag, lists no RepoDigests.
    assert amd64_image["RepoDigests"] == [f"{live_registry.host}/docker-e2e/multi@{layout.manifest.digest}"]


def registry_manifest(live_registry: LiveRegistry, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
    """The digest the registry answers for `reference` and the manifest it serves."""
    response = requests.get(
        f"{live_registry.url}/v2/{repository}/manifests/{reference}",
        headers={"Accept": DOCKER_MANIFEST},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"], response.json()


def _is_manifest_put(request: LoggedRequest, repository: str, tag: str) -> bool:
    return request.method == "PUT" and request.path == f"/v2/{repository}/manifests/{tag}"
