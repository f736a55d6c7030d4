"""Pull events: buffered, then written in batches, never an INSERT per pull.

Pulls are the hot path (v2api/fast_reads.py answers most of them in one indexed query), so a pull
only appends one line to a buffer:

- with Redis (REDIS_URL), one `RPUSH` to a list that every web process shares; beat's
  `audit.tasks.flush_pull_events` writes it to Postgres every REGISTRY_AUDIT_FLUSH_SECONDS;
- without Redis (the embedded run), a bounded list in the process's memory, written by the
  request that fills it (FLUSH_EVERY pulls) or finds it older than FLUSH_AFTER_SECONDS.

A flush copies a batch, inserts it and only then trims it from the buffer, so a crash loses
nothing; each event carries its own id (unique in the table), so a batch written twice after a
crash between the commit and the trim is stored once. The buffer is bounded (MAX_BUFFERED): past
it, with no flush running for a long while, the oldest pulls are dropped, never the registry's
memory. Functions in `batch_hooks` see each batch inside the flush's transaction (the registry
keeps each tag's "last pulled" from it, v2api/apps.py).
"""

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import actions
from audit.context import actor_for_subject
from audit.models import AuditEvent
from audit.recorder import RESOURCE_LENGTH, USER_AGENT_LENGTH
from oci.names import project_name_of

logger = logging.getLogger(__name__)

MAX_BUFFERED = 1_000_000
FLUSH_BATCH = 5_000
FLUSH_EVERY = 200
FLUSH_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Pull:
    event_id: str
    occurred_at: str
    actor_kind: str
    actor_name: str
    address: str
    user_agent: str
    repository: str
    reference: str
    digest: str

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at)


batch_hooks: list[Callable[[list[Pull]], object]] = []


def record_pull(*, subject: str, address: str, user_agent: str, repository: str, reference: str, digest: str) -> None:
    """Buffer one manifest pull, unless REGISTRY_AUDIT_PULLS is off. Never raises: a buffer that
    cannot be reached loses the event (logged), not the pull."""
    if not settings.REGISTRY_AUDIT_PULLS:
        return
    actor = actor_for_subject(subject)
    pull = Pull(
        event_id=uuid.uuid4().hex,
        occurred_at=timezone.now().isoformat(),
        actor_kind=actor.kind,
        actor_name=actor.name,
        address=address,
        user_agent=user_agent[:USER_AGENT_LENGTH],
        repository=repository,
        reference=reference,
        digest=digest,
    )
    buffer().append(json.dumps(asdict(pull), separators=(",", ":")))


def flush_pulls() -> int:
    """Write every buffered pull to the audit log; returns how many. A flush that finds another
    one running returns 0 at once: that one writes them."""
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
    return AuditEvent(
        event_id=uuid.UUID(pull.event_id),
        occurred_at=pull.time,
        actor_kind=pull.actor_kind,
        actor_name=pull.actor_name,
        client_address=pull.address,
        user_agent=pull.user_agent,
        action=actions.PULL,
        project=project_name_of(pull.repository),
        resource=(pull.repository + reference)[:RESOURCE_LENGTH],
        detail={"digest": pull.digest},
    )


def _parse(line: bytes | str) -> Pull | None:
    try:
        return Pull(**json.loads(line))
    except (ValueError, TypeError):
        logger.warning("dropped an unreadable pull event from the buffer: %r", line[:200])
        return None


class _Buffer(Protocol):
    def append(self, line: str) -> None: ...
    def peek(self, count: int) -> list[bytes | str]: ...
    def drop(self, count: int) -> None: ...


class RedisBuffer:
    """A Redis list shared by every process; appends and trims are single commands."""

    def __init__(self, url: str) -> None:
        # A Redis that stops answering costs a pull at most this, then the event is dropped.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)

    def append(self, line: str) -> None:
        try:
            pipeline = self.client.pipeline(transaction=False)
            pipeline.rpush(buffer_key(), line)
            pipeline.ltrim(buffer_key(), -MAX_BUFFERED, -1)
            pipeline.execute()
        except redis.RedisError as error:
            logger.warning("a pull event was not buffered (Redis: %s)", error)

    def peek(self, count: int) -> list[bytes | str]:
        return list(self.client.lrange(buffer_key(), 0, count - 1))

    def drop(self, count: int) -> None:
        self.client.ltrim(buffer_key(), count, -1)


class MemoryBuffer:
    """A bounded list in this process, written by the request that fills it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: deque[str] = deque(maxlen=MAX_BUFFERED // 10)
        self.oldest = 0.0

    def append(self, line: str) -> None:
        with self.lock:
            if not self.lines:
                self.oldest = time.monotonic()
            self.lines.append(line)
            due = len(self.lines) >= FLUSH_EVERY or time.monotonic() - self.oldest >= FLUSH_AFTER_SECONDS
        if due:
            try:
                flush_pulls()
            except Exception:
                # The pull itself was served; its events wait for the next flush.
                logger.exception("writing buffered pull events failed")

    def peek(self, count: int) -> list[bytes | str]:
        with self.lock:
            return [self.lines[index] for index in range(min(count, len(self.lines)))]

    def drop(self, count: int) -> None:
        with self.lock:
            for _ in range(min(count, len(self.lines))):
                self.lines.popleft()


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
