"""A proxy project's cold layer (v2api/services/proxy_blobs.py), on both blob stores, with
Debian's docker-registry as the upstream: its bytes reach the client before they are stored,
a corrupted layer is cut short of its end and leaves nothing behind, and a HEAD asks the upstream
with a HEAD only."""

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.test import Client

from accounts.models import Project
from benchmarks.servers import Server, start_reference
from oci.digests import Digest
from tests.conftest import S3Storage
from tests.e2e.images import OciLayout, build_image
from tests.e2e.test_proxy_cache import push_upstream
from v2api.errors import Denied
from v2api.models import ManifestReference
from v2api.services import proxy_blobs
from v2api.storage import blobstore
from v2api.upstream import UpstreamError

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Server]:
    server = start_reference(tmp_path / "upstream")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def image(upstream: Server, tmp_path: Path) -> OciLayout:
    """`app:v1` upstream, one 3 MiB layer, and `cache`, a proxy project of that upstream."""
    built = build_image(tmp_path / "image", tag="v1", layer_sizes=(3 * MIB,))
    push_upstream(upstream, built, "app:v1")
    Project.objects.create(name="cache", proxy_url=f"http://127.0.0.1:{upstream.port}")
    return built


def stored(digest: str) -> bool:
    return blobstore.store().blob_exists(Digest.parse(digest))


def upstream_requests(upstream: Server, method: str, digest: str) -> int:
    return sum(f'"{method} /v2/app/blobs/{digest}' in line for line in upstream.log_path.read_text().splitlines())


def test_a_cold_layer_reaches_the_client_before_it_is_stored_and_is_kept_once_verified(
    client: Client, image: OciLayout, each_blob_store: str
) -> None:
    [layer] = image.layers
    manifest = client.get("/v2/cache/app/manifests/v1", HTTP_ACCEPT=image.manifest.media_type)
    # The manifest answers before its layer is fetched.
    assert (manifest.status_code, stored(layer.digest)) == (200, False)

    response = client.get(f"/v2/cache/app/blobs/{layer.digest}")
    chunks = iter(response.streaming_content)
    first = b"".join(next(chunks) for _ in range(2))
    stored_while_streaming = stored(layer.digest)
    body = first + b"".join(chunks)

    assert (response.status_code, response["Content-Length"]) == (200, str(layer.size))
    assert first and not stored_while_streaming
    assert hashlib.sha256(body).hexdigest() == layer.digest.removeprefix("sha256:")
    assert stored(layer.digest)
    assert ManifestReference.objects.filter(manifest__digest=image.manifest.digest, blob__digest=layer.digest).exists()


def test_a_layer_the_upstream_corrupted_is_cut_short_of_its_end_and_nothing_is_kept(
    client: Client,
    image: OciLayout,
    upstream: Server,
    each_blob_store: str,
    storage_root: Path,
    request: pytest.FixtureRequest,
) -> None:
    [layer] = image.layers
    [data] = Path(upstream.config_path.parent / "reference-storage").rglob(f"blobs/sha256/*/{layer.digest[7:]}/data")
    data.write_bytes(b"x" * layer.size)

    response = client.get(f"/v2/cache/app/blobs/{layer.digest}")
    received = 0
    with pytest.raises(UpstreamError, match="sent a blob that does not match its digest"):
        for chunk in response.streaming_content:
            received += len(chunk)

    assert (response.status_code, response["Content-Length"]) == (200, str(layer.size))
    assert 0 < received < layer.size
    assert not stored(layer.digest)
    assert not [path for path in storage_root.rglob("*") if path.is_file() and not path.name.endswith(".lock")]
    if each_blob_store == "s3":
        bucket: S3Storage = request.getfixturevalue("s3_storage")
        assert (bucket.objects(), bucket.multipart_uploads()) == ({}, [])


def test_a_head_of_a_cold_layer_asks_the_upstream_with_a_head_and_fetches_nothing(
    client: Client, image: OciLayout, upstream: Server
) -> None:
    [layer] = image.layers
    # skopeo's push asked too.
    heads_before = upstream_requests(upstream, "HEAD", layer.digest)

    response = client.head(f"/v2/cache/app/blobs/{layer.digest}")

    assert (response.status_code, response["Content-Length"]) == (200, str(layer.size))
    assert response["Docker-Content-Digest"] == layer.digest
    heads = upstream_requests(upstream, "HEAD", layer.digest) - heads_before
    assert (heads, upstream_requests(upstream, "GET", layer.digest)) == (1, 0)
    assert not stored(layer.digest)


