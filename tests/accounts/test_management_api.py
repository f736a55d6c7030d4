"""`/api/v1/`: the management API for users, projects, members, robot accounts and personal tokens.

Personas (tests/accounts/conftest.py): root is a system admin; alice administers the private
project `team`, dave develops in it, carol belongs to nothing; `shared` is public.
"""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership, PersonalAccessToken, Project, RobotAccount, Role
from accounts.permissions import Principal, allowed_actions
from accounts.services.credentials import authenticate_login, hash_secret
from tests.accounts.conftest import Api
from tests.conftest import PASSWORD
from v2api.models import Repository

pytestmark = pytest.mark.django_db

ADDRESS = "127.0.0.1"


@pytest.fixture
def robot(api: Api, alice: User, team: Project) -> tuple[str, str]:
    """A pull-and-push robot of `team`, as (login name, secret)."""
    body = api("post", "projects/team/robots/", alice, {"name": "ci", "can_pull": True, "can_push": True}).json()
    return body["login_name"], body["secret"]


def logs_in(username: str, secret: str) -> bool:
    return authenticate_login(username, secret, address=ADDRESS) is not None


def in_the_future(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def queries_for(call: Any) -> int:
    """The queries of a call made as a caller already signed in: a first Basic login also records
    the user's last login, which no later request of theirs repeats (credentials._remembered)."""
    call()
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content
    return len(captured)


# --- signing in ------------------------------------------------------------------------------


def test_an_anonymous_caller_is_asked_to_sign_in_with_basic(api: Api) -> None:
    response = api("get", "users/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Harbor-lite"'


def test_a_wrong_password_is_refused_with_401(api: Api, alice: User) -> None:
    response = api("get", "users/me/", ("alice", "wrong"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password."}


def test_too_many_failed_logins_answer_429_with_retry_after(api: Api, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 2
    for _ in range(2):
        assert api("get", "users/me/", ("alice", "wrong")).status_code == 401
    response = api("get", "users/me/", alice)
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.REGISTRY_LOGIN_FAILURE_WINDOW)
    assert response.json()["detail"].startswith("Too many failed logins.")


def test_a_personal_access_token_signs_in_as_the_password(api: Api, alice: User) -> None:
    secret = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()["secret"]
    response = api("get", "users/me/", ("alice", secret))
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_a_dashboard_session_signs_in(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/v1/users/me/").json()["username"] == "alice"


def test_a_session_write_without_a_csrf_token_is_refused(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/v1/users/me/tokens/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_session_write_with_the_csrf_token_succeeds(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    csrf = "a" * 32
    client.cookies["csrftoken"] = csrf
    response = client.post(
        "/api/v1/users/me/tokens/", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 201


def test_malformed_json_is_a_400_that_says_so(api: Api, root: User) -> None:
    response = api("post", "projects/", root, "{not json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


# --- users -----------------------------------------------------------------------------------


def test_a_system_admin_lists_the_users(api: Api, root: User, alice: User) -> None:
    response = api("get", "users/", root)
    assert response.status_code == 200
    assert [user["username"] for user in response.json()] == ["alice", "root"]
    assert "password" not in response.json()[0]


@pytest.mark.parametrize("persona", ["alice", "dave", "carol"])
def test_users_who_are_not_system_admins_may_not_list_users(
    api: Api, persona: str, alice: User, dave: User, carol: User
) -> None:
    response = api("get", "users/", User.objects.get(username=persona))
    assert response.status_code == 403
    assert response.json() == {"detail": "Only system administrators may do this."}


def test_an_anonymous_caller_may_not_list_users(api: Api) -> None:
    assert api("get", "users/").status_code == 401


def test_listing_users_takes_as_many_queries_for_three_users_as_for_one(api: Api, root: User) -> None:
    one = queries_for(lambda: api("get", "users/", root))
    User.objects.create_user("one")
    User.objects.create_user("two")
    assert queries_for(lambda: api("get", "users/", root)) == one


def test_a_system_admin_creates_a_user_who_can_then_log_in(api: Api, root: User) -> None:
    response = api(
        "post", "users/", root, {"username": "erin", "password": "a long new password", "email": "erin@example.com"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "erin"
    assert body["is_admin"] is False
    assert "password" not in body
    assert logs_in("erin", "a long new password")


def test_a_system_admin_creates_another_system_admin(api: Api, root: User) -> None:
    api("post", "users/", root, {"username": "erin", "password": "a long new password", "is_admin": True})
    erin = User.objects.get(username="erin")
    assert Principal.for_user(erin).is_system_admin
    assert erin.is_staff


def test_a_project_admin_may_not_create_users(api: Api, alice: User, team: Project) -> None:
    response = api("post", "users/", alice, {"username": "erin", "password": "a long new password"})
    assert response.status_code == 403
    assert not User.objects.filter(username="erin").exists()


def test_a_taken_username_is_refused_naming_the_field(api: Api, root: User, alice: User) -> None:
    response = api("post", "users/", root, {"username": "alice", "password": "a long new password"})
    assert response.status_code == 400
    assert list(response.json()) == ["username"]


def test_a_weak_password_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = api("post", "users/", root, {"username": "erin", "password": "short"})
    assert response.status_code == 400
    assert "too short" in response.json()["password"][0]


def test_a_system_admin_deactivates_a_user_who_can_no_longer_log_in(api: Api, root: User, alice: User) -> None:
    response = api("patch", f"users/{alice.id}/", root, {"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert not logs_in("alice", PASSWORD)


def test_a_deactivated_users_token_can_no_longer_log_in(api: Api, root: User, alice: User) -> None:
    secret = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()["secret"]
    api("patch", f"users/{alice.id}/", root, {"is_active": False})
    assert not logs_in("alice", secret)


def test_a_system_admin_resets_a_password(api: Api, root: User, alice: User) -> None:
    assert api("patch", f"users/{alice.id}/", root, {"password": "a brand new password"}).status_code == 200
    assert logs_in("alice", "a brand new password")
    assert not logs_in("alice", PASSWORD)


def test_a_system_admin_makes_a_user_a_system_admin(api: Api, root: User, alice: User) -> None:
    response = api("patch", f"users/{alice.id}/", root, {"is_admin": True})
    assert response.json()["is_admin"] is True
    alice.refresh_from_db()
    assert Principal.for_user(alice).is_system_admin


def test_a_system_admin_may_not_deactivate_themselves(api: Api, root: User) -> None:
    response = api("patch", f"users/{root.id}/", root, {"is_active": False})
    assert response.status_code == 400
    assert response.json() == {"is_active": ["You cannot deactivate your own account."]}


def test_a_system_admin_may_not_take_away_their_own_admin_rights(api: Api, root: User) -> None:
    response = api("patch", f"users/{root.id}/", root, {"is_admin": False})
    assert response.status_code == 400
    assert list(response.json()) == ["is_admin"]
    root.refresh_from_db()
    assert root.is_superuser


def test_a_username_is_not_changed_by_an_update(api: Api, root: User, alice: User) -> None:
    api("patch", f"users/{alice.id}/", root, {"username": "alicia"})
    alice.refresh_from_db()
    assert alice.username == "alice"


def test_a_user_may_not_change_their_own_account_through_the_admin_endpoint(api: Api, alice: User) -> None:
    response = api("patch", f"users/{alice.id}/", alice, {"is_admin": True})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert not alice.is_superuser


def test_an_unknown_user_id_is_404(api: Api, root: User) -> None:
    assert api("patch", "users/999999/", root, {"is_active": False}).status_code == 404


def test_me_shows_the_caller(api: Api, dave: User) -> None:
    body = api("get", "users/me/", dave).json()
    assert body["username"] == "dave"
    assert body["is_admin"] is False


def test_me_is_refused_to_a_robot(api: Api, robot: tuple[str, str]) -> None:
    response = api("get", "users/me/", robot)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only users may use this endpoint; robot accounts may not."}


# --- projects --------------------------------------------------------------------------------


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()]


def test_a_member_sees_the_public_projects_and_their_own(api: Api, dave: User, shared: Project) -> None:
    Project.objects.create(name="secret")
    assert names(api("get", "projects/", dave)) == ["shared", "team"]


def test_an_outsider_sees_only_the_public_projects(api: Api, carol: User, team: Project, shared: Project) -> None:
    assert names(api("get", "projects/", carol)) == ["shared"]


def test_an_anonymous_caller_sees_only_the_public_projects(api: Api, team: Project, shared: Project) -> None:
    assert names(api("get", "projects/")) == ["shared"]


def test_a_system_admin_sees_every_project(api: Api, root: User, team: Project, shared: Project) -> None:
    assert names(api("get", "projects/", root)) == ["shared", "team"]


def test_a_robot_sees_its_own_project(api: Api, robot: tuple[str, str], shared: Project) -> None:
    assert names(api("get", "projects/", robot)) == ["shared", "team"]


def test_listing_projects_takes_as_many_queries_for_three_projects_as_for_one(
    api: Api, dave: User, team: Project
) -> None:
    one = queries_for(lambda: api("get", "projects/", dave))
    Project.objects.create(name="open-a", public=True)
    Project.objects.create(name="open-b", public=True)
    assert queries_for(lambda: api("get", "projects/", dave)) == one


def test_a_private_project_is_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    response = api("get", "projects/team/", carol)
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no project team, or you may not see it."}


def test_a_member_reads_their_private_project(api: Api, dave: User, team: Project) -> None:
    body = api("get", "projects/team/", dave).json()
    assert body["name"] == "team"
    assert body["public"] is False


def test_a_system_admin_creates_a_project(api: Api, root: User) -> None:
    response = api("post", "projects/", root, {"name": "team-b", "public": True})
    assert response.status_code == 201
    assert response.json()["name"] == "team-b"
    assert Project.objects.get(name="team-b").public


@pytest.mark.parametrize("persona", ["alice", "dave", "carol"])
def test_users_who_are_not_system_admins_may_not_create_projects(
    api: Api, persona: str, alice: User, dave: User, carol: User
) -> None:
    response = api("post", "projects/", User.objects.get(username=persona), {"name": "team-b"})
    assert response.status_code == 403
    assert not Project.objects.filter(name="team-b").exists()


def test_an_anonymous_caller_may_not_create_projects(api: Api) -> None:
    assert api("post", "projects/", None, {"name": "team-b"}).status_code == 401


@pytest.mark.parametrize("name", ["Team", "team/app", "-team", "team--", "", "a" * 256])
def test_a_project_name_outside_the_name_grammar_is_refused_naming_the_field(api: Api, root: User, name: str) -> None:
    response = api("post", "projects/", root, {"name": name})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_a_project_name_that_exists_is_refused(api: Api, root: User, team: Project) -> None:
    response = api("post", "projects/", root, {"name": "team"})
    assert response.status_code == 400
    assert response.json() == {"name": ["A project with this name already exists."]}


def test_a_project_admin_makes_their_project_public(api: Api, alice: User, team: Project, carol: User) -> None:
    response = api("patch", "projects/team/", alice, {"public": True})
    assert response.status_code == 200
    assert response.json()["public"] is True
    assert "pull" in allowed_actions(Principal.for_user(carol), "team/app")


def test_a_system_admin_makes_a_project_private(api: Api, root: User, shared: Project) -> None:
    assert api("patch", "projects/shared/", root, {"public": False}).json()["public"] is False


def test_a_developer_may_not_change_their_project(api: Api, dave: User, team: Project) -> None:
    response = api("patch", "projects/team/", dave, {"public": True})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only admins of project team and system administrators may change it."}
    team.refresh_from_db()
    assert not team.public


def test_an_outsider_may_not_change_a_public_project(api: Api, carol: User, shared: Project) -> None:
    assert api("patch", "projects/shared/", carol, {"public": False}).status_code == 403


def test_an_anonymous_caller_may_not_change_a_project(api: Api, shared: Project) -> None:
    assert api("patch", "projects/shared/", None, {"public": False}).status_code == 401


def test_a_project_is_not_renamed_by_an_update(api: Api, alice: User, team: Project) -> None:
    api("patch", "projects/team/", alice, {"name": "other"})
    assert Project.objects.filter(name="team").exists()


def test_a_system_admin_deletes_an_empty_project(api: Api, root: User, team: Project) -> None:
    assert api("delete", "projects/team/", root).status_code == 204
    assert not Project.objects.filter(name="team").exists()


def test_a_project_admin_may_not_delete_their_project(api: Api, alice: User, team: Project) -> None:
    assert api("delete", "projects/team/", alice).status_code == 403
    assert Project.objects.filter(name="team").exists()


def test_a_project_that_holds_repositories_is_not_deleted(api: Api, root: User, team: Project) -> None:
    Repository.objects.create(name="team/app", project=team)
    response = api("delete", "projects/team/", root)
    assert response.status_code == 409
    assert response.json() == {"detail": "Project team still holds repositories; delete them first."}
    assert Project.objects.filter(name="team").exists()


def test_a_repository_of_a_similarly_named_project_does_not_block_deletion(api: Api, root: User, team: Project) -> None:
    Repository.objects.create(name="team-b/app", project=Project.objects.create(name="team-b"))
    assert api("delete", "projects/team/", root).status_code == 204


# --- members ---------------------------------------------------------------------------------


def test_a_member_sees_the_members_and_their_roles(api: Api, dave: User) -> None:
    response = api("get", "projects/team/members/", dave)
    assert response.status_code == 200
    assert response.json() == [{"username": "alice", "role": "admin"}, {"username": "dave", "role": "developer"}]


def test_a_system_admin_sees_the_members_of_any_project(api: Api, root: User, dave: User) -> None:
    assert len(api("get", "projects/team/members/", root).json()) == 2


def test_an_outsider_may_not_see_the_members_of_a_public_project(api: Api, carol: User, shared: Project) -> None:
    response = api("get", "projects/shared/members/", carol)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only members of project shared may see its members."}


def test_the_members_of_a_private_project_are_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    response = api("get", "projects/team/members/", carol)
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no project team, or you may not see it."}


def test_an_anonymous_caller_may_not_see_members(api: Api, shared: Project) -> None:
    assert api("get", "projects/shared/members/").status_code == 401


def test_the_members_of_a_missing_project_are_404(api: Api, root: User) -> None:
    assert api("get", "projects/nope/members/", root).status_code == 404


def test_listing_members_takes_as_many_queries_for_three_members_as_for_one(
    api: Api, root: User, team: Project
) -> None:
    one = queries_for(lambda: api("get", "projects/team/members/", root))
    for name in ("m1", "m2"):
        Membership.objects.create(project=team, user=User.objects.create_user(name), role=Role.GUEST)
    assert queries_for(lambda: api("get", "projects/team/members/", root)) == one


def test_a_project_admin_adds_a_member_with_a_role(api: Api, alice: User, team: Project, carol: User) -> None:
    response = api("post", "projects/team/members/", alice, {"username": "carol", "role": "guest"})
    assert response.status_code == 201
    assert response.json() == {"username": "carol", "role": "guest"}
    assert allowed_actions(Principal.for_user(carol), "team/app") == {"pull"}


def test_a_system_admin_adds_a_member_to_a_project_they_do_not_belong_to(
    api: Api, root: User, team: Project, carol: User
) -> None:
    assert api("post", "projects/team/members/", root, {"username": "carol", "role": "maintainer"}).status_code == 201
    assert Membership.objects.get(project=team, user=carol).role == Role.MAINTAINER


def test_a_developer_may_not_add_members(api: Api, dave: User, carol: User) -> None:
    response = api("post", "projects/team/members/", dave, {"username": "carol", "role": "guest"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only admins of project team and system administrators may do this."}
    assert not Membership.objects.filter(user=carol).exists()


def test_an_unknown_user_is_refused_naming_the_username_field(api: Api, alice: User, team: Project) -> None:
    response = api("post", "projects/team/members/", alice, {"username": "nobody", "role": "guest"})
    assert response.status_code == 400
    assert response.json() == {"username": ["There is no active user named nobody."]}


def test_adding_a_member_twice_is_refused(api: Api, alice: User, dave: User) -> None:
    response = api("post", "projects/team/members/", alice, {"username": "dave", "role": "guest"})
    assert response.status_code == 400
    assert response.json() == {"username": ["dave is already a member of team; change their role instead."]}


def test_an_unknown_role_is_refused_naming_the_role_field(api: Api, alice: User, team: Project, carol: User) -> None:
    response = api("post", "projects/team/members/", alice, {"username": "carol", "role": "owner"})
    assert response.status_code == 400
    assert list(response.json()) == ["role"]


def test_a_project_admin_changes_a_members_role(api: Api, alice: User, dave: User) -> None:
    response = api("patch", "projects/team/members/dave/", alice, {"role": "maintainer"})
    assert response.status_code == 200
    assert response.json() == {"username": "dave", "role": "maintainer"}
    assert "delete" in allowed_actions(Principal.for_user(dave), "team/app")


def test_a_role_change_cannot_move_the_membership_to_someone_else(
    api: Api, alice: User, dave: User, carol: User
) -> None:
    api("patch", "projects/team/members/dave/", alice, {"username": "carol", "role": "guest"})
    assert Membership.objects.get(user=dave).role == Role.GUEST
    assert not Membership.objects.filter(user=carol).exists()


def test_a_developer_may_not_change_roles(api: Api, dave: User) -> None:
    assert api("patch", "projects/team/members/dave/", dave, {"role": "admin"}).status_code == 403
    assert Membership.objects.get(user=dave).role == Role.DEVELOPER


def test_a_project_admin_removes_a_member(api: Api, alice: User, dave: User) -> None:
    assert api("delete", "projects/team/members/dave/", alice).status_code == 204
    assert allowed_actions(Principal.for_user(dave), "team/app") == set()


def test_removing_someone_who_is_not_a_member_is_404(api: Api, alice: User, team: Project, carol: User) -> None:
    response = api("delete", "projects/team/members/carol/", alice)
    assert response.status_code == 404
    assert response.json() == {"detail": "carol is not a member of project team."}


# --- robot accounts --------------------------------------------------------------------------


def test_a_new_robot_shows_its_login_name_and_secret(api: Api, alice: User, team: Project) -> None:
    response = api("post", "projects/team/robots/", alice, {"name": "ci", "description": "builds", "can_push": True})
    assert response.status_code == 201
    body = response.json()
    assert body["login_name"] == "robot$team+ci"
    assert body["secret"].startswith("hl_robot_")
    assert (body["can_pull"], body["can_push"], body["can_delete"]) == (True, True, False)
    assert body["expires_at"] is None


def test_a_robot_secret_is_stored_only_as_its_hash(api: Api, robot: tuple[str, str]) -> None:
    _, secret = robot
    row = RobotAccount.objects.values().get(name="ci")
    assert secret not in [str(value) for value in row.values()]
    assert row["secret_hash"] == hash_secret(secret)


def test_the_shown_robot_secret_logs_in_with_the_robots_permissions(api: Api, robot: tuple[str, str]) -> None:
    found = authenticate_login(*robot, address=ADDRESS)
    assert found is not None
    assert allowed_actions(found[0], "team/app") == {"pull", "push"}


def test_the_robot_list_never_shows_a_secret(api: Api, alice: User, robot: tuple[str, str]) -> None:
    response = api("get", "projects/team/robots/", alice)
    assert response.status_code == 200
    [listed] = response.json()
    assert listed["login_name"] == "robot$team+ci"
    assert "secret" not in listed
    assert "secret_hash" not in listed
    assert robot[1] not in response.content.decode()


def test_a_robot_that_is_read_back_shows_no_secret(api: Api, alice: User, robot: tuple[str, str]) -> None:
    body = api("get", "projects/team/robots/ci/", alice).json()
    assert body["name"] == "ci"
    assert "secret" not in body


def test_a_system_admin_creates_a_robot_in_any_project(api: Api, root: User, team: Project) -> None:
    assert api("post", "projects/team/robots/", root, {"name": "ci"}).status_code == 201


@pytest.mark.parametrize("method, path", [("get", "projects/team/robots/"), ("post", "projects/team/robots/")])
def test_a_developer_may_not_list_or_create_robots(api: Api, dave: User, method: str, path: str) -> None:
    response = api(method, path, dave, {"name": "mine"} if method == "post" else None)
    assert response.status_code == 403
    assert not RobotAccount.objects.exists()


def test_a_developer_may_not_revoke_a_robot(api: Api, dave: User, robot: tuple[str, str]) -> None:
    assert api("delete", "projects/team/robots/ci/", dave).status_code == 403
    assert logs_in(*robot)


def test_the_robots_of_a_private_project_are_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    assert api("get", "projects/team/robots/", carol).status_code == 404


def test_an_outsider_may_not_see_the_robots_of_a_public_project(api: Api, carol: User, shared: Project) -> None:
    assert api("get", "projects/shared/robots/", carol).status_code == 403


def test_an_anonymous_caller_may_not_see_robots(api: Api, shared: Project) -> None:
    assert api("get", "projects/shared/robots/").status_code == 401


def test_a_robot_may_not_manage_robots(api: Api, robot: tuple[str, str]) -> None:
    assert api("post", "projects/team/robots/", robot, {"name": "other"}).status_code == 403


def test_a_revoked_robot_can_no_longer_log_in(api: Api, alice: User, robot: tuple[str, str]) -> None:
    assert api("delete", "projects/team/robots/ci/", alice).status_code == 204
    assert not logs_in(*robot)
    listed = api("get", "projects/team/robots/ci/", alice).json()
    assert listed["revoked_at"] is not None
    assert listed["is_active"] is False


def test_revoking_a_robot_twice_keeps_the_first_time(api: Api, alice: User, robot: tuple[str, str]) -> None:
    api("delete", "projects/team/robots/ci/", alice)
    first = RobotAccount.objects.get(name="ci").revoked_at
    assert api("delete", "projects/team/robots/ci/", alice).status_code == 204
    assert RobotAccount.objects.get(name="ci").revoked_at == first


def test_an_expired_robot_can_no_longer_log_in(api: Api, alice: User, team: Project) -> None:
    body = api("post", "projects/team/robots/", alice, {"name": "ci", "expires_at": in_the_future(hours=1)}).json()
    assert logs_in(body["login_name"], body["secret"])
    RobotAccount.objects.filter(name="ci").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not logs_in(body["login_name"], body["secret"])


def test_an_expiry_in_the_past_is_refused_naming_the_field(api: Api, alice: User, team: Project) -> None:
    response = api("post", "projects/team/robots/", alice, {"name": "ci", "expires_at": in_the_future(hours=-1)})
    assert response.status_code == 400
    assert response.json() == {"expires_at": ["The expiry must lie in the future."]}


@pytest.mark.parametrize("name", ["CI", "ci+x", "ci$", "a/b", ""])
def test_a_robot_name_that_would_break_its_login_name_is_refused(
    api: Api, alice: User, team: Project, name: str
) -> None:
    response = api("post", "projects/team/robots/", alice, {"name": name})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_a_robot_name_taken_in_the_project_is_refused(api: Api, alice: User, robot: tuple[str, str]) -> None:
    response = api("post", "projects/team/robots/", alice, {"name": "ci"})
    assert response.status_code == 400
    assert response.json() == {"name": ["Project team already has a robot named ci."]}


def test_listing_robots_takes_as_many_queries_for_three_robots_as_for_one(
    api: Api, alice: User, robot: tuple[str, str]
) -> None:
    one = queries_for(lambda: api("get", "projects/team/robots/", alice))
    for name in ("r1", "r2"):
        api("post", "projects/team/robots/", alice, {"name": name})
    assert queries_for(lambda: api("get", "projects/team/robots/", alice)) == one


# --- personal access tokens ------------------------------------------------------------------


def test_a_new_token_shows_its_secret_once(api: Api, alice: User) -> None:
    response = api("post", "users/me/tokens/", alice, {"name": "laptop"})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "laptop"
    assert body["secret"].startswith("hl_pat_")
    assert body["expires_at"] is None


def test_a_token_secret_is_stored_only_as_its_hash_and_logs_in(api: Api, alice: User) -> None:
    secret = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()["secret"]
    row = PersonalAccessToken.objects.values().get(name="laptop")
    assert secret not in [str(value) for value in row.values()]
    assert row["secret_hash"] == hash_secret(secret)
    found = authenticate_login("alice", secret, address=ADDRESS)
    assert found is not None
    assert found[1] == f"token:{row['id']}"


def test_the_token_list_shows_only_your_own_tokens_without_secrets(api: Api, alice: User, carol: User) -> None:
    secret = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()["secret"]
    api("post", "users/me/tokens/", carol, {"name": "carols"})
    response = api("get", "users/me/tokens/", alice)
    assert [token["name"] for token in response.json()] == ["laptop"]
    assert "secret" not in response.json()[0]
    assert secret not in response.content.decode()


def test_revoking_a_token_stops_it_logging_in(api: Api, alice: User) -> None:
    body = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()
    assert api("delete", f"users/me/tokens/{body['id']}/", alice).status_code == 204
    assert not logs_in("alice", body["secret"])
    assert api("get", f"users/me/tokens/{body['id']}/", alice).json()["is_active"] is False


def test_an_expired_token_can_no_longer_log_in(api: Api, alice: User) -> None:
    body = api("post", "users/me/tokens/", alice, {"name": "laptop", "expires_at": in_the_future(days=30)}).json()
    assert logs_in("alice", body["secret"])
    PersonalAccessToken.objects.filter(id=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not logs_in("alice", body["secret"])


def test_a_token_expiry_in_the_past_is_refused_naming_the_field(api: Api, alice: User) -> None:
    response = api("post", "users/me/tokens/", alice, {"name": "laptop", "expires_at": in_the_future(days=-1)})
    assert response.status_code == 400
    assert list(response.json()) == ["expires_at"]


def test_someone_elses_token_cannot_be_revoked(api: Api, alice: User, carol: User) -> None:
    body = api("post", "users/me/tokens/", alice, {"name": "laptop"}).json()
    assert api("delete", f"users/me/tokens/{body['id']}/", carol).status_code == 404
    assert logs_in("alice", body["secret"])


def test_a_token_name_you_already_use_is_refused(api: Api, alice: User) -> None:
    api("post", "users/me/tokens/", alice, {"name": "laptop"})
    response = api("post", "users/me/tokens/", alice, {"name": "laptop"})
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a token named laptop."]}


def test_a_token_without_a_name_is_refused_naming_the_field(api: Api, alice: User) -> None:
    response = api("post", "users/me/tokens/", alice, {})
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_a_robot_may_not_have_personal_tokens(api: Api, robot: tuple[str, str]) -> None:
    assert api("post", "users/me/tokens/", robot, {"name": "x"}).status_code == 403


def test_an_anonymous_caller_has_no_tokens(api: Api) -> None:
    assert api("get", "users/me/tokens/").status_code == 401


# --- the OpenAPI schema ----------------------------------------------------------------------


def test_the_schema_is_an_openapi_document_listing_the_management_paths(api: Api) -> None:
    response = api("get", "schema/?format=json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/users/",
        "/api/v1/users/{user_id}/",
        "/api/v1/users/me/",
        "/api/v1/users/me/tokens/",
        "/api/v1/users/me/tokens/{token_id}/",
        "/api/v1/projects/",
        "/api/v1/projects/{project_name}/",
        "/api/v1/projects/{project_name}/members/",
        "/api/v1/projects/{project_name}/members/{username}/",
        "/api/v1/projects/{project_name}/groups/",
        "/api/v1/projects/{project_name}/groups/{group_name}/",
        "/api/v1/projects/{project_name}/robots/",
        "/api/v1/projects/{project_name}/robots/{robot_name}/",
        "/api/v1/projects/{project_name}/retention/",
        "/api/v1/projects/{project_name}/retention/simulation/",
        "/api/v1/projects/{project_name}/immutable-tags/",
        "/api/v1/projects/{project_name}/immutable-tags/{rule_id}/",
        "/api/v1/projects/{project_name}/recycle-bin/",
        "/api/v1/projects/{project_name}/recycle-bin/{deletion_id}/",
        "/api/v1/projects/{project_name}/recycle-bin/{deletion_id}/restore/",
        "/api/v1/projects/{project_name}/usage/",
        "/api/v1/projects/{project_name}/usage/history/",
        "/api/v1/repositories/{repository_name}/usage/",
        "/api/v1/repositories/{repository_name}/deletion-plan/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{job_id}/",
        "/api/v1/replication-rules/",
        "/api/v1/replication-rules/{rule_id}/",
        "/api/v1/replication-rules/{rule_id}/runs/",
        "/api/v1/audit-logs/",
        "/api/v1/projects/{project_name}/audit-logs/",
        "/api/v1/projects/{project_name}/webhooks/",
        "/api/v1/projects/{project_name}/webhooks/{webhook_id}/",
        "/api/v1/projects/{project_name}/webhooks/{webhook_id}/deliveries/",
        "/api/v1/projects/{project_name}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend/",
        "/api/v1/projects/{project_name}/webhooks/{webhook_id}/test/",
    }


def test_the_schema_says_a_new_robot_answer_carries_its_secret(api: Api) -> None:
    document = json.loads(api("get", "schema/?format=json").content)
    created = document["paths"]["/api/v1/projects/{project_name}/robots/"]["post"]["responses"]["201"]
    reference = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "secret" in document["components"]["schemas"][reference]["properties"]


def test_the_schema_checks_no_password_so_none_escapes_the_login_throttle(api: Api, alice: User) -> None:
    assert api("get", "schema/?format=json", ("alice", "wrong")).status_code == 200
    assert logs_in("alice", PASSWORD)
