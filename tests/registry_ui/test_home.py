"""The home page: projects the user can see, with repository counts and visibility badges."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from tests.conftest import PushedImage

AsUser = Callable[[User], Client]


def test_an_anonymous_visitor_sees_the_public_projects_and_a_way_to_log_in(
    client: Client, app_image: PushedImage
) -> None:
    Project.objects.create(name="open", public=True)
    page = client.get("/").content.decode()
    assert 'href="/projects/open/"' in page
    assert "team" not in page
    assert 'href="/login/?next=/"' in page
    assert 'href="/jobs/"' not in page


def test_with_no_public_project_an_anonymous_visitor_is_told_so(client: Client, db: None) -> None:
    assert "No project is public." in client.get("/").content.decode()


def test_a_member_sees_their_project_with_its_repository_count(
    as_user: AsUser, alice: User, app_image: PushedImage
) -> None:
    Project.objects.create(name="ops-vault")
    page = as_user(alice).get("/").content.decode()
    assert 'href="/projects/team/"' in page
    assert "badge-private" in page
    assert ">1</td>" in page
    assert "ops-vault" not in page


def test_a_collaborator_sees_the_project_too(as_user: AsUser, bob: User, app_image: PushedImage) -> None:
    assert 'href="/projects/team/"' in as_user(bob).get("/").content.decode()


def test_an_outsider_sees_public_projects_only(as_user: AsUser, carol: User, team: Project) -> None:
    Project.objects.create(name="open", public=True)
    page = as_user(carol).get("/").content.decode()
    assert 'href="/projects/open/"' in page
    assert "badge-public" in page
    assert "/projects/team/" not in page


def test_a_system_admin_sees_every_project_and_the_administration_menu(
    as_user: AsUser, root: User, team: Project
) -> None:
    page = as_user(root).get("/").content.decode()
    assert 'href="/projects/team/"' in page
    assert 'href="/admin/users/"' in page


def test_a_user_without_projects_is_told_how_to_get_one(as_user: AsUser, carol: User) -> None:
    page = as_user(carol).get("/", HTTP_HOST="registry.lan:5000").content.decode()
    assert "registry.lan:5000/carol/&lt;name&gt;" in page
    assert 'href="/admin/users/"' not in page
