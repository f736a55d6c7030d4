"""skopeo against the live registry: copies in and out, multi-arch, inspect, tags, delete, mounts."""

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import OCI_INDEX, OCI_MANIFEST, OciLayout, build_image, build_index

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

# skopeo and podman remember in which repositories they pushed or pulled each blob, and mount
# only from those; an old cache names repositories of earlier sessions (CLIENTS.md).
BLOB_INFO_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
ACCESS_LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def skopeo(*arguments: str) -> str:
    completed = subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, f"skopeo {' '.join(arguments)} failed:\n{completed.stderr}"
    return completed.stdout


def push(live_registry: LiveRegistry, layout: OciLayout, destination: str, *options: str) -> None:
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds={live_registry.admin_creds}",
        *options,
        layout.reference,
        destination,
    )


def registry_options(live_registry: LiveRegistry) -> tuple[str, str]:
    """What inspect, list-tags and delete need to reach the registry as the administrator."""
    return "--tls-verify=false", f"--creds={live_registry.admin_creds}"


def copy_within(live_registry: LiveRegistry, command: str, *arguments: str) -> str:
    """`skopeo copy` (or `sync`) from the registry to itself, logged in on both sides."""
    return skopeo(
        command,
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"--src-creds={live_registry.admin_creds}",
        f"--dest-creds={live_registry.admin_creds}",
        *arguments,
    )


def layout_manifest(path: Path) -> tuple[str, bytes]:
    """The digest and bytes of the manifest an OCI layout's index.json tags (a single entry)."""
    index = json.loads((path / "index.json").read_text())
    [entry] = index["manifests"]
    return entry["digest"], layout_blob(path, entry["digest"])


def layout_blob(path: Path, digest: str) -> bytes:
    algorithm, hex_digest = digest.split(":", 1)
    return (path / "blobs" / algorithm / hex_digest).read_bytes()


