"""The production stack run natively (see conftest.py): docker login, push and pull through nginx
over TLS, blobs sent by nginx (X-Accel-Redirect) and not by the application, a Celery worker that
takes tasks, and the certificate that make-certs made checked by a client that verifies it."""

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import REPO_ROOT, Docker, Stack

pytestmark = pytest.mark.e2e

REPOSITORY = "deploy/hello"
LOADED = "deploy/hello:v1"
# Larger than anything a buffer would hide: 6 MiB of incompressible bytes.
LAYER_SIZE = 6 * 1024 * 1024
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json")
_PUSHED_DIGEST = re.compile(r"^v1: digest: (sha256:[0-9a-f]{64}) size: \d+$", re.MULTILINE)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_docker_archive(directory: Path) -> Path:
    """An OCI layout with one uncompressed layer (a file of random bytes), written as a docker-archive."""
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w") as tar:
        payload = os.urandom(LAYER_SIZE)
        info = tarfile.TarInfo("payload.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer = layer_buffer.getvalue()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(layer)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha256(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha256(layer), "size": len(layer)}
            ],
        }
    ).encode()
    layout = directory / "layout"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for content in (layer, config, manifest):
        (blobs / _sha256(content).split(":")[1]).write_bytes(content)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": _sha256(manifest),
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    archive = directory / "image.tar"
    subprocess.run(
        ["skopeo", "copy", "--quiet", f"oci:{layout}:v1", f"docker-archive:{archive}:{LOADED}"], check=True, timeout=60
    )
    return archive


@pytest.fixture(scope="module")
def pushed(stack: Stack, dockerd: Docker, docker_trusts_the_ca: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """docker login, then push deploy/hello:v1 through nginx; returns the manifest digest docker printed."""
    archive = build_docker_archive(tmp_path_factory.mktemp("image"))
    assert f"Loaded image: {LOADED}" in dockerd.run("load", "--input", str(archive))
    username, password = stack.admin_credentials
    login = subprocess.run(
        ["docker", "login", stack.url, "--username", username, "--password-stdin"],
        input=password,
        env=dockerd.environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    reference = f"{stack.host}/{REPOSITORY}:v1"
    dockerd.run("tag", LOADED, reference)
    output = dockerd.run("push", reference)
    found = _PUSHED_DIGEST.search(output)
    assert found is not None, output
    return found.group(1)


def _token(stack: Stack, actions: str = "pull") -> str:
    response = requests.get(
        f"{stack.url}/auth/token",
        params={"service": "harbor-lite", "scope": f"repository:{REPOSITORY}:{actions}"},
        auth=stack.admin_credentials,
        verify=str(stack.ca_certificate),
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _layer_digest(stack: Stack, token: str, manifest_digest: str) -> tuple[str, int]:
    response = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/manifests/{manifest_digest}",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": ", ".join(MANIFEST_TYPES),
        },
        verify=str(stack.ca_certificate),
        timeout=10,
    )
    response.raise_for_status()
    [layer] = response.json()["layers"]
    return layer["digest"], layer["size"]


def test_docker_logs_in_pushes_and_pulls_back_the_same_image_over_tls(
    stack: Stack, dockerd: Docker, pushed: str
) -> None:
    reference = f"{stack.host}/{REPOSITORY}:v1"
    image_id = dockerd.run("image", "inspect", "--format", "{{.Id}}", reference).strip()
    dockerd.run("rmi", "--force", image_id)

    output = dockerd.run("pull", reference)

    assert f"Digest: {pushed}" in output
    assert dockerd.run("image", "inspect", "--format", "{{.Id}}", reference).strip() == image_id
    # Every request docker made went through nginx's TLS server, not the plain-HTTP fallback.
    docker_lines = [entry for entry in stack.nginx_log.entries() if entry["user_agent"].startswith("docker/")]
    assert docker_lines and {entry["scheme"] for entry in docker_lines} == {"https"}


def test_nginx_sends_the_blob_and_the_application_sends_no_byte_of_it(stack: Stack, pushed: str) -> None:
    token = _token(stack)
    digest, size = _layer_digest(stack, token, pushed)
    request_id = "deploytest" + os.urandom(8).hex()

    response = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/blobs/{digest}",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
        verify=str(stack.ca_certificate),
        timeout=60,
    )

    assert response.status_code == 200
    assert _sha256(response.content) == digest
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert int(response.headers["Content-Length"]) == size
    assert "X-Accel-Redirect" not in response.headers and "X-Registry-Proxied-Bytes" not in response.headers
    # The same request in both logs, found by its id: gunicorn wrote no body, nginx wrote all of it.
    [app_line] = stack.gunicorn_log.wait_for(
        lambda entry: entry.get("logger") == "gunicorn.access" and entry.get("request_id") == request_id
    )
    [nginx_line] = stack.nginx_log.wait_for(lambda entry: entry.get("request_id") == request_id)
    assert (app_line["status"], app_line["body_bytes"]) == (200, 0)
    assert (nginx_line["status"], nginx_line["body_bytes"]) == (200, size)
    # And the application's access line says who pulled what, and that the proxy sent it.
    [access] = stack.gunicorn_log.wait_for(
        lambda entry: entry.get("logger") == "registry.access" and entry.get("request_id") == request_id
    )
    assert {key: access[key] for key in ("subject", "action", "repository", "digest", "bytes_out", "served_by")} == {
        "subject": stack.admin_credentials[0],
        "action": "pull",
        "repository": REPOSITORY,
        "digest": digest,
        "bytes_out": size,
        "served_by": "proxy",
    }


