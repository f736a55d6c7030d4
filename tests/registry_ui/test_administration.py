"""Administration: users and projects, for system administrators only."""

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from tests.conftest import PASSWORD, PushedImage, basic_auth

AsUser = Callable[[User], Client]

PAGES = ["/admin/users/", "/admin/projects/", "/admin/users/1/password/"]


@pytest.mark.parametrize("path", PAGES)
def test_administration_needs_a_login(client: Client, db: None, path: str) -> None:
    assert client.get(path)["Location"].startswith("/login/")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_administration_does_not_exist_for_others(
    as_user: AsUser, request: pytest.FixtureRequest, persona: str, path: str
) -> None:
    assert as_user(request.getfixturevalue(persona)).get(path).status_code == 404


@pytest.mark.parametrize(
    "path, data",
    [
        ("/admin/users/create/", {"username": "eve", "password": PASSWORD}),
        ("/admin/projects/create/", {"name": "evil"}),
        ("/admin/projects/team/delete/", {}),
    ],
)
def test_a_project_admin_cannot_post_to_administration(
    as_user: AsUser, alice: User, path: str, data: dict[str, str]
) -> None:
    assert as_user(alice).post(path, data).status_code == 404
    assert not User.objects.filter(username="eve").exists()
    assert Project.objects.filter(name="team").exists()


def test_an_admin_lists_users(as_user: AsUser, root: User, alice: User) -> None:
    text = as_user(root).get("/admin/users/").content.decode()
    assert "alice" in text and "(you)" in text


def test_an_admin_creates_a_user_who_can_log_in(as_user: AsUser, root: User) -> None:
    response = as_user(root).post(
        "/admin/users/create/", {"username": "dave", "password": PASSWORD, "email": "dave@example.lan"}, follow=True
    )
    assert b"User dave created." in response.content
    assert User.objects.get(username="dave").check_password(PASSWORD)


def test_a_weak_or_taken_username_or_password_is_refused_on_its_field(as_user: AsUser, root: User, alice: User) -> None:
    client = as_user(root)
    weak = client.post("/admin/users/create/", {"username": "dave", "password": "short"})
    assert weak.status_code == 400 and b"too short" in weak.content
    taken = client.post("/admin/users/create/", {"username": "alice", "password": PASSWORD})
    assert b"There is already a user named alice." in taken.content


def test_an_admin_deactivates_and_reactivates_a_user(as_user: AsUser, root: User, alice: User) -> None:
    client = as_user(root)
    assert (
        b"alice is deactivated."
        in client.post(f"/admin/users/{alice.pk}/active/", {"active": "0"}, follow=True).content
    )
    alice.refresh_from_db()
    assert not alice.is_active
    client.post(f"/admin/users/{alice.pk}/active/", {"active": "1"})
    alice.refresh_from_db()
    assert alice.is_active


def test_an_admin_cannot_lock_themselves_out(as_user: AsUser, root: User) -> None:
    client = as_user(root)
    response = client.post(f"/admin/users/{root.pk}/active/", {"active": "0"}, follow=True)
    assert b"You cannot deactivate your own account." in response.content
    response = client.post(f"/admin/users/{root.pk}/admin/", {"admin": "0"}, follow=True)
    assert b"You cannot take away your own administrator rights." in response.content
    root.refresh_from_db()
    assert root.is_active and root.is_superuser


def test_an_admin_makes_another_user_admin(as_user: AsUser, root: User, carol: User) -> None:
    as_user(root).post(f"/admin/users/{carol.pk}/admin/", {"admin": "1"})
    carol.refresh_from_db()
    assert carol.is_superuser and carol.is_staff


def test_an_admin_resets_a_password(as_user: AsUser, root: User, carol: User) -> None:
    client = as_user(root)
    assert b"Reset the password of carol" in client.get(f"/admin/users/{carol.pk}/password/").content
    client.post(f"/admin/users/{carol.pk}/password/", {"password": "a brand new passphrase"})
    carol.refresh_from_db()
    assert carol.check_password("a brand new passphrase")


def test_acting_on_a_deleted_user_says_so(as_user: AsUser, root: User) -> None:
    response = as_user(root).post("/admin/users/9999/active/", {"active": "0"}, follow=True)
    assert b"That user no longer exists." in response.content


def test_an_admin_creates_a_project_and_a_bad_name_is_refused(as_user: AsUser, root: User, team: Project) -> None:
    client = as_user(root)
    assert (
        b"Project web created."
        in client.post("/admin/projects/create/", {"name": "web", "public": "on"}, follow=True).content
    )
    assert Project.objects.get(name="web").public
    assert b"already exists" in client.post("/admin/projects/create/", {"name": "team"}).content
    assert b"Use lowercase letters" in client.post("/admin/projects/create/", {"name": "Bad/Name"}).content


def test_an_admin_makes_a_project_public(as_user: AsUser, root: User, team: Project) -> None:
    response = as_user(root).post("/admin/projects/team/public/", {"public": "1"}, follow=True)
    assert b"Project team is now public." in response.content
    assert Project.objects.get(name="team").public


def test_only_an_empty_project_can_be_deleted(as_user: AsUser, root: User, app_image: PushedImage) -> None:
    client = as_user(root)
    page = client.get("/admin/projects/").content.decode()
    assert "/admin/projects/team/delete/" not in page
    refused = client.post("/admin/projects/team/delete/", follow=True)
    assert b"Project team still holds repositories" in refused.content
    Project.objects.create(name="empty")
    assert b"Project empty deleted." in client.post("/admin/projects/empty/delete/", follow=True).content
    assert b"Project empty was already deleted." in client.post("/admin/projects/empty/delete/", follow=True).content


def test_a_user_who_only_used_the_command_line_shows_when_they_last_logged_in(
    as_user: AsUser, root: User, carol: User, alice: User
) -> None:
    # What `docker login` and every later pull do: HTTP Basic (or the token endpoint) with the password.
    assert Client(HTTP_AUTHORIZATION=basic_auth("carol")).get("/v2/").status_code == 200

    page = as_user(root).get("/admin/users/").content.decode()

    rows = dict(re.findall(r"<tr>\s*<td>(\w+)(.*?)</tr>", page, re.S))
    assert "just now" in rows["carol"] and "never" not in rows["carol"]
    assert "never" in rows["alice"]