def access_log(live_registry: LiveRegistry, since: int) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request logged after byte offset `since` of the server log."""
    with open(live_registry.data_dir / "server.log", "rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    return [
        (match["method"], match["path"], int(match["status"]))
        for match in map(ACCESS_LOG_LINE.search, text.splitlines())
        if match is not None
    ]


def query_parameter(path: str, name: str) -> str:
    return parse_qs(urlsplit(path).query).get(name, [""])[0]


def image_config_digest(image: OciLayout) -> str:
    return str(json.loads(layout_blob(image.path, image.manifest.digest))["config"]["digest"])


def log_size(live_registry: LiveRegistry) -> int:
    return (live_registry.data_dir / "server.log").stat().st_size


def test_an_image_copied_in_and_back_out_keeps_its_manifest_and_layers(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "source", tag="v1")
    push(live_registry, image, f"docker://{live_registry.host}/skopeo/round-trip:v1")

    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"--src-creds={live_registry.admin_creds}",
        f"docker://{live_registry.host}/skopeo/round-trip:v1",
        f"oci:{tmp_path / 'pulled'}:v1",
    )

    digest, content = layout_manifest(tmp_path / "pulled")
    assert digest == image.manifest.digest
    assert content == layout_blob(image.path, image.manifest.digest)
    pulled_manifest = json.loads(content)
    assert [layer["digest"] for layer in pulled_manifest["layers"]] == [layer.digest for layer in image.layers]
    for blob in [pulled_manifest["config"], *pulled_manifest["layers"]]:
        assert layout_blob(tmp_path / "pulled", blob["digest"]) == layout_blob(image.path, blob["digest"])


def test_copy_all_pushes_a_multi_arch_index_with_every_child_and_pulls_it_back(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    index = build_index(tmp_path / "source", tag="multi", architectures=("amd64", "arm64", "s390x"))
    repository = f"{live_registry.url}/v2/skopeo/multi-arch"
    push(live_registry, index, f"docker://{live_registry.host}/skopeo/multi-arch:multi", "--all")

    pushed = requests.get(
        f"{repository}/manifests/multi", headers={"Accept": OCI_INDEX}, auth=live_registry.admin_credentials, timeout=10
    )
    assert pushed.status_code == 200
    assert pushed.headers["Content-Type"] == OCI_INDEX
    assert pushed.headers["Docker-Content-Digest"] == index.manifest.digest
    assert pushed.content == layout_blob(index.path, index.manifest.digest)
    children = json.loads(pushed.content)["manifests"]
    assert [child["platform"]["architecture"] for child in children] == ["amd64", "arm64", "s390x"]
    for child in children:
        response = requests.get(
            f"{repository}/manifests/{child['digest']}",
            headers={"Accept": OCI_MANIFEST},
            auth=live_registry.admin_credentials,
            timeout=10,
        )
        assert response.status_code == 200
        assert response.content == layout_blob(index.path, child["digest"])

    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        f"--src-creds={live_registry.admin_creds}",
        f"docker://{live_registry.host}/skopeo/multi-arch:multi",
        f"oci:{tmp_path / 'pulled'}:multi",
    )

    digest, _ = layout_manifest(tmp_path / "pulled")
    assert digest == index.manifest.digest
    for child in children:
        child_manifest = json.loads(layout_blob(tmp_path / "pulled", child["digest"]))
        for blob in [child_manifest["config"], *child_manifest["layers"]]:
            assert layout_blob(tmp_path / "pulled", blob["digest"]) == layout_blob(index.path, blob["digest"])


def test_inspect_reports_the_digest_and_bytes_that_were_pushed(live_registry: LiveRegistry, tmp_path: Path) -> None:
    image = build_image(tmp_path / "source", tag="v1", architecture="arm64")
    reference = f"docker://{live_registry.host}/skopeo/inspected:v1"
    push(live_registry, image, reference)

    inspected = json.loads(skopeo("inspect", *registry_options(live_registry), reference))
    raw = skopeo("inspect", *registry_options(live_registry), "--raw", reference)

    assert inspected["Digest"] == image.manifest.digest
    assert inspected["Architecture"] == "arm64"
    assert inspected["RepoTags"] == ["v1"]
    assert inspected["Layers"] == [layer.digest for layer in image.layers]
    assert raw.encode() == layout_blob(image.path, image.manifest.digest)


def test_list_tags_shows_every_tag_of_the_repository(live_registry: LiveRegistry, tmp_path: Path) -> None:
    first = build_image(tmp_path / "first", tag="v1")
    second = build_image(tmp_path / "second", tag="v2")
    push(live_registry, first, f"docker://{live_registry.host}/skopeo/tagged:v1")
    push(live_registry, second, f"docker://{live_registry.host}/skopeo/tagged:v2")
    copy_within(
        live_registry,
        "copy",
        f"docker://{live_registry.host}/skopeo/tagged:v2",
        f"docker://{live_registry.host}/skopeo/tagged:latest",
    )

    listed = json.loads(
        skopeo("list-tags", *registry_options(live_registry), f"docker://{live_registry.host}/skopeo/tagged")
    )

    assert listed["Repository"] == f"{live_registry.host}/skopeo/tagged"
    assert sorted(listed["Tags"]) == ["latest", "v1", "v2"]


def test_delete_by_tag_removes_the_manifest_and_every_tag_on_it(live_registry: LiveRegistry, tmp_path: Path) -> None:
    image = build_image(tmp_path / "source", tag="v1")
    for tag in ("v1", "stable"):
        push(live_registry, image, f"docker://{live_registry.host}/skopeo/deleted:{tag}")

    skopeo("delete", *registry_options(live_registry), f"docker://{live_registry.host}/skopeo/deleted:v1")

    repository = f"{live_registry.url}/v2/skopeo/deleted"
    for reference in ("v1", "stable", image.manifest.digest):
        response = requests.get(
            f"{repository}/manifests/{reference}",
            headers={"Accept": OCI_MANIFEST},
            auth=live_registry.admin_credentials,
            timeout=10,
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    tags = requests.get(f"{repository}/tags/list", auth=live_registry.admin_credentials, timeout=10)
    assert tags.status_code == 200
    assert tags.json() == {"name": "skopeo/deleted", "tags": []}
    listed = json.loads(
        skopeo("list-tags", *registry_options(live_registry), f"docker://{live_registry.host}/skopeo/deleted")
    )
    assert not listed["Tags"]


def test_copy_between_repositories_mounts_every_blob_instead_of_uploading_it(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "source", tag="v1", layer_sizes=(512 * 1024, 1024 * 1024, 64 * 1024))
    BLOB_INFO_CACHE.unlink(missing_ok=True)
    # The push records where the blobs live; a cache removed after it would leave skopeo
    # nothing to mount from (it learns of the source only as it downloads, too late).
    push(live_registry, image, f"docker://{live_registry.host}/skopeo/mount-source:v1")
    since = log_size(live_registry)

    copy_within(
        live_registry,
        "copy",
        f"docker://{live_registry.host}/skopeo/mount-source:v1",
        f"docker://{live_registry.host}/skopeo/mount-target:v1",
    )

    requests_seen = access_log(live_registry, since)
    uploads_path = "/v2/skopeo/mount-target/blobs/uploads/"
    # A list, not a dict: a mount first refused (401 for want of a token) and then retried would
    # show twice. skopeo asks the token service first, so the registry never challenges it here.
    mounted = [
        (query_parameter(path, "mount"), status)
        for method, path, status in requests_seen
        if method == "POST" and path.startswith(uploads_path) and query_parameter(path, "mount")
    ]
    assert sorted(mounted) == sorted((layer.digest, 201) for layer in image.layers), requests_seen
    assert [path for _, path, status in requests_seen if status == 401 and path != "/v2/"] == [], requests_seen
    assert all(
        query_parameter(path, "from") == "skopeo/mount-source" for _, path, _ in requests_seen if "mount=" in path
    )
    # skopeo copies the config through a plain upload, never a mount: only it may be sent again.
    uploaded = [
        query_parameter(path, "digest")
        for method, path, _ in requests_seen
        if method == "PUT" and path.startswith(uploads_path)
    ]
    patches = [path for method, path, _ in requests_seen if method == "PATCH" and path.startswith(uploads_path)]
    assert uploaded == [image_config_digest(image)], requests_seen
    assert len(patches) == 1, requests_seen
    inspected = json.loads(
        skopeo("inspect", *registry_options(live_registry), f"docker://{live_registry.host}/skopeo/mount-target:v1")
    )
    assert inspected["Digest"] == image.manifest.digest


def test_an_image_converted_to_docker_schema_2_comes_back_with_its_docker_media_type(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "source", tag="v1")
    reference = f"docker://{live_registry.host}/skopeo/docker-format:v1"

    push(live_registry, image, reference, "--format", "v2s2")

    raw = skopeo("inspect", *registry_options(live_registry), "--raw", reference)
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST
    response = requests.get(
        f"{live_registry.url}/v2/skopeo/docker-format/manifests/v1",
        headers={"Accept": DOCKER_MANIFEST},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert response.headers["Content-Type"] == DOCKER_MANIFEST
    assert response.content == raw.encode()
    # The layers are the same bytes; only the manifest and config descriptors changed.
    assert json.loads(skopeo("inspect", *registry_options(live_registry), reference))["Layers"] == [
        layer.digest for layer in image.layers
    ]


def test_a_schema_1_push_is_refused_with_a_message_the_user_can_act_on(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "source", tag="v1")

    completed = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            "--format",
            "v2s1",
            image.reference,
            f"docker://{live_registry.host}/skopeo/schema-1:v1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode != 0
    assert "manifest invalid" in completed.stderr
    assert "schema 1" in completed.stderr


def test_sync_copies_every_tag_of_a_repository(live_registry: LiveRegistry, tmp_path: Path) -> None:
    for tag in ("v1", "v2"):
        push(
            live_registry,
            build_image(tmp_path / tag, tag=tag),
            f"docker://{live_registry.host}/skopeo/sync-source:{tag}",
        )

    copy_within(
        live_registry,
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        f"{live_registry.host}/skopeo/sync-source",
        f"{live_registry.host}/skopeo/synced",
    )

    for tag in ("v1", "v2"):
        source = json.loads(
            skopeo(
                "inspect", *registry_options(live_registry), f"docker://{live_registry.host}/skopeo/sync-source:{tag}"
            )
        )
        copied = json.loads(
            skopeo(
                "inspect",
                *registry_options(live_registry),
                f"docker://{live_registry.host}/skopeo/synced/sync-source:{tag}",
            )
        )
        assert copied["Digest"] == source["Digest"]
