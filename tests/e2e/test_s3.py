"""Real clients against registries that keep their blobs in S3 (a real SeaweedFS): skopeo and podman
push and pull, a deletion and a collection measured by listing the bucket, pulls redirected to the
bucket, and a chunked upload whose PATCHes alternate between two web nodes on one database and bucket.
"""

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from oci.digests import Digest
from tests.conftest import S3_BUCKET, digest_of
from tests.dockerd import running_dockerd
from tests.e2e.conftest import E2E_DATABASE, LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image
from tests.e2e.test_podman import _new_podman
from tests.e2e.test_skopeo import access_log, layout_blob, push, skopeo
from tests.seaweedfs import SeaweedFS

MIB = 1024 * 1024
PREFIX = "e2e"


@pytest.fixture(scope="module")
def s3_registry(seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """A registry whose blobs live in the bucket, configured as an operator would."""
    with serving_registry(
        tmp_path_factory.mktemp("s3-registry"),
        f"{E2E_DATABASE}_s3",
        REGISTRY_STORAGE="s3",
        REGISTRY_S3_BUCKET=S3_BUCKET,
        REGISTRY_S3_PREFIX=PREFIX,
        **seaweedfs.environment,
    ) as registry:
        yield registry


@pytest.fixture(scope="module")
def second_node(s3_registry: LiveRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """Another web node on the same database and bucket, which answers blob GETs with redirects to
    the bucket (REGISTRY_S3_REDIRECT); nothing on its disk is shared with the first."""
    data_dir = tmp_path_factory.mktemp("second-node")
    # What every node of one registry shares besides the database and bucket: the secret key and
    # the token signing keys (production sets SECRET_KEY and mounts the keys).
    environment = {
        **s3_registry.environment,
        "REGISTRY_DATA_DIR": str(data_dir),
        "SECRET_KEY": (s3_registry.data_dir / "secret_key").read_text().strip(),
        "REGISTRY_SIGNING_KEY_DIR": str(s3_registry.data_dir / "keys"),
        "REGISTRY_S3_REDIRECT": "true",
    }
    node = LiveRegistry(data_dir=data_dir, environment=environment)
    node.start()
    yield node
    node.stop()


def bucket(seaweedfs: SeaweedFS, under: str = "") -> dict[str, int]:
    found = seaweedfs.objects(S3_BUCKET, f"{PREFIX}/layout-v1/{under}")
    return {key.removeprefix(f"{PREFIX}/layout-v1/"): size for key, size in found.items()}


def blob_key(digest: str) -> str:
    parsed = Digest.parse(digest)
    return f"blobs/{parsed.algorithm}/{parsed.hex[:2]}/{parsed.hex}"


def pull(registry: LiveRegistry, reference: str, target: Path) -> None:
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"--src-creds={registry.admin_creds}",
        f"docker://{registry.host}/{reference}",
        f"oci:{target}:pulled",
    )


def assert_same_blobs(layout: OciLayout, pulled: Path) -> None:
    for descriptor in layout.layers:
        assert layout_blob(pulled, descriptor.digest) == layout_blob(layout.path, descriptor.digest)


def test_skopeo_pushes_through_the_bucket_and_pulls_back_the_same_bytes(
    s3_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    # One layer past S3's 5 MiB part minimum, sent by skopeo in one PATCH.
    layout = build_image(tmp_path / "image", tag="v1", layer_sizes=(64 * 1024, 7 * MIB + 17))
    push(s3_registry, layout, f"docker://{s3_registry.host}/s3/skopeo:v1", "--dest-tls-verify=false")

    stored = bucket(seaweedfs)
    for descriptor in layout.layers:
        assert stored[blob_key(descriptor.digest)] == descriptor.size
    assert bucket(seaweedfs, "uploads/") == {}
    assert seaweedfs.multipart_uploads(S3_BUCKET, PREFIX) == []

    pull(s3_registry, "s3/skopeo:v1", tmp_path / "pulled")
    assert_same_blobs(layout, tmp_path / "pulled")


def test_podman_pushes_to_the_bucket_and_another_podman_pulls_the_image(
    s3_registry: LiveRegistry, tmp_path: Path
) -> None:
    layout = build_image(tmp_path / "image", tag="v1", layer_sizes=(64 * 1024, 6 * MIB))
    pusher, puller = _new_podman(), _new_podman()
    try:
        pusher.login(s3_registry)
        puller.login(s3_registry)
        subprocess.run(
            ["skopeo", "copy", "--quiet", layout.reference, f"{pusher.store}localhost/s3/hello:v1"],
            check=True,
            timeout=60,
        )
        image_id = pusher.run("image", "inspect", "--format", "{{.Id}}", "localhost/s3/hello:v1").strip()
        reference = f"{s3_registry.host}/s3/podman:v1"
        # podman sends each layer as one chunked-transfer PATCH without a length.
        pusher.run("push", "--quiet", "--tls-verify=false", image_id, reference)

        puller.run("pull", "--quiet", "--tls-verify=false", reference)
        assert puller.run("image", "inspect", "--format", "{{.Id}}", reference).strip() == image_id
    finally:
        shutil.rmtree(pusher.root, ignore_errors=True)
        shutil.rmtree(puller.root, ignore_errors=True)


def test_a_deletion_and_a_collection_free_in_the_bucket_exactly_the_bytes_planned(
    s3_registry: LiveRegistry, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    kept = build_image(tmp_path / "kept", tag="kept", layer_sizes=(300_000, 40_000))
    doomed = build_image(tmp_path / "doomed", tag="doomed", layer_sizes=(6 * MIB, 50_000))
    for layout in (kept, doomed):
        push(s3_registry, layout, f"docker://{s3_registry.host}/s3/gc:{layout.tag}", "--dest-tls-verify=false")
    plan = requests.post(
        f"{s3_registry.url}/api/v1/repositories/s3/gc/deletion-plan/",
        json={"digests": [doomed.manifest.digest]},
        auth=s3_registry.admin_credentials,
        timeout=10,
    )
    assert plan.status_code == 200, plan.text
    promised = plan.json()["bytes_to_free"]
    before = sum(bucket(seaweedfs, "blobs/").values())

    skopeo(
        "delete",
        "--tls-verify=false",
        f"--creds={s3_registry.admin_creds}",
        f"docker://{s3_registry.host}/s3/gc:doomed",
    )
    report = s3_registry.manage("collectgarbage", "--grace-seconds", "0")

    freed = before - sum(bucket(seaweedfs, "blobs/").values())
    assert f"bytes_freed: {promised}" in report
    assert freed == promised > 6 * MIB
    for descriptor in kept.layers:
        assert blob_key(descriptor.digest) in bucket(seaweedfs, "blobs/")
    pull(s3_registry, "s3/gc:kept", tmp_path / "pulled")
    assert_same_blobs(kept, tmp_path / "pulled")


def test_skopeo_pulls_through_redirects_to_the_bucket(
    s3_registry: LiveRegistry, second_node: LiveRegistry, tmp_path: Path
) -> None:
    layout = build_image(tmp_path / "image", tag="v1", layer_sizes=(64 * 1024, 2 * MIB))
    push(s3_registry, layout, f"docker://{s3_registry.host}/s3/redirected:v1", "--dest-tls-verify=false")
    log_start = (second_node.data_dir / "server.log").stat().st_size

    pull(second_node, "s3/redirected:v1", tmp_path / "pulled")

    assert_same_blobs(layout, tmp_path / "pulled")
    blob_gets = [
        status for method, path, status in access_log(second_node, log_start) if method == "GET" and "/blobs/" in path
    ]
    assert blob_gets and set(blob_gets) == {307}


def test_a_chunked_upload_alternating_between_two_nodes_is_pulled_from_either(
    s3_registry: LiveRegistry, second_node: LiveRegistry, seaweedfs: SeaweedFS
) -> None:
    content = b"".join(bytes([index]) * size for index, size in enumerate([1024, 6 * MIB, 1024, 3 * MIB, 700_000]))
    nodes = [s3_registry, second_node]
    auth = s3_registry.admin_credentials
    started = requests.post(f"{nodes[0].url}/v2/s3/alternating/blobs/uploads/", auth=auth, timeout=10)
    assert started.status_code == 202
    upload_path = started.headers["Location"].split(nodes[0].host, 1)[1]
    offset = 0
    for turn, size in enumerate([1024, 6 * MIB, 1024, 3 * MIB, 700_000]):
        chunk = content[offset : offset + size]
        response = requests.patch(
            f"{nodes[turn % 2].url}{upload_path}",
            data=chunk,
            headers={"Content-Range": f"{offset}-{offset + size - 1}", "Content-Type": "application/octet-stream"},
            auth=auth,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        offset += size
        assert response.headers["Range"] == f"0-{offset - 1}"
    digest = digest_of(content)

    finished = requests.put(f"{nodes[1].url}{upload_path}?digest={digest}", auth=auth, timeout=30)

    assert finished.status_code == 201, finished.text
    assert bucket(seaweedfs, "uploads/") == {}
    assert bucket(seaweedfs)[blob_key(digest)] == len(content)
    streamed = requests.get(f"{nodes[0].url}/v2/s3/alternating/blobs/{digest}", auth=auth, timeout=30)
    redirected = requests.get(f"{nodes[1].url}/v2/s3/alternating/blobs/{digest}", auth=auth, timeout=30)
    assert streamed.content == redirected.content == content
    assert [step.status_code for step in redirected.history] == [307]


def test_an_upload_a_killed_node_was_receiving_is_finished_on_another(
    s3_registry: LiveRegistry, second_node: LiveRegistry, tmp_path: Path
) -> None:
    doomed = LiveRegistry(data_dir=tmp_path / "doomed-node", environment=dict(second_node.environment))
    doomed.environment["REGISTRY_DATA_DIR"] = str(doomed.data_dir)
    doomed.data_dir.mkdir()
    doomed.start()
    auth = s3_registry.admin_credentials
    content = os.urandom(9 * MIB)
    started = requests.post(f"{doomed.url}/v2/s3/killed/blobs/uploads/", auth=auth, timeout=10)
    upload_path = started.headers["Location"].split(doomed.host, 1)[1]
    first = requests.patch(f"{doomed.url}{upload_path}", data=content[: 6 * MIB], auth=auth, timeout=30)
    assert first.status_code == 202
    # The next chunk is half sent when the node dies (kill -9; its workers follow, PR_SET_PDEATHSIG).
    basic = base64.b64encode(":".join(auth).encode()).decode()
    with socket.create_connection(("127.0.0.1", doomed.port), timeout=5) as half_sent:
        half_sent.sendall(
            f"PATCH {upload_path} HTTP/1.1\r\nHost: {doomed.host}\r\nAuthorization: Basic {basic}\r\n"
            f"Content-Length: {3 * MIB}\r\n\r\n".encode()
            + content[6 * MIB : 7 * MIB]
        )
        time.sleep(0.5)
        assert doomed.process is not None
        doomed.process.kill()
        doomed.process.wait(timeout=10)
        doomed.process = None

    status = requests.get(f"{s3_registry.url}{upload_path}", auth=auth, timeout=10)
    assert (status.status_code, status.headers["Range"]) == (204, f"0-{6 * MIB - 1}")
    rest = requests.patch(
        f"{s3_registry.url}{upload_path}",
        data=content[6 * MIB :],
        headers={"Content-Range": f"{6 * MIB}-{9 * MIB - 1}"},
        auth=auth,
        timeout=30,
    )
    assert rest.status_code == 202, rest.text
    finished = requests.put(f"{s3_registry.url}{upload_path}?digest={digest_of(content)}", auth=auth, timeout=30)

    assert finished.status_code == 201, finished.text
    pulled = requests.get(f"{s3_registry.url}/v2/s3/killed/blobs/{digest_of(content)}", auth=auth, timeout=30)
    assert pulled.content == content


def test_docker_pushes_to_one_node_and_pulls_through_the_redirects_of_the_other(
    s3_registry: LiveRegistry, second_node: LiveRegistry, tmp_path: Path
) -> None:
    layout = build_image(tmp_path / "image", tag="v1", layer_sizes=(64 * 1024, 6 * MIB))
    archive = tmp_path / "image.tar"
    subprocess.run(
        ["skopeo", "copy", "--quiet", layout.reference, f"docker-archive:{archive}:s3/hello:v1"], check=True, timeout=60
    )
    with running_dockerd() as docker:
        username, password = s3_registry.admin_credentials
        for node in (s3_registry, second_node):
            docker.run("login", node.host, "-u", username, "--password-stdin", stdin=password)
        docker.run("load", "--input", str(archive))
        image_id = docker.run("image", "inspect", "--format", "{{.Id}}", "s3/hello:v1").strip()
        docker.run("tag", "s3/hello:v1", f"{s3_registry.host}/s3/docker:v1")
        # docker streams each layer in one chunked-transfer PATCH.
        docker.run("push", f"{s3_registry.host}/s3/docker:v1")
        docker.run("rmi", "--force", image_id)
        log_start = (second_node.data_dir / "server.log").stat().st_size

        docker.run("pull", f"{second_node.host}/s3/docker:v1")

        assert (
            docker.run("image", "inspect", "--format", "{{.Id}}", f"{second_node.host}/s3/docker:v1").strip()
            == image_id
        )
    blob_gets = [
        status for method, path, status in access_log(second_node, log_start) if method == "GET" and "/blobs/" in path
    ]
    assert blob_gets and set(blob_gets) == {307}
