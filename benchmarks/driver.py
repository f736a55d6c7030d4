"""The benchmark of issue 6: one workload against Harbor-lite, then against the reference registry.

Run through `benchmarks/run`, which installs what this needs. Every figure is printed for both
registries with the ratio ours/reference and written as JSON. The two run one after the other on
the same machine, so a busy machine slows both; compare ratios, not absolute numbers, across runs.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TypeVar

from benchmarks import client, object_storage
from benchmarks.client import Blob, BlobMaker, Connection, Descriptor
from benchmarks.load import LoadResult, run_load
from benchmarks.proxy import measure_proxy_pulls
from benchmarks.report import Recorder, describe_machine, print_report, write_json
from benchmarks.servers import (
    BENCH_DATABASE,
    REFERENCE_BINARY,
    REPO_ROOT,
    MemorySampler,
    Server,
    drop_pull_buffer,
    recreate_database,
    start_embedded_harbor_lite,
    start_harbor_lite,
    start_reference,
)

MIB = 1024 * 1024
T = TypeVar("T")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PATTERN_SIZE = 64 * MIB
SMALL_LAYER_SIZES = (64 * 1024, 256 * 1024, 1024 * 1024)
POPULATE_THREADS = 16
# Upper bounds on each phase, so a registry that slows to a crawl ends the run instead of hanging it.
POPULATE_TIMEOUT_SECONDS = 3600.0
PUSH_TIMEOUT_SECONDS = 1800.0
LIST_REPEATS = 10
WALK_REPEATS = 3

# The hot-path figures are measured on ours once per auth mode: "token" sends a bearer token for
# `repository:bench/hot:pull` fetched once before the load (as clients fetch once and reuse it);
# "off" pulls anonymously from a public project, the nearest ours comes to no auth at all. The
# reference has no auth: it is measured once and its figures stand against both of ours.
AUTH_MODES = ("token", "off")
HOT_PRIVATE = "bench/hot"
PUBLIC_PROJECT = "pub"
HOT_PUBLIC = f"{PUBLIC_PROJECT}/hot"
# Garbage collection: each deleted image holds this many layers and one config, all small blobs.
GC_BLOBS_PER_IMAGE = 100
GC_LAYER_SIZE = 512
GC_REPOSITORIES = 16
GC_PUSHERS = 2
GC_TIMEOUT_SECONDS = 1800.0
SECTIONS = ("transfers", "hot", "pushes", "memory", "catalog", "proxy", "gc", object_storage.SECTION)


@dataclass(frozen=True)
class Workload:
    mode: str
    blob_size: int
    chunk_size: int
    large_blob_size: int
    repeats: int
    load_seconds: float
    connections: int
    repository_counts: tuple[int, ...]
    catalog_page_size: int
    push_clients: int
    pushes_per_client: int
    gc_blobs: int
    gc_grace_seconds: int
    sections: tuple[str, ...]
    # Ours: whether manifest pulls are audited (REGISTRY_AUDIT_PULLS); measure both, ABBA, to see its cost.
    audit_pulls: bool = True


@dataclass(frozen=True)
class SmallImage:
    blobs: list[tuple[bytes, Descriptor]]
    manifest: bytes


@dataclass(frozen=True)
class Material:
    """Everything pushed, made and hashed before any server starts, and the same for both."""

    monolithic_blobs: list[Blob]
    chunked_blobs: list[Blob]
    large_blob: Blob
    images_per_client: list[list[SmallImage]]
    # The layers of the images pulled through a proxy project (benchmarks/proxy.py).
    proxied_layers: list[Blob]


def connect(server: Server) -> Connection:
    """A connection that authenticates as the benchmark's administrator where the server wants it."""
    return Connection(server.port, server.auth)


def seconds_of(action: Callable[..., object], *arguments: object) -> float:
    started = time.perf_counter()
    action(*arguments)
    return time.perf_counter() - started


