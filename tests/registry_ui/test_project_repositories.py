"""A project's repository list: permissions, counts, filter, sort and keyset pages."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from tests.conftest import PushedImage, PushImage, add_repositories, basic_auth
from v2api.services import listings

AsUser = Callable[[User], Client]


def test_the_project_page_needs_a_login(client: Client, team: Project) -> None:
    assert client.get("/projects/team/")["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", ["alice", "bob", "root"])
def test_members_and_admins_see_the_repositories_with_tag_counts(
    as_user: AsUser, persona: str, request: pytest.FixtureRequest, app_image: PushedImage, push_image: PushImage
) -> None:
    push_image("team/app", "2.0")
    page = as_user(request.getfixturevalue(persona)).get("/projects/team/").content.decode()
    assert 'href="/repositories/team/app/"' in page
    assert '<td class="num">2</td>' in page
    assert "just now</time>" in page and "0 minutes" not in page


def test_a_repository_without_a_manifest_is_in_neither_the_list_nor_the_counts(
    as_user: AsUser, alice: User, app_image: PushedImage, push_image: PushImage
) -> None:
    emptied = push_image("team/old", "1.0", layers=(b"old layer",))
    root = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    assert root.delete(f"/v2/team/old/manifests/{emptied.digest}").status_code == 202
    client = as_user(alice)

    page = client.get("/projects/team/").content.decode()
    home = client.get("/")

    assert 'href="/repositories/team/app/"' in page and "team/old" not in page
    assert [(summary.project.name, summary.repository_count) for summary in home.context["projects"]] == [("team", 1)]


def test_an_outsider_gets_404_for_a_private_project(as_user: AsUser, carol: User, team: Project) -> None:
    response = as_user(carol).get("/projects/team/")
    assert response.status_code == 404
    assert b"There is no project team, or you may not see it." in response.content


def test_an_outsider_sees_a_public_projects_repositories_but_no_members_tab(
    as_user: AsUser, carol: User, team: Project, app_image: PushedImage
) -> None:
    Project.objects.filter(name="team").update(public=True)
    page = as_user(carol).get("/projects/team/").content.decode()
    assert 'href="/repositories/team/app/"' in page
    assert "/projects/team/members/" not in page
    assert "/projects/team/robots/" not in page


def test_a_collaborator_sees_the_members_tab_but_not_the_robots_tab(as_user: AsUser, bob: User) -> None:
    page = as_user(bob).get("/projects/team/").content.decode()
    assert 'href="/projects/team/members/"' in page
    assert "/projects/team/robots/" not in page


def test_the_list_filters_by_name(as_user: AsUser, alice: User, team: Project) -> None:
    add_repositories("team/api", "team/web", "team/apiary")
    page = as_user(alice).get("/projects/team/?q=api").content.decode()
    assert "team/api/" in page and "team/apiary/" in page
    assert "team/web/" not in page


def test_the_list_sorts_by_last_push(as_user: AsUser, alice: User, push_image: PushImage) -> None:
    push_image("team/older", "1")
    push_image("team/newer", "1")
    page = as_user(alice).get("/projects/team/?sort=recent").content.decode()
    assert page.index("team/newer/") < page.index("team/older/")


@pytest.mark.parametrize("sort", ["name", "recent"])
def test_pages_follow_each_other_without_gaps_or_repeats(
    as_user: AsUser, alice: User, team: Project, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 3)
    names = [f"team/r{number:02}" for number in range(8)]
    add_repositories(*names)
    client, seen, cursor = as_user(alice), [], ""
    for _ in range(5):
        response = client.get("/projects/team/", {"sort": sort, "after": cursor})
        seen += [row.name for row in response.context["page"].rows]
        cursor = response.context["page"].next_cursor
        if cursor is None:
            break
    assert sorted(seen) == names
    assert len(seen) == len(set(seen))


def test_a_page_costs_the_same_few_queries_however_many_repositories(
    as_user: AsUser, alice: User, team: Project
) -> None:
    add_repositories(*(f"team/r{n:04}" for n in range(300)))
    client = as_user(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/projects/team/?sort=recent")
    assert len(response.context["page"].rows) == listings.PAGE_SIZE
    # Disk usage adds three: the project's total and shared bytes (two), the page's repositories (one).
    assert len(queries) <= 13


def test_a_hand_edited_cursor_starts_at_the_first_page(as_user: AsUser, alice: User, app_image: PushedImage) -> None:
    response = as_user(alice).get("/projects/team/?sort=recent&after=garbage|x")
    assert response.status_code == 200
    assert "team/app/" in response.content.decode()


def test_a_proxy_project_says_what_it_caches_and_shows_a_pull_not_a_push(
    as_user: AsUser, alice: User, team: Project
) -> None:
    Project.objects.filter(name="team").update(proxy_url="https://registry-1.docker.io")

    page = as_user(alice).get("/projects/team/").content.decode()

    assert "A proxy cache of <code>https://registry-1.docker.io</code>" in page
    assert "pushes are refused" in page
    assert "docker pull " in page
    assert "docker push " not in page


def test_an_ordinary_project_shows_no_upstream(as_user: AsUser, alice: User, team: Project) -> None:
    page = as_user(alice).get("/projects/team/").content.decode()

    assert "proxy cache" not in page
    assert "docker push " in page
