"""Robot accounts: project admins create them (the secret shown once) and revoke them."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project, RobotAccount
from accounts.services.credentials import authenticate_login, hash_secret
from accounts.services.robots import create_robot

AsUser = Callable[[User], Client]


def test_the_robots_page_needs_a_login(client: Client, team: Project) -> None:
    assert client.get("/projects/team/robots/")["Location"].startswith("/login/")


def test_a_project_admin_sees_the_robots_and_never_a_secret(as_user: AsUser, alice: User, team: Project) -> None:
    created = create_robot(team, "ci", can_push=True)
    page = as_user(alice).get("/projects/team/robots/").content.decode()
    assert "robot$team+ci" in page
    assert created.secret not in page
    assert 'action="/projects/team/robots/create/"' in page


def test_a_collaborator_gets_404(as_user: AsUser, bob: User) -> None:
    assert as_user(bob).get("/projects/team/robots/").status_code == 404


def test_an_outsider_gets_404(as_user: AsUser, carol: User, team: Project) -> None:
    assert as_user(carol).get("/projects/team/robots/").status_code == 404


def test_creating_a_robot_shows_its_secret_once_and_it_logs_in(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).post(
        "/projects/team/robots/create/", {"name": "ci", "description": "builds", "can_pull": "on", "can_push": "on"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    secret = response.context["secret"]
    assert secret.startswith("hl_robot_") and secret in response.content.decode()
    robot = RobotAccount.objects.get(name="ci")
    assert robot.secret_hash == hash_secret(secret)
    assert robot.can_push and not robot.can_delete
    assert authenticate_login("robot$team+ci", secret, "127.0.0.1") is not None


def test_a_taken_or_malformed_name_is_refused_on_the_field(as_user: AsUser, alice: User, team: Project) -> None:
    create_robot(team, "ci")
    client = as_user(alice)
    taken = client.post("/projects/team/robots/create/", {"name": "ci", "can_pull": "on"})
    assert taken.status_code == 400
    assert b"Project team already has a robot named ci." in taken.content
    malformed = client.post("/projects/team/robots/create/", {"name": "CI+x", "can_pull": "on"})
    assert b"Use lowercase letters and digits" in malformed.content


def test_an_expiry_in_the_past_is_refused(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).post("/projects/team/robots/create/", {"name": "ci", "expires_at": "2001-01-01T00:00"})
    assert response.status_code == 400
    assert b"The expiry must lie in the future." in response.content


def test_a_collaborator_may_not_create_or_revoke(as_user: AsUser, bob: User, team: Project) -> None:
    create_robot(team, "ci")
    client = as_user(bob)
    assert (
        b"Only admins of project team"
        in client.post("/projects/team/robots/create/", {"name": "x"}, follow=True).content
    )
    client.post("/projects/team/robots/ci/revoke/")
    assert not RobotAccount.objects.filter(name="x").exists()
    assert RobotAccount.objects.get(name="ci").revoked_at is None


def test_revoking_stops_the_robot_and_a_second_revoke_says_so(as_user: AsUser, alice: User, team: Project) -> None:
    created = create_robot(team, "ci")
    client = as_user(alice)
    assert b"robot$team+ci is revoked" in client.post("/projects/team/robots/ci/revoke/", follow=True).content
    assert authenticate_login("robot$team+ci", created.secret, "127.0.0.1") is None
    assert b"was already revoked" in client.post("/projects/team/robots/ci/revoke/", follow=True).content
    assert b"has no robot named gone" in client.post("/projects/team/robots/gone/revoke/", follow=True).content
