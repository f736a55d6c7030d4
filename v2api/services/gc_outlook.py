"""What the garbage collection page tells a system administrator: when beat runs the collector,
what a collection started now frees, what waits for the grace window, and the last collections.

The figures are garbage.py's, the one definition the collector and the deletion plans use, so
"waiting" here is exactly what a collection now leaves for a later one.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from v2api.models import Job
from v2api.services.garbage import collectable_bytes_at, grace_window, recycled_bytes_at


@dataclass(frozen=True)
class CollectionOutlook:
    interval: timedelta
    grace: timedelta
    # The last collection beat requested; the next is due one interval after it.
    last_scheduled: Job | None
    next_due: datetime | None
    # Bytes a collection started now frees, and garbage younger than the grace window.
    freed_now: int
    waiting_for_grace: int
    # By then, everything waiting has passed the window (if nothing refers to it again meanwhile).
    waiting_until: datetime
    # Kept by deletions in the recycle bin: freed by the first collection after their windows end.
    in_recycle_bin: int
    recent: list[Job]


def collection_outlook(now: datetime | None = None) -> CollectionOutlook:
    now = now or timezone.now()
    grace = grace_window()
    interval = timedelta(seconds=settings.REGISTRY_GC_INTERVAL_SECONDS)
    collections = Job.objects.filter(kind=Job.Kind.GARBAGE_COLLECTION).select_related("requested_by")
    last_scheduled = (
        collections.filter(requested_by__isnull=True, from_command_line=False).order_by("-created_at").first()
    )
    freed_now = collectable_bytes_at(now - grace, now)
    return CollectionOutlook(
        interval=interval,
        grace=grace,
        last_scheduled=last_scheduled,
        next_due=last_scheduled.created_at + interval if last_scheduled else None,
        freed_now=freed_now,
        waiting_for_grace=collectable_bytes_at(now, now) - freed_now,
        in_recycle_bin=recycled_bytes_at(now),
        waiting_until=now + grace,
        recent=list(collections.order_by("-created_at", "-id")[:5]),
    )
