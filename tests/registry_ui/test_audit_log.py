"""The Logs pages: the whole log for system administrators, a project's for its admins; the
same filters and exports as the API."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from audit.context import Actor
from audit.recorder import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(team: Project) -> None:
    record("manifest.push", project="team", resource="team/app:1.0", actor=Actor("user", "alice"))
    record("tag.delete", project="team", resource="team/app:old", actor=Actor("user", "maya"))
    record("user.create", resource="erin", actor=Actor("user", "root"))


@pytest.mark.parametrize(
    "persona, global_status, team_status",
    [("root", 200, 200), ("alice", 404, 200), ("maya", 404, 404), ("bob", 404, 404), ("carol", 404, 404)],
)
def test_who_sees_which_logs_page(
    as_user: Callable[[User], Client],
    request: pytest.FixtureRequest,
    history: None,
    persona: str,
    global_status: int,
    team_status: int,
) -> None:
    browser = as_user(request.getfixturevalue(persona))

    assert browser.get("/admin/logs/").status_code == global_status
    assert browser.get("/projects/team/logs/").status_code == team_status


def test_a_project_admin_sees_the_projects_events_and_a_logs_tab(
    as_user: Callable[[User], Client], alice: User, history: None
) -> None:
    page = as_user(alice).get("/projects/team/logs/").content.decode()

    assert "team/app:1.0" in page and "team/app:old" in page
    assert "erin" not in page
    assert 'href="/projects/team/logs/" aria-current="page"' in page


def test_filters_narrow_the_list_and_the_export_keeps_them(
    as_user: Callable[[User], Client], root: User, history: None
) -> None:
    browser = as_user(root)

    page = browser.get("/admin/logs/?action=tag.delete").content.decode()
    exported = browser.get("/admin/logs/?action=tag.delete&export=csv")

    assert "team/app:old" in page and "team/app:1.0" not in page and "erin</td>" not in page
    assert "action=tag.delete&amp;export=csv" in page
    lines = b"".join(exported.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2 and "team/app:old" in lines[1]


def test_a_bad_date_is_a_form_message_not_an_error(as_user: Callable[[User], Client], root: User) -> None:
    response = as_user(root).get("/admin/logs/?since=someday")

    assert response.status_code == 400
    assert "since: give a date" in response.content.decode()


def test_the_next_page_link_carries_the_filters(
    as_user: Callable[[User], Client], root: User, history: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("audit.queries.DEFAULT_PAGE_SIZE", 1)
    browser = as_user(root)

    first = browser.get("/admin/logs/?resource=team").content.decode()
    next_query = first.split('rel="next"')[0].rsplit('href="?', 1)[1].split('"')[0].replace("&amp;", "&")
    second = browser.get(f"/admin/logs/?{next_query}").content.decode()

    assert "team/app:old" in first and "team/app:1.0" not in first
    assert "team/app:1.0" in second and "team/app:old" not in second
