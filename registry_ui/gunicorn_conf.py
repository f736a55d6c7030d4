"""gunicorn settings for the registry. Threads, not sync workers: a 1 GiB layer upload holds a
request for minutes, and a sync worker would be killed by its timeout half way through."""

import ctypes
import gc
import os
import signal
import sys

bind = os.environ.get("REGISTRY_BIND", "0.0.0.0:5000")
# gunicorn's gthread worker, reading each request whole before a thread takes it (slow clients).
worker_class = "registry_ui.gunicorn_worker.WholeRequestWorker"
# Two processes a core, four threads each. A process takes whichever keep-alive connections it
# happens to accept, and with 2 processes of 8 threads, 32 connections opened at once all went to
# one of them in about one run in four, halving the requests served (its GIL was the limit).
# With 4 of 4 the same load stayed between 2,580 and 3,245 requests/s in 18 runs (issue 6).
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
threads = int(os.environ.get("REGISTRY_THREADS", "4"))
# The application is imported once, in the master, and the workers are forked with it: its pages
# (Django, DRF, the registry's modules: most of a worker's memory) stay shared instead of each
# worker importing its own copy. Nothing opens a connection or starts a thread at import.
preload_app = True
# Only the worker's heartbeat counts against this with gthread, not a long upload.
timeout = 120
keepalive = 75
# Large headers: docker sends long Accept lists and bearer tokens.
limit_request_field_size = 16384
accesslog = "-"
# One fixed socket path per host would be shared by every instance (tests start several).
control_socket_disable = True

# LOG_FORMAT=json (docker-compose.yml): gunicorn's own lines and its access lines as JSON objects,
# like the application's, with the request id the application echoed (registry_ui/logs.py).
if os.environ.get("LOG_FORMAT", "text") == "json":
    from registry_ui.logs import gunicorn_logging_config

    logconfig_dict = gunicorn_logging_config(os.environ.get("LOG_LEVEL", "INFO"))


# Prometheus multiprocess mode: each worker writes its samples to files in this folder and
# /metrics adds them up. Files of a previous run would be added too, so the master empties it.
def on_starting(server: object) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges (uploads in progress) must not count any more."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(getattr(worker, "pid", 0))


# Linux's prctl(2) option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def post_fork(server: object, worker: object) -> None:
    """A worker whose master is killed (kill -9, the OOM killer) goes with it, at once.

    Left alone, an orphaned gthread worker finishes its requests in flight first (a cut push
    waits for a body that never comes), holding the listening port, so a restarted registry
    failed to bind. Those requests are lost either way: nothing supervises the worker any more.
    Uploads stay whole (a blob appears only once verified); the stale-upload purge takes the rest.
    """
    if sys.platform != "linux":
        return  # prctl(2) is Linux's; elsewhere an orphan finishes its requests first, as gunicorn does.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def pre_fork(server: object, worker: object) -> None:
    """The preloaded objects go to a generation the collector never walks: a collection in a
    worker writes to every object it visits, which would copy the shared page it lives on."""
    gc.freeze()
