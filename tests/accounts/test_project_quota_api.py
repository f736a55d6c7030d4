"""`PATCH /api/v1/projects/<name>/` with `quota_bytes`: system administrators only."""

import pytest
from django.contrib.auth.models import User

from accounts.models import Project
from tests.accounts.conftest import Api

pytestmark = pytest.mark.django_db


def test_a_system_admin_sets_and_lifts_a_quota(api: Api, root: User, team: Project) -> None:
    response = api("patch", "projects/team/", root, {"quota_bytes": 10 * 1024**3})

    assert response.status_code == 200
    assert response.json()["quota_bytes"] == 10 * 1024**3
    team.refresh_from_db()
    assert team.quota_bytes == 10 * 1024**3

    assert api("patch", "projects/team/", root, {"quota_bytes": None}).json()["quota_bytes"] is None
    team.refresh_from_db()
    assert team.quota_bytes is None


def test_a_project_admin_may_not_set_the_quota_of_their_project(api: Api, alice: User, team: Project) -> None:
    response = api("patch", "projects/team/", alice, {"quota_bytes": 10**12})

    assert response.status_code == 403
    assert response.json()["detail"] == "Only system administrators may set a project's quota."
    team.refresh_from_db()
    assert team.quota_bytes is None


def test_a_project_admin_still_makes_their_project_public(api: Api, alice: User, team: Project) -> None:
    assert api("patch", "projects/team/", alice, {"public": True}).json()["public"] is True


@pytest.mark.parametrize("quota", [0, -1, "ten"])
def test_a_quota_that_is_not_a_positive_number_of_bytes_is_refused_naming_the_field(
    api: Api, root: User, team: Project, quota: object
) -> None:
    response = api("patch", "projects/team/", root, {"quota_bytes": quota})

    assert response.status_code == 400
    assert list(response.json()) == ["quota_bytes"]


def test_a_system_admin_creates_a_project_with_a_quota(api: Api, root: User) -> None:
    response = api("post", "projects/", root, {"name": "limited", "quota_bytes": 1024})

    assert response.status_code == 201
    assert Project.objects.get(name="limited").quota_bytes == 1024


def test_members_read_the_quota(api: Api, dave: User, team: Project) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=2048)

    assert api("get", "projects/team/", dave).json()["quota_bytes"] == 2048
