"""Transparent mirror mode as docker and containerd use it: our registry set as docker's
`registry-mirrors`, and containerd's `hosts.toml` request pattern (no project in the path, a
`?ns=docker.io` parameter), pulling an image the upstream (Debian's docker-registry) holds as
`library/hello` through the proxy project REGISTRY_MIRROR_PROJECT names."""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks.servers import Server, start_reference
from tests.dockerd import running_dockerd
from tests.e2e.conftest import LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image
from tests.e2e.test_docker import GREETING
from tests.e2e.test_proxy_cache import push_upstream

MIRROR = "hub"


@pytest.fixture(scope="module")
def mirror_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    with serving_registry(
        tmp_path_factory.mktemp("mirror-registry"),
        f"harbor_lite_mirror_e2e_{os.getpid()}",
        REGISTRY_MIRROR_PROJECT=MIRROR,
    ) as registry:
        yield registry


@pytest.fixture(scope="module")
def mirror_upstream(mirror_registry: LiveRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The upstream, and the public mirror project bound to it."""
    server = start_reference(tmp_path_factory.mktemp("mirror-upstream"))
    try:
        created = requests.post(
            f"{mirror_registry.url}/api/v1/projects/",
            json={"name": MIRROR, "public": True, "proxy_url": f"http://127.0.0.1:{server.port}"},
            auth=mirror_registry.admin_credentials,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        yield server
    finally:
        server.stop()


def upstream_image(upstream: Server, tmp_path: Path, name: str) -> OciLayout:
    """An image that runs, pushed upstream as `library/<name>:v1`, as Docker Hub names its own."""
    image = build_image(tmp_path / name, tag="v1", runnable=True)
    push_upstream(upstream, image, f"library/{name}:v1")
    return image


def cached_tags(registry: LiveRegistry, name: str) -> list[str]:
    answer = requests.get(f"{registry.url}/v2/{name}/tags/list", auth=registry.admin_credentials, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["tags"] or [])


def test_docker_with_our_registry_as_its_mirror_pulls_a_docker_hub_name_through_it(
    mirror_registry: LiveRegistry, mirror_upstream: Server, tmp_path: Path
) -> None:
    hello = upstream_image(mirror_upstream, tmp_path, "hello")

    with running_dockerd(f"--registry-mirror={mirror_registry.url}") as docker:
        pulled = docker.run("pull", "hello:v1")
        greeting = docker.run("run", "--rm", "--network", "none", "hello:v1").strip()

    assert f"Digest: {hello.manifest.digest}" in pulled
    assert greeting == GREETING
    assert cached_tags(mirror_registry, f"{MIRROR}/library/hello") == ["v1"]


def test_containerds_request_pattern_pulls_through_the_mirror(
    mirror_registry: LiveRegistry, mirror_upstream: Server, tmp_path: Path
) -> None:
    """What containerd sends for `docker.io/library/greeter:v1` with a hosts.toml naming us and no
    credentials: the name as on Docker Hub, with `?ns=docker.io` on every request."""
    greeter = upstream_image(mirror_upstream, tmp_path, "greeter")
    below = f"{mirror_registry.url}/v2/library/greeter"

    head = requests.head(
        f"{below}/manifests/v1?ns=docker.io", headers={"Accept": greeter.manifest.media_type}, timeout=60
    )
    manifest = requests.get(
        f"{below}/manifests/{greeter.manifest.digest}?ns=docker.io",
        headers={"Accept": greeter.manifest.media_type},
        timeout=60,
    )
    layers = [requests.get(f"{below}/blobs/{layer.digest}?ns=docker.io", timeout=60) for layer in greeter.layers]

    assert (head.status_code, head.headers["Docker-Content-Digest"]) == (200, greeter.manifest.digest)
    assert manifest.status_code == 200
    assert [hashlib.sha256(layer.content).hexdigest() for layer in layers] == [
        layer.digest.removeprefix("sha256:") for layer in greeter.layers
    ]
    assert cached_tags(mirror_registry, f"{MIRROR}/library/greeter") == ["v1"]
