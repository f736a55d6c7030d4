"""Tag immutability as skopeo and docker users meet it: once a project admin makes `v*.*.*` immutable
(through the management API), a push that would move `v1.2.0` to another image is refused with
the rule's name, and so is `skopeo delete`; the tag still pulls the first image."""

import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import Docker, LiveRegistry
from tests.e2e.images import build_image


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)


def test_an_immutable_tag_is_neither_moved_by_a_push_nor_deleted(live_registry: LiveRegistry, tmp_path: Path) -> None:
    admin = live_registry.admin_credentials
    created = requests.post(f"{live_registry.url}/api/v1/projects/", json={"name": "frozen"}, auth=admin, timeout=10)
    assert created.status_code == 201, created.text
    rule = requests.post(
        f"{live_registry.url}/api/v1/projects/frozen/immutable-tags/",
        json={"repositories": "**", "tags": "v*.*.*"},
        auth=admin,
        timeout=10,
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    destination = f"docker://{live_registry.host}/frozen/app:v1.2.0"
    creds = f"--dest-creds={live_registry.admin_creds}"
    first = build_image(tmp_path / "first", tag="v1.2.0", layer_sizes=(4096,))
    second = build_image(tmp_path / "second", tag="v1.2.0", layer_sizes=(4096,))

    pushed = skopeo("copy", "--retry-times=0", "--dest-tls-verify=false", creds, first.reference, destination)
    assert pushed.returncode == 0, pushed.stderr
    again = skopeo("copy", "--retry-times=0", "--dest-tls-verify=false", creds, first.reference, destination)
    assert again.returncode == 0, again.stderr

    moved = skopeo("copy", "--retry-times=0", "--dest-tls-verify=false", creds, second.reference, destination)

    assert moved.returncode != 0
    message = f"tag v1.2.0 is immutable (rule {rule_id}: repositories **, tags v*.*.*)"
    assert f"denied: {message}" in moved.stderr, moved.stderr
    deleted = skopeo(
        "delete", "--retry-times=0", "--tls-verify=false", f"--creds={live_registry.admin_creds}", destination
    )
    assert deleted.returncode != 0
    # skopeo delete prints the error body as it came, quoted.
    assert message in deleted.stderr and "DENIED" in deleted.stderr and "403 Forbidden" in deleted.stderr
    inspected = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"--creds={live_registry.admin_creds}", destination],
        capture_output=True,
        timeout=60,
        check=True,
    )
    algorithm, hex_digest = first.manifest.digest.split(":")
    assert inspected.stdout == (first.path / "blobs" / algorithm / hex_digest).read_bytes()


def load_into(dockerd: Docker, tmp_path: Path, name: str, reference: str) -> None:
    """An image of random layers, loaded into dockerd offline under `reference`."""
    layout = build_image(tmp_path / name, tag="v1", layer_sizes=(4096,))
    archive = tmp_path / f"{name}.tar"
    subprocess.run(["skopeo", "copy", "--quiet", layout.reference, f"docker-archive:{archive}:{reference}"], check=True)
    dockerd.run("load", "--input", str(archive))


def test_docker_push_cannot_move_an_immutable_tag(live_registry: LiveRegistry, dockerd: Docker, tmp_path: Path) -> None:
    admin = live_registry.admin_credentials
    created = requests.post(
        f"{live_registry.url}/api/v1/projects/", json={"name": "frozen-docker"}, auth=admin, timeout=10
    )
    assert created.status_code == 201, created.text
    rule = requests.post(
        f"{live_registry.url}/api/v1/projects/frozen-docker/immutable-tags/",
        json={"tags": "v*"},
        auth=admin,
        timeout=10,
    )
    assert rule.status_code == 201, rule.text
    reference = f"{live_registry.host}/frozen-docker/app:v1.0.0"
    load_into(dockerd, tmp_path, "first", reference)
    dockerd.run("push", reference)
    load_into(dockerd, tmp_path, "second", reference)

    refused = dockerd.try_run("push", reference)

    assert refused.returncode != 0
    message = f"tag v1.0.0 is immutable (rule {rule.json()['id']}: repositories **, tags v*)"
    assert f"denied: {message}" in refused.stderr + refused.stdout, refused.stderr
