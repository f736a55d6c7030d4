"""Pulls through a proxy-cache project (issue 16), next to direct pulls from the reference.

Ours: a reference registry of its own is the upstream, holding one image per repeat (a config and
one layer of the workload's blob size); a proxy project of ours is bound to it. The cold pull is
the first pull of each image through ours (the manifest, then each blob, as docker pulls a
one-layer image: ours fetches, stores and streams the layer); the warm pull is the same pull
again, served from ours alone. The reference: the same images pushed into it and pulled straight
from it, twice. So the cold ratio compares a pull through ours with a pull from the upstream
itself, and the warm ratio our cache with the reference serving what it holds.
"""

import json
import os
import statistics
import time
from collections.abc import Sequence

from benchmarks import client
from benchmarks.client import Blob, Connection, Descriptor
from benchmarks.report import Recorder
from benchmarks.servers import Server, start_reference

MIB = 1024 * 1024
PROXY_PROJECT = "cache"
# Pulled through before the measured ones: more than ours has web processes (2 x cores), each
# layer large enough to stream (v2api/services/proxy_blobs.py FETCHED_WHOLE_UP_TO).
WARM_UP_PULLS = 8
WARM_UP_LAYER_SIZE = 2 * MIB


def measure_proxy_pulls(server: Server, layers: list[Blob], recorder: Recorder) -> None:
    ours = server.auth is not None
    upstream = start_reference(server.log_path.parent / "upstream") if ours else server
    try:
        names = [f"library/pulled-{index}" for index in range(len(layers))]
        push_images(upstream, names, layers)
        warm_up = [f"library/warm-up-{index}" for index in range(WARM_UP_PULLS)]
        push_images(upstream, warm_up, [os.urandom(WARM_UP_LAYER_SIZE) for _ in warm_up])
        if ours:
            bind_proxy_project(server, upstream)
            prefix = f"{PROXY_PROJECT}/"
        else:
            prefix = ""
        # Not measured: every web process past its first proxied pull (connections, lazy imports).
        for name in warm_up:
            pull_seconds(server, prefix + name)
        cold = [pull_seconds(server, prefix + name) for name in names]
        warm = [pull_seconds(server, prefix + name) for name in names]
    finally:
        if ours:
            upstream.stop()
    size_mib = layers[0].size / MIB
    image = f"pull of a {size_mib:.0f} MiB one-layer image (median of {len(layers)})"
    for key, when, durations in (("proxy_pull_cold", "cold", cold), ("proxy_pull_warm", "warm", warm)):
        label = f"{image}, ours: proxy project {when}; reference: direct"
        recorder.record(server.label, key, label, "MiB/s", True, size_mib / statistics.median(durations))


def push_images(registry: Server, names: list[str], layers: Sequence[Blob | bytes]) -> None:
    connection = Connection(registry.port, registry.auth)
    try:
        for name, layer in zip(names, layers, strict=True):
            config = client.image_config(1)
            config_descriptor = client.descriptor_of(config, client.OCI_CONFIG)
            client.push_small_blob(connection, name, config, config_descriptor)
            if isinstance(layer, bytes):
                layer_descriptor = client.descriptor_of(layer, client.OCI_LAYER)
                client.push_small_blob(connection, name, layer, layer_descriptor)
            else:
                layer_descriptor = Descriptor(client.OCI_LAYER, layer.digest, layer.size)
                client.push_blob_monolithic(connection, name, layer)
            client.put_manifest(connection, name, "v1", client.image_manifest(config_descriptor, [layer_descriptor]))
    finally:
        connection.close()


def bind_proxy_project(server: Server, upstream: Server) -> None:
    """`POST /api/v1/projects/` with `proxy_url`, as the administrator (HTTP Basic)."""
    assert server.auth is not None
    body = json.dumps({"name": PROXY_PROJECT, "proxy_url": f"http://127.0.0.1:{upstream.port}"}).encode()
    headers = {"Authorization": server.auth.basic_header(), "Content-Type": "application/json"}
    connection = Connection(server.port)
    try:
        connection.request("POST", "/api/v1/projects/", body, headers, expect=(201,))
    finally:
        connection.close()


def pull_seconds(server: Server, name: str) -> float:
    """The manifest by tag, then each blob it names, on one connection (token included)."""
    connection = Connection(server.port, server.auth)
    try:
        started = time.perf_counter()
        response = connection.request("GET", f"/v2/{name}/manifests/v1", headers={"Accept": client.OCI_MANIFEST})
        manifest = json.loads(response.body)
        for descriptor in [manifest["config"], *manifest["layers"]]:
            received = connection.download(f"/v2/{name}/blobs/{descriptor['digest']}")
            if received != descriptor["size"]:
                raise RuntimeError(f"pulled {received} bytes of a {descriptor['size']}-byte blob of {name}")
        return time.perf_counter() - started
    finally:
        connection.close()