def test_a_range_request_is_answered_by_nginx_with_206_and_exactly_those_bytes(stack: Stack, pushed: str) -> None:
    token = _token(stack)
    digest, size = _layer_digest(stack, token, pushed)
    whole = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/blobs/{digest}",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(stack.ca_certificate),
        timeout=60,
    ).content

    ranged = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/blobs/{digest}",
        headers={"Authorization": f"Bearer {token}", "Range": "bytes=1000-1999"},
        verify=str(stack.ca_certificate),
        timeout=60,
    )
    unsatisfiable = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/blobs/{digest}",
        headers={"Authorization": f"Bearer {token}", "Range": f"bytes={size}-"},
        verify=str(stack.ca_certificate),
        timeout=60,
    )

    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 1000-1999/{size}"
    assert ranged.content == whole[1000:2000]
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{size}"


def test_the_blob_store_location_cannot_be_reached_from_outside(stack: Stack, pushed: str) -> None:
    token = _token(stack)
    digest, _ = _layer_digest(stack, token, pushed)
    hex_digest = digest.split(":")[1]

    direct = requests.get(
        f"{stack.url}/_blob_store/layout-v1/blobs/sha256/{hex_digest[:2]}/{hex_digest}",
        verify=str(stack.ca_certificate),
        timeout=10,
    )
    anonymous = requests.get(
        f"{stack.url}/v2/{REPOSITORY}/blobs/{digest}", verify=str(stack.ca_certificate), timeout=10
    )

    # `internal`: only the application's redirect reaches it; the path falls through to Django's 404.
    assert direct.status_code == 404 and len(direct.content) < 10000
    assert anonymous.status_code == 401


def test_metrics_count_the_blob_bytes_nginx_sent(stack: Stack, pushed: str) -> None:
    metrics = requests.get(f"{stack.gunicorn_url}/metrics", timeout=10).text
    through_nginx = requests.get(f"{stack.url}/metrics", verify=str(stack.ca_certificate), timeout=10)

    proxied = re.search(r'^registry_blob_bytes_sent_total\{served_by="proxy"\} (\S+)$', metrics, re.MULTILINE)
    assert proxied is not None and float(proxied.group(1)) >= LAYER_SIZE
    assert 'registry_http_requests_total{method="PATCH",route="v2:upload",status="202"}' in metrics
    assert through_nginx.status_code == 404


def test_plain_http_is_redirected_to_https(stack: Stack) -> None:
    response = requests.get(f"http://127.0.0.1:{stack.http_port}/v2/", allow_redirects=False, timeout=10)

    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/v2/"


def test_behind_the_proxy_the_registry_names_https_urls_and_the_real_client(stack: Stack) -> None:
    response = requests.get(f"{stack.url}/v2/", verify=str(stack.ca_certificate), timeout=10)

    assert response.status_code == 401
    assert f'realm="https://{stack.host}/auth/token"' in response.headers["WWW-Authenticate"]
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_readiness_through_nginx_checks_postgres_redis_and_storage(stack: Stack) -> None:
    response = requests.get(f"{stack.url}/health/ready", verify=str(stack.ca_certificate), timeout=10)

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "storage": "ok", "redis": "ok"}


def test_the_celery_worker_takes_a_task_from_redis_and_runs_it_on_postgres(stack: Stack) -> None:
    task = "v2api.tasks.purge_stale_uploads_on_schedule"
    sent = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "registry_ui", "call", task],
        cwd=REPO_ROOT,
        env=stack.environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    task_id = sent.stdout.strip()

    deadline = time.monotonic() + 30
    while f"{task}[{task_id}] succeeded" not in stack.worker_log.read_text(errors="replace"):
        assert time.monotonic() < deadline, stack.worker_log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


def test_the_generated_ca_is_what_makes_a_verifying_client_trust_the_registry(
    stack: Stack, pushed: str, tmp_path: Path
) -> None:
    # Observed: dockerd counts 127.0.0.0/8 as an insecure registry and skips certificate checks
    # there (a login succeeds with no CA at all), so the certificate chain is proven with skopeo,
    # which verifies on loopback too: refused without the CA, accepted with it.
    username, password = stack.admin_credentials
    command = ["skopeo", "inspect", "--tls-verify=true", "--creds", f"{username}:{password}"]
    reference = f"docker://{stack.host}/{REPOSITORY}:v1"
    # --cert-dir replaces the default folders: skopeo also reads /etc/docker/certs.d, where the
    # session's fixture put the CA for docker.
    empty, trusting = tmp_path / "empty", tmp_path / "trusting"
    empty.mkdir()
    trusting.mkdir()
    (trusting / "ca.crt").write_bytes(stack.ca_certificate.read_bytes())

    without_ca = subprocess.run(
        [*command, "--cert-dir", str(empty), reference], capture_output=True, text=True, timeout=60
    )
    with_ca = subprocess.run(
        [*command, "--cert-dir", str(trusting), reference], capture_output=True, text=True, timeout=60
    )

    assert without_ca.returncode != 0 and "certificate signed by unknown authority" in without_ca.stderr
    assert with_ca.returncode == 0, with_ca.stderr
    assert json.loads(with_ca.stdout)["Digest"] == pushed