def small_image(layer_sizes: tuple[int, ...]) -> SmallImage:
    layers = [os.urandom(size) for size in layer_sizes]
    config = client.image_config(len(layers))
    layer_descriptors = [client.descriptor_of(layer, client.OCI_LAYER) for layer in layers]
    config_descriptor = client.descriptor_of(config, client.OCI_CONFIG)
    return SmallImage(
        blobs=[*zip(layers, layer_descriptors, strict=True), (config, config_descriptor)],
        manifest=client.image_manifest(config_descriptor, layer_descriptors),
    )


def push_image(connection: Connection, repository: str, tag: str, image: SmallImage) -> None:
    for content, descriptor in image.blobs:
        client.push_small_blob(connection, repository, content, descriptor)
    client.put_manifest(connection, repository, tag, image.manifest)


def prepare_material(workload: Workload) -> Material:
    maker = BlobMaker(PATTERN_SIZE)
    return Material(
        monolithic_blobs=[maker.make(workload.blob_size) for _ in range(workload.repeats)],
        chunked_blobs=[maker.make(workload.blob_size) for _ in range(workload.repeats)],
        large_blob=maker.make(workload.large_blob_size),
        images_per_client=[
            [small_image(SMALL_LAYER_SIZES) for _ in range(workload.pushes_per_client)]
            for _ in range(workload.push_clients)
        ],
        proxied_layers=[maker.make(workload.blob_size) for _ in range(workload.repeats)],
    )


