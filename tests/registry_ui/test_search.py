"""Search across repositories: only what the user may pull."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from tests.conftest import PushImage

AsUser = Callable[[User], Client]


def test_an_anonymous_visitor_finds_repositories_of_public_projects_only(
    client: Client, team: Project, push_image: PushImage
) -> None:
    Project.objects.create(name="open", public=True)
    push_image("team/app", "1")
    push_image("open/app", "1")
    page = client.get("/search/?q=app").content.decode()
    assert 'href="/repositories/open/app/"' in page
    assert "team/app" not in page


def test_a_member_finds_repositories_by_part_of_their_name(
    as_user: AsUser, bob: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", "1")
    push_image("team/tools/builder", "1")
    page = as_user(bob).get("/search/?q=build").content.decode()
    assert 'href="/repositories/team/tools/builder/"' in page
    assert "team/app" not in page


def test_search_never_shows_a_private_project_to_an_outsider(
    as_user: AsUser, carol: User, team: Project, push_image: PushImage
) -> None:
    Project.objects.create(name="open", public=True)
    push_image("team/app", "1")
    push_image("open/app", "1")
    page = as_user(carol).get("/search/?q=app").content.decode()
    assert 'href="/repositories/open/app/"' in page
    assert "team/app" not in page


def test_an_empty_search_shows_just_the_form(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).get("/search/")
    assert response.status_code == 200
    assert b"matching" not in response.content
