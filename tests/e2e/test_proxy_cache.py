"""A proxy-cache project as its users meet it, with Debian's docker-registry as the upstream:
skopeo and docker pull through and fill the cache, the cache answers once the upstream is down, a
tag the upstream moved is seen after the TTL (0 here), what was never cached fails naming the
upstream's answer, bytes the upstream got wrong are not kept, concurrent pulls of a cold layer are
one upstream download, and a push is refused. Another Harbor-lite, with token auth and a robot
account, is an upstream too."""

import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from benchmarks.servers import REFERENCE_BINARY, Server, free_port, start_reference
from tests.e2e.conftest import Docker, LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image, build_index
from tests.e2e.test_docker import GREETING
from tests.tcp_proxy import tcp_proxy

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def proxy_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """Our registry, checking every proxied tag with its upstream (a TTL of 0)."""
    with serving_registry(
        tmp_path_factory.mktemp("proxy-registry"),
        f"harbor_lite_proxy_e2e_{os.getpid()}",
        REGISTRY_PROXY_MANIFEST_TTL="0",
    ) as registry:
        yield registry


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Server]:
    server = start_reference(tmp_path / "upstream")
    try:
        yield server
    finally:
        server.stop()


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)


def push_upstream(upstream: Server, image: OciLayout, name: str) -> None:
    pushed = skopeo("copy", "--dest-tls-verify=false", image.reference, f"docker://127.0.0.1:{upstream.port}/{name}")
    assert pushed.returncode == 0, pushed.stderr


def pull(registry: LiveRegistry, name: str, destination: Path) -> subprocess.CompletedProcess[str]:
    """skopeo copy from our registry into an OCI layout, without retries (a failure is final)."""
    return skopeo(
        "copy",
        "--retry-times=0",
        "--src-tls-verify=false",
        f"--src-creds={registry.admin_creds}",
        f"docker://{registry.host}/{name}",
        f"oci:{destination}:pulled",
    )


def pulled_manifest_digest(layout: Path) -> str:
    [entry] = json.loads((layout / "index.json").read_text())["manifests"]
    return str(entry["digest"])


def create_proxy_project(registry: LiveRegistry, name: str, upstream: Server) -> None:
    created = requests.post(
        f"{registry.url}/api/v1/projects/",
        json={"name": name, "proxy_url": f"http://127.0.0.1:{upstream.port}"},
        auth=registry.admin_credentials,
        timeout=10,
    )
    assert created.status_code == 201, created.text


