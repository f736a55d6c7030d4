"""A refresh token is tied to the version of the credential that logged in: a password change (by
the user, through the API or by an administrator), a deactivation, or the revocation of a robot
or personal token ends every refresh token issued before, as the attacker holding one would try."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.services.robots import create_personal_token, create_robot
from accounts.tokens import issue_refresh_token
from tests.conftest import PASSWORD, basic_auth

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def root(db: None) -> User:
    return User.objects.create_superuser("root", password=PASSWORD)


def password_grant(client: Client, username: str, password: str) -> str:
    response = client.post(
        "/auth/token",
        {"grant_type": "password", "username": username, "password": password, "access_type": "offline"},
    )
    assert response.status_code == 200, response.content
    return str(response.json()["refresh_token"])


def refresh(client: Client, token: str) -> Any:
    return client.post("/auth/token", {"grant_type": "refresh_token", "refresh_token": token})


def assert_refused(response: Any) -> None:
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_token_renews_itself_while_nothing_changed(client: Client, alice: User) -> None:
    first = refresh(client, password_grant(client, "alice", PASSWORD))
    assert first.status_code == 200
    assert refresh(client, first.json()["refresh_token"]).status_code == 200


def test_a_password_changed_through_the_api_ends_the_refresh_tokens_issued_before(
    client: Client, alice: User, root: User
) -> None:
    stolen = password_grant(client, "alice", PASSWORD)
    renewed = refresh(client, stolen).json()["refresh_token"]
    response = client.patch(
        f"/api/v1/users/{alice.id}/",
        {"password": NEW_PASSWORD},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("root"),
    )
    assert response.status_code == 200
    assert_refused(refresh(client, stolen))
    assert_refused(refresh(client, renewed))
    assert refresh(client, password_grant(client, "alice", NEW_PASSWORD)).status_code == 200


def test_a_password_changed_by_its_user_on_the_dashboard_ends_the_refresh_tokens(client: Client, alice: User) -> None:
    stolen = password_grant(client, "alice", PASSWORD)
    browser = Client()
    browser.force_login(alice)
    response = browser.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert_refused(refresh(client, stolen))


def test_a_password_reset_by_an_administrator_ends_the_refresh_tokens(client: Client, alice: User, root: User) -> None:
    stolen = password_grant(client, "alice", PASSWORD)
    browser = Client()
    browser.force_login(root)
    assert browser.post(f"/admin/users/{alice.id}/password/", {"password": NEW_PASSWORD}).status_code == 302
    assert_refused(refresh(client, stolen))


@pytest.mark.parametrize("through", ["api", "dashboard"])
def test_a_deactivation_ends_the_refresh_tokens_even_once_the_user_is_active_again(
    client: Client, alice: User, root: User, through: str
) -> None:
    stolen = password_grant(client, "alice", PASSWORD)
    personal = create_personal_token(alice, "ci")
    stolen_by_token = password_grant(client, "alice", personal.secret)
    for active in (False, True):
        if through == "api":
            response = client.patch(
                f"/api/v1/users/{alice.id}/",
                {"is_active": active},
                content_type="application/json",
                HTTP_AUTHORIZATION=basic_auth("root"),
            )
            assert response.status_code == 200
        else:
            browser = Client()
            browser.force_login(root)
            browser.post(f"/admin/users/{alice.id}/active/", {"active": "1" if active else "0"})
    alice.refresh_from_db()
    assert alice.is_active
    assert_refused(refresh(client, stolen))
    assert_refused(refresh(client, stolen_by_token))
    assert refresh(client, password_grant(client, "alice", PASSWORD)).status_code == 200


def test_revoking_a_personal_token_ends_its_refresh_tokens(client: Client, alice: User) -> None:
    personal = create_personal_token(alice, "ci")
    stolen = password_grant(client, "alice", personal.secret)
    response = client.delete(f"/api/v1/users/me/tokens/{personal.token.id}/", HTTP_AUTHORIZATION=basic_auth("alice"))
    assert response.status_code == 204
    assert_refused(refresh(client, stolen))


def test_revoking_or_rotating_a_robot_ends_its_refresh_tokens(client: Client, root: User) -> None:
    team = Project.objects.create(name="team")
    rotated = create_robot(team, "rotated")
    stolen = password_grant(client, "robot$team+rotated", rotated.secret)
    # There is no rotation endpoint yet; a new secret hash is what one would write.
    type(rotated.robot).objects.filter(id=rotated.robot.id).update(secret_hash="0" * 64)
    assert_refused(refresh(client, stolen))

    revoked = create_robot(team, "revoked")
    stolen = password_grant(client, "robot$team+revoked", revoked.secret)
    response = client.delete("/api/v1/projects/team/robots/revoked/", HTTP_AUTHORIZATION=basic_auth("root"))
    assert response.status_code == 204
    assert_refused(refresh(client, stolen))


def test_a_refresh_token_without_a_version_is_refused(client: Client, alice: User) -> None:
    """Refresh tokens issued before versions existed: nothing says they predate a reset."""
    token = issue_refresh_token("alice", "user", "")
    assert_refused(refresh(client, token))
