"""The registry's Prometheus metrics: requests per route, blob bytes in and out, uploads, GC results.
registry_ui/metrics.py serves them at /metrics.

gunicorn runs several worker processes, and a scrape reaches only one of them, so with
PROMETHEUS_MULTIPROC_DIR set (as docker-compose.yml does) every process writes its samples to
files in that folder and /metrics adds them up (prometheus_client's multiprocess mode; gunicorn's
conf empties the folder at start and drops a dead worker's live gauges).

Garbage collection runs in a Celery worker, in another container or on another host, so its
results do not go through those files: `record_gc_run` keeps them in the shared cache (Redis in
production) and /metrics reads them back at scrape time (`gc_state`).
"""

import logging
import os
import time

from django.core.cache import cache
from prometheus_client import Counter, Gauge, Histogram
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

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
    and /metrics is served by the web processes. Losing Redis only resets these counters, and an
    unreachable Redis loses this run's figures, never the finished collection (logged instead).
    """
    try:
        _add_gc_run(blobs_deleted, bytes_freed, seconds)
    except (RedisError, OSError) as error:
        logger.warning("GC run not recorded in the metrics, the cache is unreachable: %s", error)


def _add_gc_run(blobs_deleted: int, bytes_freed: int, seconds: float) -> None:
    state = gc_state()
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


def gc_state() -> dict[str, float]:
    """The GC results record_gc_run kept: totals and the last run's figures, zeros before any run."""
    state = {field: 0.0 for field in _GC_FIELDS}
    state.update(cache.get(_GC_CACHE_KEY) or {})
    return state


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)


def record_blob_bytes_received(count: int) -> None:
    BLOB_BYTES_RECEIVED.inc(count)


def record_blob_bytes_sent(count: int, served_by: str) -> None:
    BLOB_BYTES_SENT.labels(served_by=served_by).inc(count)
