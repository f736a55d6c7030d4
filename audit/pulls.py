"""Pull events: buffered, then written in batches, never an INSERT per pull.

Pulls are the hot path (v2api/fast_reads.py answers most of them in one indexed query), so a pull
only appends its values to a list in its process's memory (`record_pull`, under a microsecond). A
thread of each web process writes them out as lines (an id, the values: `Pull`) and sends them
every SEND_INTERVAL_SECONDS; who the subject is and the time's form are worked out by the flush:

- with Redis (REDIS_URL), in one `RPUSH` to a list that every web process shares, which beat's
  `audit.tasks.flush_pull_events` writes to Postgres every REGISTRY_AUDIT_FLUSH_SECONDS; a Redis
  that cannot be reached keeps the lines in the process until it can;
- without Redis (the embedded run), straight to Postgres, in a batch.

A flush copies a batch, inserts it and only then trims it from the buffer, so a crash loses
nothing written to Redis; each event carries its own id (unique in the table), so a batch written
twice after a crash between the commit and the trim is stored once. What a process still holds is
sent when it exits normally (gunicorn's graceful stop); a process killed outright loses at most
its last second of pulls. Both buffers are bounded (MAX_BUFFERED, MAX_IN_PROCESS): past them, with
nothing flushing for a long while, the oldest pulls are dropped, never the registry's memory.
Functions in `batch_hooks` see each batch inside the flush's transaction (the registry keeps each
tag's "last pulled" from it, v2api/apps.py).
"""

import atexit
import hashlib
import itertools
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Protocol

import redis
from django.conf import settings
from django.db import close_old_connections, connection, transaction

from audit import actions
from audit.context import actor_for_subject
from audit.models import AuditEvent
from audit.recorder import ACTOR_NAME_LENGTH, RESOURCE_LENGTH, USER_AGENT_LENGTH, storable
from oci.names import project_name_of

logger = logging.getLogger(__name__)

MAX_BUFFERED = 1_000_000
MAX_IN_PROCESS = 100_000
FLUSH_BATCH = 5_000
SEND_BATCH = 1_000
SEND_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class Pull:
    """One buffered pull; in the buffer, a JSON list of these fields in this order."""

    event_id: str
    occurred_at: float  # Unix time
    subject: str
    address: str
    user_agent: str
    repository: str
    reference: str
    digest: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at, UTC)


batch_hooks: list[Callable[[list[Pull]], object]] = []


def record_pull(*, subject: str, address: str, user_agent: str, repository: str, reference: str, digest: str) -> None:
    """Buffer one manifest pull, unless REGISTRY_AUDIT_PULLS is off. Never raises, never waits for
    the network."""
    if settings.REGISTRY_AUDIT_PULLS:
        # The request only keeps the values; the sending thread writes them out (_line).
        _outbox.append((time.time(), subject, address, user_agent[:USER_AGENT_LENGTH], repository, reference, digest))


def flush_pulls() -> int:
    """Write every buffered pull to the audit log; returns how many. This process's own pulls are
    sent first (the others' are sent by their threads). A flush that finds another one running
    returns 0 at once: that one writes them."""
    _outbox.send()
    written = 0
    with _exclusive() as holding:
        if not holding:
            return 0
        while lines := buffer().peek(FLUSH_BATCH):
            pulls = [_parse(line) for line in lines]
            batch = [pull for pull in pulls if pull is not None]
            with transaction.atomic():
                AuditEvent.objects.bulk_create([_event(pull) for pull in batch], ignore_conflicts=True)
                for hook in batch_hooks:
                    hook(batch)
            buffer().drop(len(lines))
            written += len(batch)
    return written


def _event(pull: Pull) -> AuditEvent:
    reference = f"@{pull.reference}" if ":" in pull.reference else f":{pull.reference}"
    actor = actor_for_subject(pull.subject)
    return AuditEvent(
        event_id=uuid.UUID(pull.event_id),
        occurred_at=pull.time,
        actor_kind=actor.kind,
        actor_name=storable(actor.name, ACTOR_NAME_LENGTH),
        client_address=pull.address,
        user_agent=storable(pull.user_agent, USER_AGENT_LENGTH),
        action=actions.PULL,
        project=project_name_of(pull.repository),
        resource=(pull.repository + reference)[:RESOURCE_LENGTH],
        detail={"digest": pull.digest},
    )


def _parse(line: bytes | str) -> Pull | None:
    # Checked here, so one bad line is dropped rather than failing its whole batch at every flush.
    try:
        pull = Pull(*json.loads(line))
        uuid.UUID(pull.event_id)
        pull.time  # noqa: B018  (reads the time, or raises)
        if not all(isinstance(value, str) for value in astuple(pull)[2:]):
            raise TypeError("a text field is not text")
        return pull
    except (ValueError, TypeError, OverflowError, OSError):
        logger.warning("dropped an unreadable pull event from the buffer: %r", line[:200])
        return None


class _Buffer(Protocol):
    def append(self, lines: list[str]) -> None: ...
    def peek(self, count: int) -> list[bytes | str]: ...
    def drop(self, count: int) -> None: ...


