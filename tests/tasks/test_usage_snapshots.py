"""The daily usage snapshot (record_usage_snapshots): one row per project and day, safe to repeat."""

from datetime import date

import pytest
from django.conf import settings

from accounts.models import Project
from tests.conftest import PushImage
from v2api.models import Manifest, ProjectUsageSnapshot
from v2api.services.usage import project_usage
from v2api.services.usage_history import record_usage_snapshots as record_snapshots_of
from v2api.services.usage_history import usage_history
from v2api.tasks import record_usage_snapshots

pytestmark = pytest.mark.django_db


def test_the_task_records_a_snapshot_per_project(projects: list[str]) -> None:
    assert record_usage_snapshots() == 3

    team = ProjectUsageSnapshot.objects.get(project__name="team")
    assert (team.total_bytes, team.repository_count, team.tag_count) == (project_usage("team").total_bytes, 2, 3)
    assert ProjectUsageSnapshot.objects.get(project__name="empty").total_bytes == 0


def test_a_repository_left_without_a_manifest_is_not_counted(projects: list[str], push_image: PushImage) -> None:
    push_image("ops/gone", "v1", layers=[b"gone"])
    Manifest.objects.filter(repository__name="ops/gone").delete()

    record_usage_snapshots()

    assert ProjectUsageSnapshot.objects.get(project__name="ops").repository_count == 1


def test_running_the_task_again_the_same_day_updates_the_days_row(projects: list[str], push_image: PushImage) -> None:
    record_usage_snapshots()
    push_image("ops/tool", "v2", layers=[b"more tool bytes"])

    record_usage_snapshots()
    record_usage_snapshots()

    assert ProjectUsageSnapshot.objects.count() == 3
    ops = ProjectUsageSnapshot.objects.get(project__name="ops")
    assert (ops.total_bytes, ops.tag_count) == (project_usage("ops").total_bytes, 2)


def test_the_history_keeps_one_row_a_day_oldest_first_within_the_window(projects: list[str]) -> None:
    # The 90 days ending on 31 March start on 1 January.
    for day in (date(2025, 12, 31), date(2026, 3, 31), date(2026, 1, 1)):
        record_snapshots_of(day)

    team = Project.objects.get(name="team")
    assert [snapshot.date for snapshot in usage_history(team, 90, today=date(2026, 3, 31))] == [
        date(2026, 1, 1),
        date(2026, 3, 31),
    ]


def test_beat_runs_the_task_on_its_own_interval() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["record-usage-snapshots"]

    assert entry["task"] == record_usage_snapshots.name == "v2api.tasks.record_usage_snapshots"
    assert entry["schedule"].total_seconds() == settings.REGISTRY_USAGE_SNAPSHOT_INTERVAL_SECONDS == 86400  # type: ignore[attr-defined]