def test_a_pull_goes_through_and_the_cache_answers_once_the_upstream_is_down(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1")
    push_upstream(upstream, image, "team/app:v1")
    push_upstream(upstream, build_image(tmp_path / "other", tag="v2"), "team/app:v2")
    create_proxy_project(proxy_registry, "mirror", upstream)

    first = pull(proxy_registry, "mirror/team/app:v1", tmp_path / "first")
    assert first.returncode == 0, first.stderr
    assert pulled_manifest_digest(tmp_path / "first") == image.manifest.digest
    for layer in image.layers:
        assert (tmp_path / "first" / "blobs" / "sha256" / layer.digest.split(":")[1]).exists()

    manifest_url = f"{proxy_registry.url}/v2/mirror/team/app/manifests/v1"
    accept = {"Accept": image.manifest.media_type}
    fresh = requests.get(manifest_url, headers=accept, auth=proxy_registry.admin_credentials, timeout=10)
    assert (fresh.status_code, "Warning" in fresh.headers) == (200, False)

    upstream.stop()

    # The tag is due for a check (TTL 0), the upstream does not answer: the cached image is served.
    again = pull(proxy_registry, "mirror/team/app:v1", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert pulled_manifest_digest(tmp_path / "again") == image.manifest.digest
    stale = requests.get(manifest_url, headers=accept, auth=proxy_registry.admin_credentials, timeout=10)
    assert (stale.status_code, stale.headers["Docker-Content-Digest"]) == (200, image.manifest.digest)
    assert stale.headers["Warning"].startswith('110 - "Response is Stale')
    never_cached = pull(proxy_registry, "mirror/team/app:v2", tmp_path / "never")
    assert never_cached.returncode != 0
    assert "not in the cache, and the upstream http://127.0.0.1:" in never_cached.stderr
    assert "did not answer" in never_cached.stderr


def test_a_tag_moved_upstream_is_seen_once_its_ttl_is_over(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    create_proxy_project(proxy_registry, "moving", upstream)
    push_upstream(upstream, build_image(tmp_path / "old", tag="v1"), "app:v1")
    assert pull(proxy_registry, "moving/app:v1", tmp_path / "first").returncode == 0
    newer = build_image(tmp_path / "new", tag="v1")
    push_upstream(upstream, newer, "app:v1")

    second = pull(proxy_registry, "moving/app:v1", tmp_path / "second")

    assert second.returncode == 0, second.stderr
    assert pulled_manifest_digest(tmp_path / "second") == newer.manifest.digest


def test_a_tag_the_upstream_does_not_have_is_unknown_naming_the_upstreams_answer(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    create_proxy_project(proxy_registry, "sparse", upstream)

    missing = pull(proxy_registry, "sparse/nothing:v1", tmp_path / "missing")

    assert missing.returncode != 0
    assert "answered GET /v2/nothing/manifests/v1 with 404" in missing.stderr


def test_a_push_to_a_proxy_project_is_refused_with_a_message(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    create_proxy_project(proxy_registry, "readonly", upstream)
    image = build_image(tmp_path / "image", tag="v1")

    pushed = skopeo(
        "copy",
        "--retry-times=0",
        "--dest-tls-verify=false",
        f"--dest-creds={proxy_registry.admin_creds}",
        image.reference,
        f"docker://{proxy_registry.host}/readonly/app:v1",
    )

    assert pushed.returncode != 0
    assert "is a proxy cache of http://127.0.0.1:" in pushed.stderr
    assert "takes no pushes" in pushed.stderr


def test_another_harbor_lite_with_token_auth_is_an_upstream_through_a_robot_account(
    proxy_registry: LiveRegistry, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    admin = live_registry.admin_credentials
    created = requests.post(f"{live_registry.url}/api/v1/projects/", json={"name": "upstream"}, auth=admin, timeout=10)
    assert created.status_code == 201, created.text
    robot = requests.post(
        f"{live_registry.url}/api/v1/projects/upstream/robots/",
        json={"name": "mirror", "can_pull": True},
        auth=admin,
        timeout=10,
    ).json()
    image = build_image(tmp_path / "image", tag="v1")
    pushed = skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds={live_registry.admin_creds}",
        image.reference,
        f"docker://{live_registry.host}/upstream/app:v1",
    )
    assert pushed.returncode == 0, pushed.stderr
    for name, credentials in (
        ("lan", {"proxy_username": robot["login_name"], "proxy_password": robot["secret"]}),
        ("anonymous", {}),
    ):
        bound = requests.post(
            f"{proxy_registry.url}/api/v1/projects/",
            json={"name": name, "proxy_url": live_registry.url, **credentials},
            auth=proxy_registry.admin_credentials,
            timeout=10,
        )
        assert bound.status_code == 201, bound.text

    through_robot = pull(proxy_registry, "lan/upstream/app:v1", tmp_path / "pulled")
    without_credentials = pull(proxy_registry, "anonymous/upstream/app:v1", tmp_path / "refused")

    assert through_robot.returncode == 0, through_robot.stderr
    assert pulled_manifest_digest(tmp_path / "pulled") == image.manifest.digest
    assert without_credentials.returncode != 0
    assert "answered GET /v2/upstream/app/manifests/v1 with 401 UNAUTHORIZED" in without_credentials.stderr


def test_ten_concurrent_pulls_of_a_cold_layer_make_one_upstream_download(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(8 * 1024 * 1024,))
    push_upstream(upstream, image, "crowd:v1")
    create_proxy_project(proxy_registry, "crowd", upstream)
    [layer] = image.layers
    url = f"{proxy_registry.url}/v2/crowd/crowd/blobs/{layer.digest}"

    def download(_: int) -> tuple[int, str]:
        response = requests.get(url, auth=proxy_registry.admin_credentials, timeout=120)
        return response.status_code, hashlib.sha256(response.content).hexdigest()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(download, range(10)))

    assert answers == [(200, layer.digest.split(":")[1])] * 10
    upstream_gets = [
        line for line in upstream.log_path.read_text().splitlines() if f'"GET /v2/crowd/blobs/{layer.digest}' in line
    ]
    assert len(upstream_gets) == 1, upstream_gets


def test_a_layer_the_upstream_corrupted_is_not_kept_and_the_pull_fails_saying_so(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1")
    push_upstream(upstream, image, "rotten:v1")
    create_proxy_project(proxy_registry, "rotten", upstream)
    layer = image.layers[0]
    [stored] = Path(upstream.config_path.parent / "reference-storage").rglob(f"blobs/sha256/*/{layer.digest[7:]}/data")
    stored.write_bytes(b"x" * layer.size)

    corrupted = pull(proxy_registry, "rotten/rotten:v1", tmp_path / "pulled")
    # skopeo prints only the status of a failed blob GET; the answer's message says why.
    answer = requests.get(
        f"{proxy_registry.url}/v2/rotten/rotten/blobs/{layer.digest}", auth=proxy_registry.admin_credentials, timeout=30
    )

    assert corrupted.returncode != 0
    assert "registry 404" in corrupted.stderr
    assert answer.status_code == 404
    assert "sent a blob that does not match its digest" in answer.json()["errors"][0]["message"]
    assert not list(proxy_registry.storage_root.rglob(layer.digest[7:]))


def test_a_multi_platform_image_is_pulled_one_platform_at_a_time_and_its_index_keeps_it(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    index = build_index(tmp_path / "index", tag="v1")
    pushed = skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        index.reference,
        f"docker://127.0.0.1:{upstream.port}/multi:v1",
    )
    assert pushed.returncode == 0, pushed.stderr
    create_proxy_project(proxy_registry, "platforms", upstream)

    first = pull(proxy_registry, "platforms/multi:v1", tmp_path / "first")
    upstream.stop()
    again = pull(proxy_registry, "platforms/multi:v1", tmp_path / "again")

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert pulled_manifest_digest(tmp_path / "again") == pulled_manifest_digest(tmp_path / "first")
    # The index and the one platform skopeo chose; the index references that child.
    counted = proxy_registry.manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from v2api.models import Manifest, ManifestReference;"
        "print(Manifest.objects.filter(repository__name='platforms/multi').count(),"
        " ManifestReference.objects.filter(manifest__repository__name='platforms/multi', child__isnull=False).count())",
    )
    assert counted.split() == ["2", "1"]


def test_a_manifest_the_upstream_altered_is_not_kept_and_the_pull_fails_saying_so(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1")
    push_upstream(upstream, image, "altered:v1")
    create_proxy_project(proxy_registry, "altered", upstream)
    digest_hex = image.manifest.digest.split(":")[1]
    [stored] = Path(upstream.config_path.parent / "reference-storage").rglob(f"blobs/sha256/*/{digest_hex}/data")
    altered = json.loads(stored.read_bytes())
    altered["annotations"] = {"altered": "yes"}
    stored.write_bytes(json.dumps(altered).encode())

    pulled = pull(proxy_registry, "altered/altered:v1", tmp_path / "pulled")

    assert pulled.returncode != 0
    assert f"sent a manifest that is not {image.manifest.digest}" in pulled.stderr
    tags = requests.get(
        f"{proxy_registry.url}/v2/altered/altered/tags/list", auth=proxy_registry.admin_credentials, timeout=10
    )
    assert tags.status_code == 404, tags.text


def test_docker_pulls_through_runs_the_image_and_pulls_it_again_from_the_cache(
    dockerd: Docker, proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1", runnable=True)
    push_upstream(upstream, image, "tools/hello:v1")
    create_proxy_project(proxy_registry, "dockerproxy", upstream)
    docker = dockerd.as_another_user(tmp_path / "docker-config")
    username, password = proxy_registry.admin_credentials
    docker.run("login", proxy_registry.host, "-u", username, "--password-stdin", stdin=password)
    reference = f"{proxy_registry.host}/dockerproxy/tools/hello:v1"

    first = docker.run("pull", reference)
    greeting = docker.run("run", "--rm", "--network", "none", reference).strip()
    docker.run("rmi", reference)
    upstream.stop()
    again = docker.run("pull", reference)

    assert f"Digest: {image.manifest.digest}" in first
    assert greeting == GREETING
    assert f"Digest: {image.manifest.digest}" in again


def test_a_proxy_projects_quota_holds_for_what_it_caches(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(256 * 1024,))
    push_upstream(upstream, image, "big:v1")
    created = requests.post(
        f"{proxy_registry.url}/api/v1/projects/",
        json={"name": "small", "proxy_url": f"http://127.0.0.1:{upstream.port}", "quota_bytes": 64 * 1024},
        auth=proxy_registry.admin_credentials,
        timeout=10,
    )
    assert created.status_code == 201, created.text

    refused = pull(proxy_registry, "small/big:v1", tmp_path / "pulled")

    assert refused.returncode != 0
    assert "quota exceeded" in refused.stderr


HTPASSWD_CONFIG = """\
version: 0.1
storage:
  filesystem:
    rootdirectory: {root}
auth:
  htpasswd:
    realm: upstream
    path: {htpasswd}
http:
  addr: 127.0.0.1:{port}
"""


@pytest.fixture
def upstream_with_basic_auth(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """docker-registry behind HTTP Basic (its htpasswd auth): its port and the password of `mirror`."""
    password = secrets.token_urlsafe(12)
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "mirror", password], check=True, capture_output=True)
    port = free_port()
    config = tmp_path / "basic-auth-registry.yml"
    config.write_text(HTPASSWD_CONFIG.format(root=tmp_path / "basic-storage", htpasswd=htpasswd, port=port))
    with open(tmp_path / "basic-auth-registry.log", "ab") as log:
        process = subprocess.Popen([str(REFERENCE_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _challenges(port):
            assert time.monotonic() < deadline, "docker-registry did not start"
            time.sleep(0.1)
        yield port, password
    finally:
        process.terminate()
        process.wait(timeout=30)


def _challenges(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 401
    except requests.ConnectionError:
        return False


def test_an_upstream_behind_http_basic_is_answered_with_the_projects_credentials(
    proxy_registry: LiveRegistry, upstream_with_basic_auth: tuple[int, str], tmp_path: Path
) -> None:
    port, password = upstream_with_basic_auth
    image = build_image(tmp_path / "image", tag="v1")
    pushed = skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds=mirror:{password}",
        image.reference,
        f"docker://127.0.0.1:{port}/app:v1",
    )
    assert pushed.returncode == 0, pushed.stderr
    for name, secret in (("basic", password), ("wrong", "not the password")):
        bound = requests.post(
            f"{proxy_registry.url}/api/v1/projects/",
            json={
                "name": name,
                "proxy_url": f"http://127.0.0.1:{port}",
                "proxy_username": "mirror",
                "proxy_password": secret,
            },
            auth=proxy_registry.admin_credentials,
            timeout=10,
        )
        assert bound.status_code == 201, bound.text

    right = pull(proxy_registry, "basic/app:v1", tmp_path / "pulled")
    wrong = pull(proxy_registry, "wrong/app:v1", tmp_path / "refused")

    assert right.returncode == 0, right.stderr
    assert pulled_manifest_digest(tmp_path / "pulled") == image.manifest.digest
    assert wrong.returncode != 0
    assert "answered GET /v2/app/manifests/v1 with 401" in wrong.stderr


def test_a_cold_layer_streams_to_the_client_and_an_upstream_cut_off_half_way_cuts_it_and_keeps_nothing(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(48 * MIB,))
    push_upstream(upstream, image, "stream:v1")
    [layer] = image.layers
    url = f"{proxy_registry.url}/v2/streamed/stream/blobs/{layer.digest}"
    with tcp_proxy("127.0.0.1", upstream.port) as link:
        created = requests.post(
            f"{proxy_registry.url}/api/v1/projects/",
            json={"name": "streamed", "proxy_url": f"http://127.0.0.1:{link.port}"},
            auth=proxy_registry.admin_credentials,
            timeout=10,
        )
        assert created.status_code == 201, created.text

        received = 0
        with requests.get(url, auth=proxy_registry.admin_credentials, stream=True, timeout=60) as cut_short:
            chunks = cut_short.iter_content(MIB)
            received += len(next(chunks))
            # The client holds bytes of a layer the upstream has not finished sending.
            link.cut()
            with pytest.raises(requests.RequestException):
                for chunk in chunks:
                    received += len(chunk)
        kept_after_the_cut = list(proxy_registry.storage_root.rglob(layer.digest[7:]))
        link.restore()
        again = requests.get(url, auth=proxy_registry.admin_credentials, timeout=120)

    assert (cut_short.status_code, cut_short.headers["Content-Length"]) == (200, str(layer.size))
    assert 0 < received < layer.size
    assert kept_after_the_cut == []
    assert again.status_code == 200
    assert hashlib.sha256(again.content).hexdigest() == layer.digest.removeprefix("sha256:")
    assert list(proxy_registry.storage_root.rglob(layer.digest[7:]))


def test_a_cold_layer_is_checked_upstream_with_a_head_and_a_cached_tag_revalidated_with_a_head_only(
    proxy_registry: LiveRegistry, upstream: Server, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1")
    push_upstream(upstream, image, "counted:v1")
    create_proxy_project(proxy_registry, "counted", upstream)
    log_lines_before = len(upstream.log_path.read_text().splitlines())

    layer = image.layers[0]
    head = requests.head(
        f"{proxy_registry.url}/v2/counted/counted/blobs/{layer.digest}",
        auth=proxy_registry.admin_credentials,
        timeout=30,
    )
    first = pull(proxy_registry, "counted/counted:v1", tmp_path / "first")
    second = pull(proxy_registry, "counted/counted:v1", tmp_path / "second")

    assert (head.status_code, head.headers["Content-Length"]) == (200, str(layer.size))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    requests_upstream = [
        re.search(r'"(GET|HEAD) /v2/counted/(manifests/v1|blobs/[^ ]+) ', line)
        for line in upstream.log_path.read_text().splitlines()[log_lines_before:]
    ]
    asked = [(found[1], found[2].split("/")[0]) for found in requests_upstream if found]
    # The HEAD of the layer, the first pull's GETs (the manifest, then each blob once), and the
    # second pull's check of its tag (TTL 0 here): a HEAD.
    assert asked == [
        ("HEAD", "blobs"),
        ("GET", "manifests"),
        *[("GET", "blobs")] * (len(image.layers) + 1),
        ("HEAD", "manifests"),
    ]