class RedisBuffer:
    """A Redis list shared by every process; appends and trims are single commands."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)

    def append(self, lines: list[str]) -> None:
        pipeline = self.client.pipeline(transaction=False)
        pipeline.rpush(buffer_key(), *lines)
        pipeline.ltrim(buffer_key(), -MAX_BUFFERED, -1)
        pipeline.execute()

    def peek(self, count: int) -> list[bytes | str]:
        return list(self.client.lrange(buffer_key(), 0, count - 1))

    def drop(self, count: int) -> None:
        self.client.ltrim(buffer_key(), count, -1)


class MemoryBuffer:
    """Without Redis: the lines wait here until the sending thread writes them to Postgres."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: deque[str] = deque(maxlen=MAX_IN_PROCESS)

    def append(self, lines: list[str]) -> None:
        with self.lock:
            self.lines.extend(lines)

    def peek(self, count: int) -> list[bytes | str]:
        with self.lock:
            return [self.lines[index] for index in range(min(count, len(self.lines)))]

    def drop(self, count: int) -> None:
        with self.lock:
            for _ in range(min(count, len(self.lines))):
                self.lines.popleft()


class _Outbox:
    """The pulls this process recorded and has not sent yet, and the thread that sends them.

    `append` is all a request does: a deque's append is atomic, so it takes no lock. The thread
    is started by the first pull of each process; a forked gunicorn worker starts afresh. No
    system call per pull (on a virtual machine a getpid or a urandom costs microseconds): event
    ids are a random number drawn once per process and a counter, given by the thread. Lines
    that could not be sent keep their ids (`unsent`): sent again, they are stored once."""

    def __init__(self) -> None:
        self._fresh()

    def _fresh(self) -> None:
        self.lines: deque[tuple[float, str, str, str, str, str, str]] = deque(maxlen=MAX_IN_PROCESS)
        self.unsent: deque[str] = deque(maxlen=MAX_IN_PROCESS)
        self.sending = threading.Lock()
        self.started = False
        self.failing = False
        self.id_prefix = secrets.randbits(64) << 64
        self.counter = itertools.count()

    def _line(self, values: tuple[float, str, str, str, str, str, str]) -> str:
        # The fields of Pull, in order; who the subject is and the time's form are worked out by
        # the flush, off the web processes.
        return json.dumps([f"{self.id_prefix | next(self.counter):032x}", *values], separators=(",", ":"))

    def append(self, line: tuple[float, str, str, str, str, str, str]) -> None:
        self.lines.append(line)
        if not self.started and run_sender:
            self._start_sender()

    def send(self) -> int:
        """Hand what is pending to the buffer (and, without Redis, write it); returns how many lines."""
        sent = 0
        with self.sending:
            while self.unsent or self.lines:
                batch = [self.unsent.popleft() for _ in range(min(SEND_BATCH, len(self.unsent)))]
                batch += [
                    self._line(self.lines.popleft()) for _ in range(min(SEND_BATCH - len(batch), len(self.lines)))
                ]
                try:
                    buffer().append(batch)
                except redis.RedisError as error:
                    # Kept for the next round, in order; the bound drops the oldest if Redis stays away.
                    self.unsent.extendleft(reversed(batch))
                    if not self.failing:
                        logger.warning("pull events wait in this process: Redis cannot be reached (%s)", error)
                    self.failing = True
                    return sent
                sent += len(batch)
            self.failing = False
        if sent and isinstance(buffer(), MemoryBuffer):
            flush_pulls()
        return sent

    def _start_sender(self) -> None:
        with self.sending:
            if self.started:
                return
            self.started = True
        threading.Thread(target=self._send_forever, name="audit-pull-sender", daemon=True).start()
        atexit.register(self._send_at_exit)

    def _send_forever(self) -> None:
        while run_sender:
            time.sleep(SEND_INTERVAL_SECONDS)
            try:
                self.send()
            except Exception:
                # Postgres away (without Redis): the lines stay buffered for the next round.
                logger.exception("sending pull events failed")
            finally:
                close_old_connections()

    def _send_at_exit(self) -> None:
        try:
            self.send()
        except Exception:
            logger.exception("pull events of this process were lost at exit")


_outbox = _Outbox()
# A forked child holds none of its parent's pulls (the parent sends them) and no sending thread.
os.register_at_fork(after_in_child=_outbox._fresh)
# Tests send explicitly (flush_pulls), on the test's own database connection.
run_sender = True
_buffer: _Buffer | None = None
_buffer_lock = threading.Lock()
_memory_flush = threading.Lock()


def buffer_key() -> str:
    """The Redis list of this registry's pulls, named after its database: registries (and test
    sessions) that share one Redis never write each other's pulls."""
    return f"harbor-lite:audit:pulls:{connection.settings_dict['NAME']}"


def buffer() -> _Buffer:
    global _buffer
    if _buffer is None:
        with _buffer_lock:
            if _buffer is None:
                _buffer = RedisBuffer(settings.REDIS_URL) if settings.REDIS_URL else MemoryBuffer()
    return _buffer


@contextmanager
def _exclusive() -> Iterator[bool]:
    """One flush at a time: across hosts with a Postgres advisory lock on a shared Redis list, in
    this process for a memory buffer (which only this process can see)."""
    if not isinstance(buffer(), RedisBuffer) or connection.vendor != "postgresql":
        acquired = _memory_flush.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                _memory_flush.release()
        return
    key = int.from_bytes(hashlib.sha256(b"harbor-lite:audit-pull-flush").digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
