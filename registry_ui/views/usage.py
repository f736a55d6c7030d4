"""A project's Usage tab: its disk use over the last 90 days, from the daily snapshots."""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from registry_ui.charts import usage_chart
from registry_ui.views.access import get_project_for_user, readable_without_login
from registry_ui.views.projects import project_tabs
from v2api.models import ProjectUsageSnapshot
from v2api.services.listings import quota_use
from v2api.services.recycle_bin import recycled_bytes
from v2api.services.usage import project_usage
from v2api.services.usage_history import HISTORY_DAYS, usage_history


@readable_without_login
def project_usage_history(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/usage/`: a chart and a table of the daily snapshots, for anyone who may pull."""
    project = get_project_for_user(request, project_name)
    today = timezone.localdate()
    snapshots = usage_history(project, HISTORY_DAYS, today)
    usage = project_usage(project.name)
    return render(
        request,
        "registry_ui/project_usage.html",
        {
            "project": project,
            "usage": usage,
            "quota": quota_use(project, usage),
            "recycled_bytes": recycled_bytes(project),
            "chart": usage_chart(snapshots, HISTORY_DAYS, today, project.quota_bytes),
            # The table reads newest first, each day with its change since the snapshot before it.
            "rows": _rows_newest_first(snapshots),
            "days": HISTORY_DAYS,
            "tab": "usage",
            **project_tabs(request, project),
        },
    )


@dataclass(frozen=True)
class HistoryRow:
    snapshot: ProjectUsageSnapshot
    # Bytes more (or fewer) than at the snapshot before; None for the first.
    change: int | None


def _rows_newest_first(snapshots: list[ProjectUsageSnapshot]) -> list[HistoryRow]:
    rows: list[HistoryRow] = []
    previous: ProjectUsageSnapshot | None = None
    for snapshot in snapshots:
        change = snapshot.total_bytes - previous.total_bytes if previous is not None else None
        rows.append(HistoryRow(snapshot, change))
        previous = snapshot
    return rows[::-1]
