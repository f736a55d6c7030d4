"""Failed logins are counted per account and client address together, and per client address, in
the cache (Redis in production); past a limit the next attempt from that address is refused for
the rest of the window. An account is never locked as a whole: a stranger's wrong passwords close
the account to the stranger's address only, and its user still logs in from anywhere else.

Redis is only a cache: while it is unreachable the counters are neither read nor kept, and every
attempt goes through to the password check, so an outage never stops `docker login`.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger("accounts.login")


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; retry after {retry_after} s")


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: a username is whatever the client sent, of any length or characters.
    pair = hashlib.sha256(f"{username.lower()}\0{address}".encode()).hexdigest()
    return [
        (f"login-failures:account-address:{pair}", settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT),
        (f"login-failures:address:{address}", settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS),
    ]


def check(username: str, address: str) -> None:
    """Raise LoginThrottled if this account from this address, or anything from this address,
    failed too often lately."""
    try:
        counts = cache.get_many([key for key, _ in _keys(username, address)])
    except (RedisError, OSError) as error:
        logger.warning("login throttle not checked, the cache is unreachable: %s", error)
        return
    for key, limit in _keys(username, address):
        if counts.get(key, 0) >= limit:
            raise LoginThrottled(settings.REGISTRY_LOGIN_FAILURE_WINDOW)


def record_failure(username: str, address: str) -> list[str]:
    """Count a failed login; the limits this very failure reached ("account" for this account
    from this address, "address" for anything from it), so the closing is reported once."""
    closed = []
    try:
        for (key, limit), scope in zip(_keys(username, address), ("account", "address"), strict=True):
            # add() starts the window on the first failure; incr() keeps its expiry.
            count = 1
            if not cache.add(key, 1, timeout=settings.REGISTRY_LOGIN_FAILURE_WINDOW):
                try:
                    count = cache.incr(key)
                except ValueError:
                    cache.add(key, 1, timeout=settings.REGISTRY_LOGIN_FAILURE_WINDOW)
            if count == limit:
                closed.append(scope)
    except (RedisError, OSError) as error:
        logger.warning("failed login not counted, the cache is unreachable: %s", error)
    return closed
