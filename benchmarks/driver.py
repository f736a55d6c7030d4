"""The benchmark of issue 6: one workload against Harbor-lite, then against the reference registry.

Run through `benchmarks/run`, which installs what this needs. Every figure is printed for both
registries with the ratio ours/reference and written as JSON. The two run one after the other on
the same machine, so a busy machine slows both; compare ratios, not absolute numbers, across runs.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from benchmarks import client
from benchmarks.client import Blob, BlobMaker, Connection, Descriptor
from benchmarks.load import run_load
from benchmarks.report import Recorder, describe_machine, print_report, write_json
from benchmarks.servers import (
    BENCH_DATABASE,
    REFERENCE_BINARY,
    RssSampler,
    Server,
    recreate_database,
    start_harbor_lite,
    start_reference,
)

MIB = 1024 * 1024
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PATTERN_SIZE = 64 * MIB
SMALL_LAYER_SIZES = (64 * 1024, 256 * 1024, 1024 * 1024)
POPULATE_THREADS = 16
# Upper bounds on each phase, so a registry that slows to a crawl ends the run instead of hanging it.
POPULATE_TIMEOUT_SECONDS = 3600.0
PUSH_TIMEOUT_SECONDS = 1800.0
LIST_REPEATS = 10
WALK_REPEATS = 3

# The hot-path figures are measured once per auth mode.
# TODO(benchmarks): add "token" when the accounts issue lands bearer auth on /v2/: fetch one token
# for `repository:bench/hot:pull` before the load (clients fetch once and reuse it) and send it as
# `Authorization: Bearer` through auth_headers(). Not done yet because /v2/ has no auth to turn on.
# The reference stays without auth in both modes: that is the fair baseline.
AUTH_MODES = ("off",)


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
    )


def measure_blob_transfers(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    repository = "bench/blobs"
    connection = Connection(server.port)
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


def auth_headers(server: Server, auth_mode: str) -> dict[str, str]:
    """Headers that authenticate the load generator's requests in this auth mode."""
    if auth_mode == "off":
        return {}
    raise NotImplementedError(f"auth mode {auth_mode!r} (see the TODO at AUTH_MODES)")


def measure_hot_paths(server: Server, workload: Workload, recorder: Recorder) -> None:
    """Manifest GET by tag and blob HEAD, as a CI fleet resolving one image hammers them."""
    repository = "bench/hot"
    image = small_image((4096,))
    connection = Connection(server.port)
    try:
        push_image(connection, repository, "latest", image)
    finally:
        connection.close()
    layer_digest = image.blobs[0][1].digest
    base_url = f"http://127.0.0.1:{server.port}"
    targets = (
        ("manifest_get", "GET manifest by tag", "GET", f"/v2/{repository}/manifests/latest", client.OCI_MANIFEST),
        ("blob_head", "HEAD blob", "HEAD", f"/v2/{repository}/blobs/{layer_digest}", None),
    )
    for auth_mode in AUTH_MODES:
        for key, label, method, path, accept in targets:
            headers = {**auth_headers(server, auth_mode), **({"Accept": accept} if accept else {})}
            # One second first so that both servers are past connection set-up and lazy imports.
            run_load(base_url + path, method, headers, workload.connections, 1)
            result = run_load(base_url + path, method, headers, workload.connections, workload.load_seconds)
            where = f"{label}, auth {auth_mode}, {workload.connections} connections"
            recorder.record(
                server.label, f"{key}_auth_{auth_mode}_rps", where, "requests/s", True, result.requests_per_second
            )
            recorder.record(server.label, f"{key}_auth_{auth_mode}_p99", f"{where}, p99", "ms", False, result.p99_ms)
            recorder.record(
                server.label, f"{key}_auth_{auth_mode}_errors", f"{where}, errors", "requests", False, result.errors
            )