@pytest.mark.django_db(transaction=True)
def test_a_pull_of_a_cold_layer_is_not_held_up_behind_another_client_that_reads_it_slowly(
    client: Client, image: OciLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first pull streams at its client's pace and holds the layer's lock meanwhile: a node on
    # a slow link (or a client that stops reading) must not keep every other node waiting for it.
    monkeypatch.setattr(proxy_blobs, "FETCH_WAIT_SECONDS", 1, raising=False)
    [layer] = image.layers
    slow = client.get(f"/v2/cache/app/blobs/{layer.digest}")
    slow_chunks = iter(slow.streaming_content)
    slow_start = b"".join(next(slow_chunks) for _ in range(2))
    other: dict[str, bytes | int] = {}

    def pull_from_another_node() -> None:
        try:
            response = Client(**client.defaults).get(f"/v2/cache/app/blobs/{layer.digest}")
            other["status"] = response.status_code
            other["body"] = b"".join(response.streaming_content)
            response.close()
        finally:
            connection.close()

    puller = threading.Thread(target=pull_from_another_node)
    puller.start()
    puller.join(timeout=30)
    served_meanwhile = not puller.is_alive()
    slow_body = slow_start + b"".join(slow_chunks)
    slow.close()
    puller.join()

    assert served_meanwhile
    assert other["status"] == 200
    assert hashlib.sha256(other["body"]).hexdigest() == layer.digest.removeprefix("sha256:")  # type: ignore[arg-type]
    assert hashlib.sha256(slow_body).hexdigest() == layer.digest.removeprefix("sha256:")
    assert stored(layer.digest)


@pytest.fixture
def chunked_relay(upstream: Server) -> Iterator[int]:
    """The upstream behind a relay that sends every body chunked, without a length (as registries
    behind some proxies and CDNs do): the relay's port."""

    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:
            self.relay()

        def do_GET(self) -> None:
            self.relay()

        def relay(self) -> None:
            headers = {key: value for key, value in self.headers.items() if key.lower() != "host"}
            url = f"http://127.0.0.1:{upstream.port}{self.path}"
            with requests.request(self.command, url, headers=headers, stream=True, timeout=30) as answer:
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                if self.command == "HEAD":
                    self.send_header("Content-Length", answer.headers.get("Content-Length", "0"))
                    self.end_headers()
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in answer.iter_content(64 * 1024):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_cold_layer_of_unknown_length_is_not_kept_past_the_projects_quota(
    client: Client, image: OciLayout, chunked_relay: int
) -> None:
    # Fetched by digest before its manifest, a kept layer no longer counts as missing when the
    # manifest's quota check comes: the layer's own check is the one that holds.
    [layer] = image.layers
    Project.objects.filter(name="cache").update(proxy_url=f"http://127.0.0.1:{chunked_relay}", quota_bytes=MIB)

    response = client.get(f"/v2/cache/app/blobs/{layer.digest}")
    received = 0
    with pytest.raises(Denied, match="quota exceeded: project cache uses"):
        for chunk in response.streaming_content:
            received += len(chunk)
    manifest = client.get("/v2/cache/app/manifests/v1", HTTP_ACCEPT=image.manifest.media_type)

    assert (response.status_code, response.has_header("Content-Length")) == (200, False)
    assert received < layer.size
    assert not stored(layer.digest)
    assert manifest.status_code == 403
    assert b"quota exceeded: project cache uses 0 bytes of 1 MiB; this image needs 3 MiB" in manifest.content


def test_layers_fetched_before_their_manifest_still_count_toward_the_quota_when_it_comes(
    client: Client, upstream: Server, tmp_path: Path
) -> None:
    # Each 3 MiB layer fits a 5 MiB quota on its own, and is kept unreferenced (counting nothing);
    # the manifest that references both must be refused, as it is when it comes first.
    pair = build_image(tmp_path / "pair", tag="v1", layer_sizes=(3 * MIB, 3 * MIB))
    push_upstream(upstream, pair, "pair:v1")
    Project.objects.create(name="cache", proxy_url=f"http://127.0.0.1:{upstream.port}", quota_bytes=5 * MIB)

    layers = [client.get(f"/v2/cache/pair/blobs/{layer.digest}") for layer in pair.layers]
    for layer in layers:
        b"".join(layer.streaming_content)
    manifest = client.get("/v2/cache/pair/manifests/v1", HTTP_ACCEPT=pair.manifest.media_type)

    assert [layer.status_code for layer in layers] == [200, 200]
    assert manifest.status_code == 403
    assert b"quota exceeded: project cache uses 0 bytes of 5 MiB; this image needs 6 MiB" in manifest.content
