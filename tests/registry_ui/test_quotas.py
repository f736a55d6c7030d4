"""Quotas in the dashboard: a system administrator sets them on the Projects page; the home,
project and administration pages show usage against them as a bar."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from registry_ui.forms import parse_size
from tests.conftest import PushedImage, PushImage

AsUser = Callable[[User], Client]


def test_a_system_admin_sets_a_quota_with_a_unit(as_user: AsUser, root: User, team: Project) -> None:
    response = as_user(root).post("/admin/projects/team/quota/", {"quota": "10 GiB"}, follow=True)

    team.refresh_from_db()
    assert team.quota_bytes == 10 * 1024**3
    assert "Project team is now limited to 10.0\xa0GiB." in response.content.decode()
    # The field shows the quota so that submitting it unchanged keeps it.
    assert 'value="10 GiB"' in response.content.decode()


def test_an_empty_quota_lifts_the_limit(as_user: AsUser, root: User, team: Project) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=1000)

    response = as_user(root).post("/admin/projects/team/quota/", {"quota": ""}, follow=True)

    team.refresh_from_db()
    assert team.quota_bytes is None
    assert "Project team is now unlimited." in response.content.decode()


@pytest.mark.parametrize("typed", ["0", "lots", "-5 GiB"])
def test_a_quota_that_is_not_a_positive_size_is_refused_with_a_message(
    as_user: AsUser, root: User, team: Project, typed: str
) -> None:
    response = as_user(root).post("/admin/projects/team/quota/", {"quota": typed}, follow=True)

    team.refresh_from_db()
    assert team.quota_bytes is None
    assert "Quota of team:" in response.content.decode()


@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_only_system_admins_may_set_a_quota(
    as_user: AsUser, request: pytest.FixtureRequest, team: Project, persona: str
) -> None:
    response = as_user(request.getfixturevalue(persona)).post("/admin/projects/team/quota/", {"quota": "1 GiB"})

    assert response.status_code == 404
    team.refresh_from_db()
    assert team.quota_bytes is None


def test_the_admin_projects_page_shows_usage_against_the_quota(
    as_user: AsUser, root: User, team: Project, app_image: PushedImage
) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=1024)
    Project.objects.create(name="free")

    text = as_user(root).get("/admin/projects/").content.decode()

    assert 'role="meter"' in text
    assert "of 1.0\xa0KiB quota" in text
    assert "Unlimited" in text


def test_home_and_project_pages_show_the_quota_bar(
    as_user: AsUser, alice: User, team: Project, app_image: PushedImage
) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=1024)
    client = as_user(alice)

    for page in ("/", "/projects/team/", "/projects/team/usage/"):
        text = client.get(page).content.decode()
        assert 'class="quota quota-' in text, page
        assert "of 1.0\xa0KiB quota" in text, page


def test_a_full_project_shows_a_full_bar(as_user: AsUser, alice: User, team: Project, app_image: PushedImage) -> None:
    Project.objects.filter(pk=team.pk).update(quota_bytes=10)

    text = as_user(alice).get("/projects/team/").content.decode()

    assert 'class="quota quota-full"' in text
    assert 'style="width: 100.0%"' in text


def test_no_bar_without_a_quota(as_user: AsUser, alice: User, team: Project, app_image: PushedImage) -> None:
    assert 'class="quota' not in as_user(alice).get("/").content.decode()


def test_the_admin_projects_page_costs_the_same_queries_however_many_projects(
    as_user: AsUser, root: User, team: Project, push_image: PushImage
) -> None:
    client = as_user(root)
    push_image("team/app", "1.0")
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/projects/")
    for number in range(4):
        Project.objects.create(name=f"p{number}", quota_bytes=10**9)
        push_image(f"p{number}/app", "1.0", layers=(f"layer {number}".encode(),))
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/projects/")

    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("typed", "size"),
    [("1234", 1234), ("500 MiB", 500 * 1024**2), ("10GiB", 10 * 1024**3), ("1.5 t", int(1.5 * 1024**4))],
)
def test_sizes_are_read_in_powers_of_1024(typed: str, size: int) -> None:
    assert parse_size(typed) == size
