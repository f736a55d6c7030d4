"""`GET /api/v1/projects/<name>/usage/history/`: daily snapshots, for anyone who may pull from the project."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Project
from tests.accounts.conftest import Api
from tests.conftest import PushImage
from v2api.services.usage import project_usage
from v2api.services.usage_history import record_usage_snapshots

pytestmark = pytest.mark.django_db


def test_the_history_lists_the_snapshots_oldest_first(
    api: Api, dave: User, team: Project, push_image: PushImage
) -> None:
    today = timezone.localdate()
    record_usage_snapshots(today - timedelta(days=3))
    push_image("team/app", "v1", layers=[b"layer"])
    record_usage_snapshots(today)

    response = api("get", "projects/team/usage/history/", dave)

    assert response.status_code == 200
    assert response.json() == {
        "project": "team",
        "quota_bytes": None,
        "days": 90,
        "snapshots": [
            {"date": str(today - timedelta(days=3)), "total_bytes": 0, "repository_count": 0, "tag_count": 0},
            {
                "date": str(today),
                "total_bytes": project_usage("team").total_bytes,
                "repository_count": 1,
                "tag_count": 1,
            },
        ],
    }


def test_the_history_window_is_chosen_with_days(api: Api, dave: User, team: Project) -> None:
    today = timezone.localdate()
    record_usage_snapshots(today - timedelta(days=3))
    record_usage_snapshots(today)

    body = api("get", "projects/team/usage/history/?days=2", dave).json()

    assert [snapshot["date"] for snapshot in body["snapshots"]] == [str(today)]
    assert api("get", "projects/team/usage/history/?days=0", dave).status_code == 400
    assert api("get", "projects/team/usage/history/?days=x", dave).status_code == 400


def test_the_history_of_a_private_project_is_404_for_outsiders(api: Api, carol: User, team: Project) -> None:
    assert api("get", "projects/team/usage/history/", carol).status_code == 404
    assert api("get", "projects/team/usage/history/").status_code == 404


def test_anyone_reads_the_history_of_a_public_project(api: Api, shared: Project) -> None:
    record_usage_snapshots()

    body = api("get", "projects/shared/usage/history/").json()

    assert [snapshot["total_bytes"] for snapshot in body["snapshots"]] == [0]
