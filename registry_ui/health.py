"""Health endpoints for docker-compose, a load balancer or an orchestrator.

`/health/live`: the process answers (restart it if not). `/health/ready`: it can serve (send it
traffic): the database answers, Redis answers when configured, and the blob store takes a
write. JSON, 200 or 503. Less than REGISTRY_STORAGE_MIN_FREE_BYTES free is a warning in the
answer, not a failure: a registry that refused traffic (compose starts nginx, the worker and beat
only once web is ready) could not serve pulls, nor run the collection that frees the disk. A
failing check's details go to the log, not to the answer: the answer may be public, and an error
message can name hosts and users.
"""

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from v2api.storage import blobstore

logger = logging.getLogger(__name__)

# A check that hangs is a failed check: the probe must answer well inside compose's timeout.
REDIS_TIMEOUT_SECONDS = 2


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_storage() -> None:
    blobstore.store().check_writable()


def _warnings() -> list[str]:
    # A full disk still takes a two-byte probe now and then (freed blocks, reserved ones), and
    # pushes fail long before it is full to the byte: the free space is what tells it is filling.
    # A bucket has no free space to read.
    if settings.REGISTRY_STORAGE != "filesystem":
        return []
    try:
        free = shutil.disk_usage(Path(settings.REGISTRY_STORAGE_ROOT)).free
    except OSError:
        return []  # the storage check says what is wrong
    if free >= settings.REGISTRY_STORAGE_MIN_FREE_BYTES:
        return []
    logger.warning("storage has %d bytes free, under %d", free, settings.REGISTRY_STORAGE_MIN_FREE_BYTES)
    return ["storage: low free space"]


@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """`GET /health/live`: the process is up and Django answers."""
    return JsonResponse({"status": "ok"})


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """`GET /health/ready`: database, Redis (when REDIS_URL is set) and storage, each ok or failed."""
    checks: dict[str, Callable[[], None]] = {"database": _check_database, "storage": _check_storage}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:
            # Any failure means "not ready"; the probe itself must never answer 500.
            logger.warning("readiness check %s failed: %s", name, error, extra={"check": name})
            results[name] = f"failed: {type(error).__name__}"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results, "warnings": _warnings()},
        status=200 if ready else 503,
    )
