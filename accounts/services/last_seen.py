""" "Last seen" for people (LastSeen) and robots (RobotAccount.last_used_at): every login through
the token service, every request with Basic on /v2/ or the API, every refresh, remembered or not.

Cheap, as it is on the hot path of a script sending Basic with each request: a process that saw
the account in the last REGISTRY_LAST_SEEN_SECONDS does nothing at all; otherwise one cache
`add` decides which process writes, so the database gets at most one write per account per
interval across all processes (one per process while Redis is down). The time shown is thus up to
that interval old.
"""

import logging
import threading
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import LastSeen, RobotAccount
from accounts.permissions import Principal

logger = logging.getLogger("accounts.login")


class _SeenLately:
    """The accounts this process recorded within the interval; bounded, oldest forgotten first."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def claim(self, key: str, seconds: int) -> bool:
        """True if the account was not recorded by this process within `seconds`, and now is."""
        now = time.monotonic()
        with self._lock:
            if self._until.get(key, 0) > now:
                return False
            self._until.pop(key, None)
            self._until[key] = now + seconds
            while len(self._until) > self.LIMIT:
                del self._until[next(iter(self._until))]
            return True


_seen_lately = _SeenLately()


def record_seen(principal: Principal) -> None:
    """Note that the person or robot was seen now, unless recorded within the interval."""
    if principal.robot is not None:
        key = f"last-seen:robot:{principal.robot.pk}"
    elif principal.user is not None:
        key = f"last-seen:user:{principal.user.pk}"
    else:
        return
    seconds = settings.REGISTRY_LAST_SEEN_SECONDS
    if not _seen_lately.claim(key, seconds):
        return
    try:
        if not cache.add(key, 1, timeout=seconds):
            return  # another process wrote it within the interval
    except (RedisError, OSError) as error:
        logger.warning("last seen written without the cache, which is unreachable: %s", error)
    now = timezone.now()
    if principal.robot is not None:
        RobotAccount.objects.filter(id=principal.robot.pk).update(last_used_at=now)
    elif principal.user is not None:
        LastSeen.objects.bulk_create(
            [LastSeen(user_id=principal.user.pk, seen_at=now)],
            update_conflicts=True,
            unique_fields=["user"],
            update_fields=["seen_at"],
        )


def users_with_last_seen() -> QuerySet[User]:
    """Every user with `seen_at`: the later of their last dashboard login and their last CLI use,
    None for someone never seen."""
    # Each side falls back on the other: SQLite's max() (and MySQL's GREATEST) is NULL when
    # either is, where PostgreSQL's GREATEST skips NULLs.
    return User.objects.annotate(
        seen_at=Greatest(Coalesce("last_login", "last_seen__seen_at"), Coalesce("last_seen__seen_at", "last_login"))
    )
