"""A circuit breaker for a company directory that is down: after it failed to answer
REGISTRY_LDAP_BREAKER_FAILURES logins in a row (unreachable, or slower than REGISTRY_LDAP_TIMEOUT),
the logins that need it fail at once for REGISTRY_LDAP_BREAKER_SECONDS instead of each waiting
the timeout, which would hold a web worker for seconds per `docker login` retry. After the
cool-down logins ask the directory again: an answer forgets it all, a failure opens the breaker
again at once.

The state is in the cache, so every web process (and the worker) sees the same breaker; while
Redis is unreachable each process keeps its own. Local accounts never ask the directory and never
meet the breaker.
"""

import hashlib
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger("accounts.login")


def key_prefix(uri: str) -> str:
    """The breaker's keys in the cache, per directory server: registries (and test sessions)
    sharing a Redis database do not share an outage of another directory."""
    return "directory-breaker:" + hashlib.sha256(uri.encode()).hexdigest()[:16]


def _keys() -> tuple[str, str, str]:
    """The failures counted; the wall-clock time the cool-down ends at (for Retry-After), kept as
    long as the cool-down; and "tripped": the breaker opened lately and the directory has not
    answered since, so the next failure after the cool-down opens it again at once, not after
    another REGISTRY_LDAP_BREAKER_FAILURES timeouts."""
    prefix = key_prefix(getattr(settings, "AUTH_LDAP_SERVER_URI", ""))
    return f"{prefix}:failures", f"{prefix}:open-until", f"{prefix}:tripped"


class _ProcessCache:
    """The few cache calls the breaker makes, in this process's memory, for while Redis is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, Any]] = {}

    def _live(self, key: str) -> Any:
        kept = self._values.get(key)
        if kept is None or kept[0] <= time.monotonic():
            self._values.pop(key, None)
            return None
        return kept[1]

    def get(self, key: str) -> Any:
        with self._lock:
            return self._live(key)

    def set(self, key: str, value: Any, timeout: float) -> None:
        with self._lock:
            self._values[key] = (time.monotonic() + timeout, value)

    def add(self, key: str, value: Any, timeout: float) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (time.monotonic() + timeout, value)
            return True

    def incr(self, key: str) -> int:
        with self._lock:
            expires_at, value = self._values[key]
            self._values[key] = (expires_at, value + 1)
            return int(value) + 1

    def delete_many(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)


_in_this_process = _ProcessCache()


def _with_a_cache(operation: Any) -> Any:
    try:
        return operation(cache)
    except (RedisError, OSError) as error:
        logger.warning("directory breaker kept in this process, the cache is unreachable: %s", error)
        return operation(_in_this_process)


def seconds_open() -> int:
    """How long logins that need the directory still fail at once; 0 while it is asked."""
    _, open_until, _ = _keys()
    until = _with_a_cache(lambda store: store.get(open_until))
    return max(0, int(until - time.time()) + 1) if until else 0


def record_outage() -> None:
    """The directory did not answer a login."""
    cool_down = settings.REGISTRY_LDAP_BREAKER_SECONDS
    failures_key, open_until, tripped = _keys()

    def count(store: Any) -> None:
        if store.get(tripped) is None:
            store.add(failures_key, 0, timeout=max(60, cool_down))
            try:
                failures = store.incr(failures_key)
            except (ValueError, KeyError):  # expired between add and incr
                failures = 1
                store.set(failures_key, 1, timeout=max(60, cool_down))
            if failures < settings.REGISTRY_LDAP_BREAKER_FAILURES:
                return
        store.set(open_until, time.time() + cool_down, timeout=cool_down)
        store.set(tripped, 1, timeout=10 * cool_down)
        store.delete_many([failures_key])
        logger.error(
            "the directory did not answer %d logins in a row: logins that need it fail at once for %d s",
            settings.REGISTRY_LDAP_BREAKER_FAILURES,
            cool_down,
        )

    _with_a_cache(count)


def record_answer() -> None:
    """The directory answered (the password right or wrong): whatever failed before is forgotten."""
    failures_key, _, tripped = _keys()
    _with_a_cache(lambda store: store.delete_many([failures_key, tripped]))