def measure_small_image_pushes(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    """Each client pushes its own images one after the other, all clients at once, like skopeo does."""
    barrier = threading.Barrier(workload.push_clients, timeout=60)

    def push_all(client_index: int) -> list[float]:
        connection = Connection(server.port)
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
    """Peak RSS of the server's processes while one large layer goes up, then comes down."""
    idle = RssSampler(server)
    idle.sample()
    repository = "bench/large"
    blob = material.large_blob
    connection = Connection(server.port)
    try:
        with RssSampler(server) as upload:
            client.push_blob_monolithic(connection, repository, blob)
        with RssSampler(server) as download:
            received = connection.download(f"/v2/{repository}/blobs/{blob.digest}")
        if received != blob.size:
            raise RuntimeError(f"pulled {received} bytes of a {blob.size}-byte blob")
    finally:
        connection.close()
    size = f"{blob.size / MIB:.0f} MiB layer"
    record = recorder.record
    record(server.label, "rss_idle_total", "RSS before, all server processes", "MiB", False, idle.peak_total_kib / 1024)
    for key, sampler in (("upload", upload), ("download", download)):
        during = f"peak RSS during a {size} {key}"
        record(
            server.label, f"rss_{key}_total", f"{during}, all processes", "MiB", False, sampler.peak_total_kib / 1024
        )
        record(
            server.label,
            f"rss_{key}_process",
            f"{during}, largest process",
            "MiB",
            False,
            sampler.peak_process_kib / 1024,
        )


def populate(server: Server, names: list[str], source: str, base: SmallImage) -> None:
    """Make each repository hold the base image: mount its blobs, then put its manifest."""
    local = threading.local()
    connections: list[Connection] = []
    lock = threading.Lock()

    def make_repository(name: str) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = Connection(server.port)
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
    connection = Connection(server.port)
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


def measure_registry(server: Server, workload: Workload, material: Material, recorder: Recorder) -> None:
    print(f"\n== {server.label} on 127.0.0.1:{server.port}", flush=True)
    measure_blob_transfers(server, workload, material, recorder)
    measure_hot_paths(server, workload, recorder)
    measure_small_image_pushes(server, workload, material, recorder)
    measure_memory(server, material, recorder)
    measure_catalog(server, workload, recorder)


def parse_workload(arguments: argparse.Namespace) -> Workload:
    quick = arguments.quick

    def pick(value: float | None, full: float, small: float) -> float:
        return value if value is not None else (small if quick else full)

    counts = arguments.repositories or ("200,1000" if quick else "1000,10000")
    return Workload(
        mode="quick" if quick else "full",
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
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: 64 MiB blobs, 3 s load, 200/1000 repos")
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
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help=f"an admin connection; the benchmark drops and creates {BENCH_DATABASE} there",
    )
    parser.add_argument("--output", type=Path, help="JSON figures (default benchmarks/results/<time>-<mode>.json)")
    return parser.parse_args(argv)


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
    print(f"benchmark ({workload.mode}): {machine['cores']} cores, {machine['cpu_model']}; preparing blobs", flush=True)
    material = prepare_material(workload)
    recorder = Recorder()
    starters: list[tuple[str, Callable[[Path], Server]]] = [
        ("harbor-lite", lambda work_dir: start_harbor_lite(work_dir, arguments.postgres_url)),
        ("reference", start_reference),
    ]
    failure: str | None = None
    work_root = Path(tempfile.mkdtemp(prefix="harbor-bench-"))
    try:
        for label, start in starters:
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
    except Exception as error:
        traceback.print_exc()
        failure = f"{type(error).__name__}: {error}"
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
        try:
            recreate_database(arguments.postgres_url, BENCH_DATABASE, create=False)
        except Exception as error:
            print(f"could not drop {BENCH_DATABASE}: {error}", file=sys.stderr)
    print_report(machine, workload.mode, recorder)
    write_json(output, machine, asdict(workload), recorder, failure)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
