"""`GET /metrics`: the Prometheus text format of the registry's metrics (v2api/metrics.py), added
up over every gunicorn worker in multiprocess mode, plus what is read at scrape time from shared
state: GC results (the cache) and open uploads (the database)."""

import os
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from v2api.metrics import gc_state


class SharedStateCollector(Collector):
    """Metrics read at scrape time from shared state: GC results (cache) and open uploads (database)."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        from v2api.models import Upload  # Models load after the app registry; this module loads before.

        state = gc_state()
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
