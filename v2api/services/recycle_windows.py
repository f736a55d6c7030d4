"""How long a project's deletions stay in its recycle bin (services/recycle_bin.py): the one rule,
in Python for a project and as a filter for the collector's counts (garbage.py), which the bin's
own imports (quotas, usage) need before it."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from accounts.models import Project


def recycle_window(project: Project) -> timedelta:
    """How long the project's deletions stay restorable (0: they are not kept)."""
    seconds = settings.REGISTRY_RECYCLE_SECONDS if project.recycle_seconds is None else project.recycle_seconds
    return timedelta(seconds=seconds)


def keeps_a_bin() -> Q:
    """recycle_window, as a filter on projects: those whose deletions go into a bin."""
    if settings.REGISTRY_RECYCLE_SECONDS:
        return Q(recycle_seconds__isnull=True) | Q(recycle_seconds__gt=0)
    return Q(recycle_seconds__gt=0)
