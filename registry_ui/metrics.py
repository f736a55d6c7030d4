"""Prometheus metrics at /metrics: requests per route, blob bytes in and out, uploads, GC results.

gunicorn runs several worker processes, and a scrape reaches only one of them, so with
PROMETHEUS_MULTIPROC_DIR set (as docker-compose.yml does) every process writes its samples to
files in that folder and /metrics adds them up (prometheus_client's multiprocess mode; gunicorn's
conf empties the folder at start and drops a dead worker's live gauges).

Garbage collection runs in a Celery worker, in another container or on another host, so its
results do not go through those files: `record_gc_run` keeps them in the shared cache (Redis in
production) and /metrics reads them back at scrape time.
"""

import os
import time
from collections.abc import Iterator

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

# In multiprocess mode each metric opens its file as it is made, so the folder must exist first;
# gunicorn's conf also makes it, but manage.py and the Celery worker import this module too.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

REQUESTS = Counter(
    "registry_http_requests_total",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "registry_http_request_duration_seconds",
    "Time to the response's headers (a streamed body is not included), by route name and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
BLOB_BYTES_RECEIVED = Counter("registry_blob_bytes_received_total", "Blob bytes received in upload requests.")
BLOB_BYTES_SENT = Counter(
    "registry_blob_bytes_sent_total",
    "Blob bytes sent in downloads; served_by=proxy when nginx sent them through X-Accel-Redirect.",
    ["served_by"],
)
UPLOAD_REQUESTS_IN_PROGRESS = Gauge(
    "registry_upload_requests_in_progress",
    "Upload requests (POST, PATCH, PUT of blob bytes) being received right now.",
    multiprocess_mode="livesum",
)

_GC_CACHE_KEY = "registry:metrics:gc"
_GC_FIELDS = (
    "runs",
    "blobs_deleted",
    "bytes_freed",
    "last_seconds",
    "last_blobs_deleted",
    "last_bytes_freed",
    "last_finished_at",
)


def record_gc_run(blobs_deleted: int, bytes_freed: int, seconds: float) -> None:
    """The GC hook: call it once when a (non dry-run) collection finishes.

    Kept in the shared cache, not in this process, because the collector runs in a Celery worker
    and /metrics is served by the web processes. Losing Redis only resets these counters.
    """
    state = {field: 0.0 for field in _GC_FIELDS}
    state.update(cache.get(_GC_CACHE_KEY) or {})
    state["runs"] += 1
    state["blobs_deleted"] += blobs_deleted
    state["bytes_freed"] += bytes_freed
    state.update(
        last_seconds=seconds,
        last_blobs_deleted=blobs_deleted,
        last_bytes_freed=bytes_freed,
        last_finished_at=time.time(),
    )
    # Two collectors never run at once (GC is a singleton), so read-modify-write cannot lose a run.
    cache.set(_GC_CACHE_KEY, state, timeout=None)


class SharedStateCollector(Collector):
    """Metrics read at scrape time from shared state: GC results (cache) and open uploads (database)."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        from v2api.models import Upload  # Models load after the app registry; this module loads before.

        state = {field: 0.0 for field in _GC_FIELDS}
        state.update(cache.get(_GC_CACHE_KEY) or {})
        yield CounterMetricFamily("registry_gc_runs", "Garbage collections finished.", value=state["runs"])
        yield CounterMetricFamily(
            "registry_gc_blobs_deleted", "Blobs the garbage collector deleted.", value=state["blobs_deleted"]
        )
        yield CounterMetricFamily(
            "registry_gc_bytes_freed", "Bytes the garbage collector freed on disk.", value=state["bytes_freed"]
        )
        yield GaugeMetricFamily(
            "registry_gc_last_run_seconds", "How long the last collection took.", value=state["last_seconds"]
        )
        yield GaugeMetricFamily(
            "registry_gc_last_run_blobs_deleted",
            "Blobs the last collection deleted.",
            value=state["last_blobs_deleted"],
        )
        yield GaugeMetricFamily(
            "registry_gc_last_run_bytes_freed", "Bytes the last collection freed.", value=state["last_bytes_freed"]
        )
        yield GaugeMetricFamily(
            "registry_gc_last_run_timestamp_seconds",
            "When the last collection finished (Unix time; 0 if none since Redis started).",
            value=state["last_finished_at"],
        )
        yield GaugeMetricFamily(
            "registry_uploads_open",
            "Blob uploads started and not yet finished or cancelled.",
            value=Upload.objects.count(),
        )


def metrics_registry() -> CollectorRegistry:
    """What a scrape reads: every gunicorn worker's samples in multiprocess mode, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


# Read at scrape time from shared state, the same in both modes: kept apart from the per-process samples.
_SHARED_STATE = CollectorRegistry()
_SHARED_STATE.register(SharedStateCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """`GET /metrics`: the Prometheus text format."""
    output = generate_latest(metrics_registry()) + generate_latest(_SHARED_STATE)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)


def record_blob_bytes_received(count: int) -> None:
    BLOB_BYTES_RECEIVED.inc(count)


def record_blob_bytes_sent(count: int, served_by: str) -> None:
    BLOB_BYTES_SENT.labels(served_by=served_by).inc(count)
