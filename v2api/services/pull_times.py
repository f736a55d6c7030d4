"""When each tag was last pulled, from the audit log's batches of pulls (audit/pulls.py)."""

from datetime import datetime

from django.db.models import Q

from audit.pulls import Pull
from v2api.models import Tag


def record_last_pulled(batch: list[Pull]) -> int:
    """Move each pulled tag's `last_pulled_at` forward to its latest pull in `batch`: by tag the
    tag itself, by digest every tag of that manifest in the repository. One UPDATE per distinct
    repository and reference; an older batch written late never moves a time back. Returns the
    number of tags updated."""
    latest: dict[tuple[str, str], datetime] = {}
    for pull in batch:
        key = (pull.repository, pull.reference)
        latest[key] = max(latest.get(key, pull.time), pull.time)
    updated = 0
    for (repository, reference), pulled_at in latest.items():
        tags = Tag.objects.filter(repository__name=repository)
        tags = tags.filter(manifest__digest=reference) if ":" in reference else tags.filter(name=reference)
        updated += tags.filter(Q(last_pulled_at__isnull=True) | Q(last_pulled_at__lt=pulled_at)).update(
            last_pulled_at=pulled_at
        )
    return updated
