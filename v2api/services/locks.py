"""Singleton jobs: two garbage collectors (or retention runs) never run at once, on any host;
and work done once for many waiting requests (a proxy project's fetch of a cold blob).

On Postgres a session advisory lock does it across every host that shares the database; on
the embedded SQLite run there is one host, and a file lock under the storage root does it.
"""

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from v2api.storage import paths


class AlreadyRunning(Exception):
    """Another process holds the lock: the job is running elsewhere right now."""


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the lock named `name` for the block, or raise AlreadyRunning at once."""
    if connection.vendor == "postgresql":
        key = _key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                raise AlreadyRunning(name)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    lock_path = paths.locks_dir(Path(settings.REGISTRY_STORAGE_ROOT)) / f"{name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(name) from None
        yield


@contextmanager
def waiting_for(name: str) -> Iterator[None]:
    """Hold the lock named `name` for the block, waiting first while another process holds it."""
    if connection.vendor == "postgresql":
        key = _key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    lock_path = paths.locks_dir(Path(settings.REGISTRY_STORAGE_ROOT)) / f"{_key(name)}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"harbor-lite:{name}".encode()).digest()[:8], "big", signed=True)
