"""The project's Usage tab: the daily snapshots as an inline SVG chart and a table."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from v2api.models import ProjectUsageSnapshot

AsUser = Callable[[User], Client]


@pytest.fixture
def history(team: Project) -> None:
    """Three snapshots: 100 days ago (outside the window), 10 days ago and today."""
    today = timezone.localdate()
    for days_ago, total, tags in ((100, 1, 1), (10, 2 * 1024**2, 3), (0, 3 * 1024**2, 5)):
        ProjectUsageSnapshot.objects.create(
            project=team, date=today - timedelta(days=days_ago), total_bytes=total, repository_count=2, tag_count=tags
        )


def test_the_tab_charts_and_lists_the_snapshots_of_the_last_90_days(as_user: AsUser, bob: User, history: None) -> None:
    response = as_user(bob).get("/projects/team/usage/")
    text = response.content.decode()

    assert response.status_code == 200
    assert [point.snapshot.total_bytes for point in response.context["chart"].points] == [2 * 1024**2, 3 * 1024**2]
    assert text.count('<circle class="dot"') == 2
    assert "<polyline" in text and "<svg" in text
    today = timezone.localdate()
    assert f"{today:%Y-%m-%d}: 3.0\xa0MiB" in text
    assert f'<td class="nowrap">{today - timedelta(days=10):%Y-%m-%d}</td>' in text
    assert f"{today - timedelta(days=100):%Y-%m-%d}" not in text
    assert "+1.0\xa0MiB" in text
    assert 'aria-current="page">Usage</a>' in text
    assert "https://" not in text and "<script" not in text.split("<main", 1)[-1].split("</main>", 1)[0]


def test_the_newest_day_is_first_in_the_table(as_user: AsUser, bob: User, history: None) -> None:
    rows = as_user(bob).get("/projects/team/usage/").context["rows"]

    assert [row.snapshot.total_bytes for row in rows] == [3 * 1024**2, 2 * 1024**2]
    assert [row.change for row in rows] == [1024**2, None]


def test_a_quota_near_the_usage_is_drawn_on_the_chart(as_user: AsUser, bob: User, team: Project, history: None) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=4 * 1024**2)

    text = as_user(bob).get("/projects/team/usage/").content.decode()

    assert 'class="quota-line"' in text
    assert "quota 4.0\xa0MiB" in text


def test_without_snapshots_the_tab_says_when_they_come(as_user: AsUser, bob: User, team: Project) -> None:
    text = as_user(bob).get("/projects/team/usage/").content.decode()

    assert "No snapshot yet" in text
    assert "<svg" not in text


def test_the_tab_is_404_for_someone_who_may_not_see_the_project(as_user: AsUser, carol: User, history: None) -> None:
    assert as_user(carol).get("/projects/team/usage/").status_code == 404


def test_the_tab_needs_a_login(client: Client, history: None) -> None:
    assert client.get("/projects/team/usage/")["Location"].startswith("/login/")


def test_a_system_admin_sees_any_projects_usage(as_user: AsUser, root: User, history: None) -> None:
    assert as_user(root).get("/projects/team/usage/").status_code == 200
