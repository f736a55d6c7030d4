"""Usage over time: one snapshot per project and day of what it holds (usage.py's total, with
repository and tag counts), recorded by beat, read by the project's Usage tab and the API."""

from datetime import date, timedelta

from django.db.models import Count
from django.utils import timezone

from accounts.models import Project
from v2api.models import ProjectUsageSnapshot, Tag
from v2api.services.repositories import listed_repositories
from v2api.services.usage import project_usages

HISTORY_DAYS = 90


def record_usage_snapshots(day: date | None = None) -> int:
    """Record (or update) the snapshot of `day`, today by default, for every project; return how many.

    Idempotent: the row of a project and day is upserted, so a second run the same day, a retried
    task or two beat schedulers overlapping leave one row holding the latest figures. A constant
    number of queries, whatever the number of projects.
    """
    day = day or timezone.localdate()
    projects = list(Project.objects.values_list("id", "name"))
    names = [name for _, name in projects]
    usages = project_usages(names)
    repository_counts = dict(
        listed_repositories().values("project_id").annotate(count=Count("id")).values_list("project_id", "count")
    )
    tag_counts = dict(
        Tag.objects.values("repository__project_id")
        .annotate(count=Count("id"))
        .values_list("repository__project_id", "count")
    )
    snapshots = [
        ProjectUsageSnapshot(
            project_id=project_id,
            date=day,
            total_bytes=usages[name].total_bytes,
            repository_count=repository_counts.get(project_id, 0),
            tag_count=tag_counts.get(project_id, 0),
        )
        for project_id, name in projects
    ]
    ProjectUsageSnapshot.objects.bulk_create(
        snapshots,
        update_conflicts=True,
        unique_fields=["project", "date"],
        update_fields=["total_bytes", "repository_count", "tag_count", "recorded_at"],
    )
    return len(snapshots)


def usage_history(project: Project, days: int = HISTORY_DAYS, today: date | None = None) -> list[ProjectUsageSnapshot]:
    """The project's snapshots of the last `days` days up to `today` (included), oldest first."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    return list(ProjectUsageSnapshot.objects.filter(project=project, date__gte=first, date__lte=today).order_by("date"))
