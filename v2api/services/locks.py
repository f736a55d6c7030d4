"""Locks that hold on every host sharing the database: singleton jobs (two garbage collectors,
or retention runs, never run at once), the requests that change one upload, and work done once
for many waiting requests (a proxy project's fetch of a cold blob).

On Postgres a session advisory lock does it across every host that shares the database; on
the embedded SQLite run there is one host, and a file lock under the storage root does it.
"""

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from v2api.storage import paths

# Uploads on a SQLite run share this many lock files; two uploads on one file wait for each other.
UPLOAD_LOCK_STRIPES = 64
# How often a bounded wait asks for the lock again, in seconds.
RETRY_INTERVAL = 0.1


class AlreadyRunning(Exception):
    """Another process holds the lock: the job is running elsewhere right now."""


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the lock named `name` for the block, or raise AlreadyRunning at once."""
    with _held(name, f"{name}.lock", wait_seconds=0):
        yield


@contextmanager
def waiting_for(name: str, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the lock named `name` for the block, waiting first while another process holds it:
    for as long as it takes, or at most `wait_seconds`, then raise AlreadyRunning."""
    with _held(name, f"{_advisory_key(name)}.lock", wait_seconds):
        yield


@contextmanager
def upload_lock(upload_id: str) -> Iterator[None]:
    """Hold one upload for the block, waiting for whoever holds it: two PATCHes to one upload, or
    a PATCH and the PUT that finishes it, sent to two web nodes, must not interleave.

    The filesystem store's file lock only holds on one host (not over NFS); an S3 upload has no
    file at all. On SQLite there is one host: a file lock under the storage root, one of
    UPLOAD_LOCK_STRIPES files picked by the upload's id, so the lock files never pile up.
    """
    stripe = int.from_bytes(hashlib.sha256(upload_id.encode()).digest()[:4], "big") % UPLOAD_LOCK_STRIPES
    with _held(f"upload:{upload_id}", f"upload-{stripe}.lock", wait_seconds=None):
        yield


@contextmanager
def _held(name: str, lock_file_name: str, wait_seconds: float | None) -> Iterator[None]:
    """The lock named `name`: a session advisory lock on Postgres, the file `lock_file_name` under
    the storage root on SQLite. Raise AlreadyRunning when another still holds it after
    `wait_seconds` (0: at once; None: never, wait for it)."""
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            if wait_seconds is None:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            else:

                def attempt() -> bool:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                    return bool(cursor.fetchone()[0])

                _take_within(wait_seconds, name, attempt)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    lock_path = paths.locks_dir(Path(settings.REGISTRY_STORAGE_ROOT)) / lock_file_name
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        if wait_seconds is None:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        else:

            def attempt() -> bool:
                try:
                    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            _take_within(wait_seconds, name, attempt)
        yield


def _take_within(wait_seconds: float, name: str, attempt: Callable[[], bool]) -> None:
    """Repeat `attempt` until it takes the lock; raise AlreadyRunning once `wait_seconds` passed."""
    deadline = time.monotonic() + wait_seconds
    while not attempt():
        if time.monotonic() >= deadline:
            raise AlreadyRunning(name)
        time.sleep(RETRY_INTERVAL)


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"harbor-lite:{name}".encode()).digest()[:8], "big", signed=True)