def measure_blob_transfers(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    repository = "bench/blobs"
    connection = connect(server)
    try:
        monolithic, chunked = [], []
        for blob in material.monolithic_blobs:
            started = time.perf_counter()
            client.push_blob_monolithic(connection, repository, blob)
            monolithic.append(time.perf_counter() - started)
        for blob in material.chunked_blobs:
            started = time.perf_counter()
            client.push_blob_chunked(connection, repository, blob, workload.chunk_size)
            chunked.append(time.perf_counter() - started)
        pulls = []
        for blob in material.monolithic_blobs:
            started = time.perf_counter()
            received = connection.download(f"/v2/{repository}/blobs/{blob.digest}")
            pulls.append(time.perf_counter() - started)
            if received != blob.size:
                raise RuntimeError(f"pulled {received} bytes of a {blob.size}-byte blob")
    finally:
        connection.close()
    size_mib = workload.blob_size / MIB
    for key, label, durations in (
        ("blob_push_monolithic", "blob push, monolithic", monolithic),
        ("blob_push_chunked", f"blob push, {workload.chunk_size // MIB} MiB chunks", chunked),
        ("blob_pull", "blob pull", pulls),
    ):
        median_mib_s = size_mib / statistics.median(durations)
        recorder.record(server.label, key, f"{label} ({size_mib:.0f} MiB, median of 3)", "MiB/s", True, median_mib_s)


def create_public_project(server: Server, name: str) -> None:
    """`POST /api/v1/projects/` as the administrator (HTTP Basic: the management API is not /v2/)."""
    if server.auth is None:
        return
    body = json.dumps({"name": name, "public": True}).encode()
    headers = {"Authorization": server.auth.basic_header(), "Content-Type": "application/json"}
    connection = Connection(server.port)
    try:
        connection.request("POST", "/api/v1/projects/", body, headers, expect=(201,))
    finally:
        connection.close()


def hot_targets(repository: str, layer_digest: str) -> list[tuple[str, str, str, str, str | None]]:
    return [
        ("manifest_get", "GET manifest by tag", "GET", f"/v2/{repository}/manifests/latest", client.OCI_MANIFEST),
        ("blob_head", "HEAD blob", "HEAD", f"/v2/{repository}/blobs/{layer_digest}", None),
    ]


def hot_headers(server: Server, auth_mode: str, repository: str) -> dict[str, str]:
    """What the load generator sends: one pull token fetched before the load, or nothing."""
    if auth_mode == "token" and server.auth is not None:
        return {"Authorization": f"Bearer {server.auth.token((f'repository:{repository}:pull',))}"}
    return {}


def measure_hot_paths(server: Server, workload: Workload, recorder: Recorder) -> None:
    """Manifest GET by tag and blob HEAD, as a CI fleet resolving one image hammers them."""
    image = small_image((4096,))
    layer_digest = image.blobs[0][1].digest
    ours = server.auth is not None
    # Ours: a private repository for the token figures, a public one for anonymous pulls.
    repository_of = {"token": HOT_PRIVATE, "off": HOT_PUBLIC} if ours else {"token": HOT_PRIVATE, "off": HOT_PRIVATE}
    create_public_project(server, PUBLIC_PROJECT)
    connection = connect(server)
    try:
        for repository in sorted(set(repository_of.values())):
            push_image(connection, repository, "latest", image)
    finally:
        connection.close()
    base_url = f"http://127.0.0.1:{server.port}"
    # The reference has no auth: one measurement stands for both modes.
    modes = AUTH_MODES if ours else AUTH_MODES[:1]
    for auth_mode in modes:
        repository = repository_of[auth_mode]
        for key, label, method, path, accept in hot_targets(repository, layer_digest):
            headers = {**hot_headers(server, auth_mode, repository), **({"Accept": accept} if accept else {})}
            # A request first, as the load sends it: a refusal would make the figure one of errors.
            check = Connection(server.port)
            try:
                check.request(method, path, headers=headers)
            finally:
                check.close()
            # One second first so that both servers are past connection set-up and lazy imports.
            run_load(base_url + path, method, headers, workload.connections, 1)
            result = run_load(base_url + path, method, headers, workload.connections, workload.load_seconds)
            for recorded_mode in AUTH_MODES if not ours else (auth_mode,):
                record_load(server, workload, recorder, key, label, recorded_mode, result)


def record_load(
    server: Server, workload: Workload, recorder: Recorder, key: str, label: str, auth_mode: str, result: LoadResult
) -> None:
    auth = {"token": "token auth", "off": "auth off (anonymous, public project)"}[auth_mode]
    where = f"{label}, {auth}, {workload.connections} conns"
    prefix = f"{key}_auth_{auth_mode}"
    recorder.record(server.label, f"{prefix}_rps", where, "requests/s", True, result.requests_per_second)
    recorder.record(server.label, f"{prefix}_p99", f"{where}, p99", "ms", False, result.p99_ms)
    recorder.record(server.label, f"{prefix}_errors", f"{where}, errors", "requests", False, result.errors)


def measure_small_image_pushes(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    """Each client pushes its own images one after the other, all clients at once, like skopeo does."""
    barrier = threading.Barrier(workload.push_clients, timeout=60)

    def push_all(client_index: int) -> list[float]:
        connection = connect(server)
        try:
            barrier.wait()
            return [
                seconds_of(push_image, connection, f"bench/push-{client_index}", f"v{number}", image) * 1000
                for number, image in enumerate(material.images_per_client[client_index])
            ]
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(workload.push_clients) as pool:
        futures = [pool.submit(push_all, index) for index in range(workload.push_clients)]
        durations = [duration for future in futures for duration in future.result(timeout=PUSH_TIMEOUT_SECONDS)]
    elapsed = time.perf_counter() - started
    where = f"3-layer image push, {workload.push_clients} clients in parallel"
    recorder.record(
        server.label, "small_image_push_median", f"{where}, median", "ms", False, statistics.median(durations)
    )
    recorder.record(server.label, "small_image_push_rate", where, "images/s", True, len(durations) / elapsed)


def measure_memory(server: Server, material: Material, recorder: Recorder) -> None:
    """Memory of the server's processes while one large layer goes up, then comes down."""
    idle = MemorySampler(server)
    idle.sample()
    repository = "bench/large"
    blob = material.large_blob
    connection = connect(server)
    try:
        with MemorySampler(server) as upload:
            client.push_blob_monolithic(connection, repository, blob)
        with MemorySampler(server) as download:
            received = connection.download(f"/v2/{repository}/blobs/{blob.digest}")
        if received != blob.size:
            raise RuntimeError(f"pulled {received} bytes of a {blob.size}-byte blob")
    finally:
        connection.close()
    size = f"{blob.size / MIB:.0f} MiB layer"
    record = recorder.record
    record(server.label, "pss_idle_total", "PSS before, all server processes", "MiB", False, idle.peak_pss_kib / 1024)
    for key, sampler in (("upload", upload), ("download", download)):
        during = f"peak during a {size} {key}"
        record(
            server.label, f"pss_{key}_total", f"PSS {during}, all processes", "MiB", False, sampler.peak_pss_kib / 1024
        )
        record(
            server.label,
            f"rss_{key}_process",
            f"RSS {during}, largest process",
            "MiB",
            False,
            sampler.peak_process_rss_kib / 1024,
        )


def populate(server: Server, names: list[str], source: str, base: SmallImage) -> None:
    """Make each repository hold the base image: mount its blobs, then put its manifest."""
    local = threading.local()
    connections: list[Connection] = []
    lock = threading.Lock()

    def make_repository(name: str) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = connect(server)
            with lock:
                connections.append(connection)
        for _, descriptor in base.blobs:
            client.mount_blob(connection, name, descriptor.digest, source)
        client.put_manifest(connection, name, "v1", base.manifest)

    pool = ThreadPoolExecutor(POPULATE_THREADS)
    try:
        futures = [pool.submit(make_repository, name) for name in names]
        for future in as_completed(futures, timeout=POPULATE_TIMEOUT_SECONDS):
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for connection in connections:
            connection.close()


def walk_catalog(connection: Connection, page_size: int, max_pages: int) -> int:
    """Follow the catalog's Link headers to the end; returns how many repositories it listed."""
    path: str | None = f"/v2/_catalog?n={page_size}"
    listed = 0
    for _ in range(max_pages):
        if path is None:
            return listed
        response = connection.request("GET", path)
        listed += len(json.loads(response.body)["repositories"] or [])
        link = response.headers.get("Link")
        path = link.split(">", 1)[0].lstrip("<").strip() if link else None
    if path is not None:
        raise RuntimeError(f"the catalog walk did not end within {max_pages} pages")
    return listed


def measure_catalog(server: Server, workload: Workload, recorder: Recorder) -> None:
    """Catalog and tag list at growing repository counts; the repositories are added, not remade."""
    source = "bench/base"
    base = small_image((4096, 4096))
    connection = connect(server)
    try:
        push_image(connection, source, "v1", base)
        made = 0
        for count in workload.repository_counts:
            names = [f"bench/catalog-{index:05d}" for index in range(made, count)]
            elapsed = seconds_of(populate, server, names, source, base)
            made = count
            recorder.record(
                server.label, f"populate_{count}", f"populate to {count:,} repositories", "repos/s", True,
                len(names) / elapsed,
            )  # fmt: skip
            first_page = f"/v2/_catalog?n={workload.catalog_page_size}"
            first_page_ms = statistics.median(
                seconds_of(connection.request, "GET", first_page) * 1000 for _ in range(LIST_REPEATS)
            )
            max_pages = (count + 100) // workload.catalog_page_size + 10
            walks = []
            for _ in range(WALK_REPEATS):
                started = time.perf_counter()
                listed = walk_catalog(connection, workload.catalog_page_size, max_pages)
                walks.append((time.perf_counter() - started) * 1000)
                if listed < count:
                    raise RuntimeError(f"the catalog walk listed {listed} repositories of at least {count}")
            tag_list = "/v2/bench/catalog-00000/tags/list"
            tag_list_ms = statistics.median(
                seconds_of(connection.request, "GET", tag_list) * 1000 for _ in range(LIST_REPEATS)
            )
            at = f"at {count:,} repositories"
            record = recorder.record
            page = f"n={workload.catalog_page_size}"
            record(
                server.label,
                f"catalog_first_page_{count}",
                f"catalog first page ({page}) {at}",
                "ms",
                False,
                first_page_ms,
            )
            record(
                server.label,
                f"catalog_walk_{count}",
                f"catalog walk ({page}) {at}",
                "ms",
                False,
                statistics.median(walks),
            )
            record(server.label, f"tag_list_{count}", f"tag list of one repository {at}", "ms", False, tag_list_ms)
    finally:
        connection.close()


def run_in_pool(action: Callable[[int], T], count: int, threads: int) -> list[T]:
    """`action(index)` for every index in 0..count on `threads` threads, in completion order."""
    pool = ThreadPoolExecutor(threads)
    try:
        futures = [pool.submit(action, index) for index in range(count)]
        return [future.result() for future in as_completed(futures, timeout=POPULATE_TIMEOUT_SECONDS)]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def make_garbage(server: Server, workload: Workload, recorder: Recorder) -> None:
    """Push gc_blobs small blobs as images through the API in parallel, then delete the images:
    their blobs are what the collection must find and free."""
    ours = server.auth is not None
    images = max(1, workload.gc_blobs // GC_BLOBS_PER_IMAGE)
    local = threading.local()
    connections: list[Connection] = []
    lock = threading.Lock()

    def connection_of_thread() -> Connection:
        connection: Connection | None = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = connect(server)
            with lock:
                connections.append(connection)
        return connection

    def push(index: int) -> tuple[str, str]:
        connection = connection_of_thread()
        repository = f"bench/gc-{index % GC_REPOSITORIES:02d}"
        # GC_BLOBS_PER_IMAGE small blobs, random layers and a config, all its own.
        image = small_image((GC_LAYER_SIZE,) * (GC_BLOBS_PER_IMAGE - 1))
        for content, descriptor in image.blobs:
            client.push_blob_whole(connection, repository, content, descriptor.digest, single_post=ours)
        client.put_manifest(connection, repository, f"g{index}", image.manifest)
        return repository, client.descriptor_of(image.manifest, client.OCI_MANIFEST).digest

    def delete(index: int) -> None:
        repository, digest = pushed[index]
        client.delete_manifest(connection_of_thread(), repository, digest)

    try:
        started = time.perf_counter()
        pushed = run_in_pool(push, images, POPULATE_THREADS)
        push_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run_in_pool(delete, len(pushed), POPULATE_THREADS)
        delete_seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    blobs = images * GC_BLOBS_PER_IMAGE
    how = "POST ?digest=" if ours else "POST + PUT ?digest="
    recorder.record(
        server.label, "gc_populate_rate",
        f"GC set-up: push {blobs:,} blobs of {GC_LAYER_SIZE} B ({how}) in {images:,} images, "
        f"{POPULATE_THREADS} threads", "blobs/s", True, blobs / push_seconds,
    )  # fmt: skip
    recorder.record(server.label, "gc_populate_seconds", f"GC set-up: push {blobs:,} blobs", "s", False, push_seconds)
    recorder.record(
        server.label, "gc_delete_images_seconds", f"GC set-up: DELETE {images:,} images by digest", "s", False,
        delete_seconds,
    )  # fmt: skip


@dataclass
class PushTally:
    attempted: int = 0
    succeeded: int = 0
    failures: list[str] = field(default_factory=list)
    pushed: list[tuple[str, str, SmallImage]] = field(default_factory=list)


def push_while(server: Server, running: threading.Event, tally: PushTally, lock: threading.Lock, number: int) -> None:
    """Push fresh 3-layer images one after the other until `running` clears."""
    connection = connect(server)
    repository = f"bench/gc-live-{number}"
    index = 0
    try:
        while running.is_set():
            image = small_image((4096, 4096, 4096))
            tag = f"p{index}"
            index += 1
            with lock:
                tally.attempted += 1
            try:
                push_image(connection, repository, tag, image)
            except Exception as error:
                with lock:
                    tally.failures.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection = connect(server)
                continue
            with lock:
                tally.succeeded += 1
                tally.pushed.append((repository, tag, image))
    finally:
        connection.close()


def still_intact(server: Server, pushed: list[tuple[str, str, SmallImage]]) -> int:
    """How many of the images pushed during the collection still resolve, every blob present."""
    connection = connect(server)
    intact = 0
    try:
        for repository, tag, image in pushed:
            try:
                manifest = connection.request("GET", f"/v2/{repository}/manifests/{tag}",
                                              headers={"Accept": client.OCI_MANIFEST}).body  # fmt: skip
                for _, descriptor in image.blobs:
                    connection.request("HEAD", f"/v2/{repository}/blobs/{descriptor.digest}")
            except client.UnexpectedResponse as error:
                print(f"  image {repository}:{tag} pushed during the collection is broken after it: {error}")
                continue
            intact += manifest == image.manifest
    finally:
        connection.close()
    return intact


def job_seconds(server: Server, output: str) -> float | None:
    """The collection job's own run time (started_at to finished_at), without manage.py's start-up."""
    match = re.search(r"\(job (\d+)", output)
    if match is None or server.auth is None:
        return None
    connection = Connection(server.port)
    try:
        response = connection.request(
            "GET", f"/api/v1/jobs/{match.group(1)}/", headers={"Authorization": server.auth.basic_header()}
        )
    finally:
        connection.close()
    job = json.loads(response.body)
    if not job.get("started_at") or not job.get("finished_at"):
        return None
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def measure_gc_ours(server: Server, workload: Workload, recorder: Recorder) -> None:
    """`manage.py collectgarbage --grace-seconds 0` while GC_PUSHERS clients keep pushing images."""
    running = threading.Event()
    running.set()
    tally = PushTally()
    lock = threading.Lock()
    pushers = [
        threading.Thread(target=push_while, args=(server, running, tally, lock, number), daemon=True)
        for number in range(GC_PUSHERS)
    ]
    command = [sys.executable, "manage.py", "collectgarbage", "--grace-seconds", str(workload.gc_grace_seconds)]
    for pusher in pushers:
        pusher.start()
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=server.environment, capture_output=True, text=True,
            timeout=GC_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    finally:
        elapsed = time.perf_counter() - started
        running.clear()
        for pusher in pushers:
            pusher.join(timeout=PUSH_TIMEOUT_SECONDS)
    if completed.returncode != 0:
        raise RuntimeError(f"collectgarbage failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    result_match = re.search(r"^\{.*\}\s*$", completed.stdout, re.S | re.M)
    result = json.loads(result_match.group(0)) if result_match else {}
    intact = still_intact(server, tally.pushed)
    record = recorder.record
    label = server.label
    grace = f"--grace-seconds {workload.gc_grace_seconds}"
    record(label, "gc_seconds", f"GC: collection, wall time (ours: manage.py {grace}, online)", "s", False, elapsed)
    own = job_seconds(server, completed.stdout)
    if own is not None:
        record(label, "gc_job_seconds", "GC: collection job's own run time (started to finished)", "s", False, own)
    record(label, "gc_blobs_deleted", "GC: blobs deleted", "blobs", True, float(result.get("blobs_deleted", 0)))
    record(label, "gc_links_deleted", "GC: repository links deleted", "links", True,
           float(result.get("links_deleted", 0)))  # fmt: skip
    record(label, "gc_pushes_attempted", f"GC: image pushes attempted during it ({GC_PUSHERS} pushers)", "pushes",
           True, tally.attempted)  # fmt: skip
    record(label, "gc_pushes_succeeded", "GC: image pushes succeeded during it", "pushes", True, tally.succeeded)
    record(label, "gc_pushes_intact", "GC: of those, images whole after it", "pushes", True, intact)
    for failure in tally.failures[:5]:
        print(f"  a push during the collection failed: {failure}")


def measure_gc_reference(server: Server, recorder: Recorder) -> None:
    """The reference collects offline: stop it, then `docker-registry garbage-collect CONFIG`."""
    server.stop()
    if server.config_path is None:
        raise RuntimeError("the reference server has no config path")
    log_path = server.log_path.with_name("garbage-collect.log")
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        subprocess.run(
            [str(REFERENCE_BINARY), "garbage-collect", str(server.config_path)],
            stdout=log, stderr=subprocess.STDOUT, timeout=GC_TIMEOUT_SECONDS, check=True,
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = re.search(rb"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible", log_path.read_bytes())
    eligible = float(summary.group(2)) if summary else 0.0
    recorder.record(server.label, "gc_seconds", "GC: collection, wall time (reference: offline, stopped)", "s", False,
                    elapsed)  # fmt: skip
    recorder.record(server.label, "gc_blobs_deleted", "GC: blobs deleted", "blobs", True, eligible)


def measure_gc(server: Server, workload: Workload, recorder: Recorder) -> None:
    if workload.gc_blobs <= 0:
        return
    make_garbage(server, workload, recorder)
    if server.auth is not None:
        # With a grace window, the garbage must be older than it, or nothing is collected.
        time.sleep(workload.gc_grace_seconds + 1 if workload.gc_grace_seconds else 0)
        measure_gc_ours(server, workload, recorder)
    else:
        measure_gc_reference(server, recorder)


def measure_registry(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    print(f"\n== {server.label} on 127.0.0.1:{server.port}", flush=True)
    sections: dict[str, Callable[[], None]] = {
        "transfers": lambda: measure_blob_transfers(server, workload, material, recorder),
        "hot": lambda: measure_hot_paths(server, workload, recorder),
        "pushes": lambda: measure_small_image_pushes(server, workload, material, recorder),
        "memory": lambda: measure_memory(server, material, recorder),
        "catalog": lambda: measure_catalog(server, workload, recorder),
        "proxy": lambda: measure_proxy_pulls(server, material.proxied_layers, recorder),
        # Last: the reference's collection stops it.
        "gc": lambda: measure_gc(server, workload, recorder),
    }
    # The whole run's memory: what the registry costs the machine while it is worked hard.
    with MemorySampler(server, interval=1.0) as run:
        for name, measure in sections.items():
            if name in workload.sections:
                measure()
    recorder.record(
        server.label, "pss_run_total", "PSS of all server processes, peak over the run", "MiB", False,
        run.peak_pss_kib / 1024,
    )  # fmt: skip
    if server.auth is not None:
        print(f"  {server.label} tokens fetched by the harness: {server.auth.fetched}", flush=True)


def parse_workload(arguments: argparse.Namespace) -> Workload:
    quick = arguments.quick

    def pick(value: float | None, full: float, small: float) -> float:
        return value if value is not None else (small if quick else full)

    counts = arguments.repositories or ("200,1000" if quick else "1000,10000")
    return Workload(
        mode=("quick" if quick else "full") + ("-embedded" if arguments.embedded else ""),
        blob_size=int(pick(arguments.blob_mib, 512, 64) * MIB),
        chunk_size=int(arguments.chunk_mib * MIB),
        large_blob_size=int(pick(arguments.large_blob_mib, 2048, 256) * MIB),
        repeats=3,
        load_seconds=pick(arguments.load_seconds, 10, 3),
        connections=arguments.connections,
        repository_counts=tuple(sorted(int(count) for count in counts.split(","))),
        catalog_page_size=arguments.catalog_page_size,
        push_clients=arguments.push_clients,
        pushes_per_client=int(pick(arguments.pushes_per_client, 10, 3)),
        gc_blobs=int(pick(arguments.gc_blobs, 100_000, 5_000)),
        gc_grace_seconds=arguments.gc_grace_seconds,
        sections=arguments.only,
        audit_pulls=arguments.audit_pulls == "on",
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: 64 MiB blobs, 3 s load, 200/1000 repos, GC of 5000 blobs"
    )
    parser.add_argument("--blob-mib", type=float, help="blob pushed and pulled (default 512, quick 64)")
    parser.add_argument("--chunk-mib", type=float, default=16, help="PATCH size of the chunked push (default 16)")
    parser.add_argument("--large-blob-mib", type=float, help="layer of the memory figures (default 2048, quick 256)")
    parser.add_argument("--load-seconds", type=float, help="each wrk run (default 10, quick 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--repositories", help="catalog sizes, comma-separated (default 1000,10000; quick 200,1000)")
    parser.add_argument("--catalog-page-size", type=int, default=100, help="`n` of catalog pages (default 100)")
    parser.add_argument("--push-clients", type=int, default=8, help="parallel small-image pushers (default 8)")
    parser.add_argument("--pushes-per-client", type=int, help="small images each pusher sends (default 10, quick 3)")
    parser.add_argument(
        "--gc-blobs", type=int, help="blobs pushed, orphaned and collected (default 100000, quick 5000; 0 skips)"
    )
    parser.add_argument(
        "--gc-grace-seconds",
        type=int,
        default=0,
        help="ours: collectgarbage --grace-seconds (default 0: blobs uploaded a moment ago are garbage too, so "
        "pushes running during the collection may fail; with N > 0 the run waits until its garbage is N s old)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help=f"an admin connection; the benchmark drops and creates {BENCH_DATABASE} there",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated sections to run, of {','.join(SECTIONS)} (default: all); figures of one "
        "section are comparable only within a run",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="run ours as the README's first command does (scripts/serve: SQLite, the file broker, web, worker "
        "and beat, all measured) instead of gunicorn alone on Postgres",
    )
    parser.add_argument(
        "--audit-pulls",
        choices=("on", "off"),
        default="on",
        help="ours: record each manifest pull in the audit log (REGISTRY_AUDIT_PULLS, default on); run the hot "
        "section with each, in ABBA order, for the cost of pull auditing",
    )
    parser.add_argument("--output", type=Path, help="JSON figures (default benchmarks/results/<time>-<mode>.json)")
    arguments = parser.parse_args(argv)
    arguments.only = tuple(arguments.only.split(",")) if arguments.only else SECTIONS
    unknown = set(arguments.only) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: no section {', '.join(sorted(unknown))}; the sections are {', '.join(SECTIONS)}")
    return arguments


def _terminate(signum: int, frame: object) -> NoReturn:
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the servers and remove the data.
    raise KeyboardInterrupt(f"signal {signum}")


def _print_log_tail(server_label: str, log_path: Path, lines: int = 40) -> None:
    if log_path.exists():
        tail = log_path.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of the {server_label} log", *tail, sep="\n", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    workload = parse_workload(arguments)
    signal.signal(signal.SIGTERM, _terminate)
    machine = describe_machine(REFERENCE_BINARY)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = arguments.output or RESULTS_DIR / f"{stamp}-{workload.mode}.json"
    audit = "on" if workload.audit_pulls else "off"
    print(
        f"benchmark ({workload.mode}, pull auditing {audit}): {machine['cores']} cores, {machine['cpu_model']};"
        " preparing blobs",
        flush=True,
    )
    material = prepare_material(workload)
    recorder = Recorder()
    ours: Callable[[Path], Server] = (
        start_embedded_harbor_lite
        if arguments.embedded
        else lambda work_dir: start_harbor_lite(work_dir, arguments.postgres_url, workload.audit_pulls)
    )
    starters: list[tuple[str, Callable[[Path], Server]]] = [("harbor-lite", ours), ("reference", start_reference)]
    failure: str | None = None
    work_root = Path(tempfile.mkdtemp(prefix="harbor-bench-"))
    # The other sections share one pair of servers on disk; the object-storage section starts its own.
    on_disk = [name for name in workload.sections if name != object_storage.SECTION]
    try:
        for label, start in starters if on_disk else []:
            work_dir = work_root / label
            work_dir.mkdir()
            server = start(work_dir)
            try:
                measure_registry(server, workload, material, recorder)
            except Exception:
                _print_log_tail(label, server.log_path)
                raise
            finally:
                server.stop()
                # Each registry's blobs go before the next one starts: disk space, and no writeback
                # of the first one's files competing with the second's measurements.
                shutil.rmtree(work_dir, ignore_errors=True)
        if object_storage.SECTION in workload.sections:
            object_storage.measure_object_storage(
                work_root,
                arguments.postgres_url,
                material.monolithic_blobs,
                material.chunked_blobs,
                workload.chunk_size,
                workload.connections,
                workload.load_seconds,
                recorder,
            )
    except Exception as error:
        traceback.print_exc()
        failure = f"{type(error).__name__}: {error}"
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
        try:
            recreate_database(arguments.postgres_url, BENCH_DATABASE, create=False)
            drop_pull_buffer()
        except Exception as error:
            print(f"could not drop {BENCH_DATABASE} and its pull buffer: {error}", file=sys.stderr)
    print_report(machine, workload.mode, recorder)
    write_json(output, machine, asdict(workload), recorder, failure)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
