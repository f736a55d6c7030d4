"""`/auth/token`: the Docker token auth spec's GET form and the OAuth2 POST form."""

import jwt
import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from accounts.tokens import verify_access_token, verify_refresh_token
from tests.conftest import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db


def access_of(body: dict[str, object]) -> list[dict[str, object]]:
    return verify_access_token(str(body["token"]))["access"]  # type: ignore[no-any-return]


@pytest.fixture
def team(alice: User) -> Project:
    project = Project.objects.create(name="team")
    Membership.objects.create(project=project, user=alice, role=Role.DEVELOPER)
    return project


def test_it_answers_with_token_access_token_expiry_and_issue_time(client: Client, alice: User, team: Project) -> None:
    response = client.get(
        "/auth/token",
        {"service": "harbor-lite", "scope": "repository:team/app:pull,push"},
        HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] >= 60
    assert body["issued_at"].endswith("+00:00")
    claims = verify_access_token(body["token"])
    assert claims["sub"] == "alice"
    assert claims["aud"] == "harbor-lite"
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_the_token_names_its_key_and_the_jwks_publishes_it(client: Client, alice: User) -> None:
    token = client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)).json()["token"]
    kid = jwt.get_unverified_header(token)["kid"]
    keys = client.get("/auth/jwks.json").json()["keys"]
    assert [key["kid"] for key in keys] == [kid]
    assert keys[0]["alg"] == "ES256"
    assert "d" not in keys[0]


def test_a_wrong_password_is_refused_with_401(client: Client, alice: User) -> None:
    response = client.get("/auth/token", {"service": "harbor-lite"}, HTTP_AUTHORIZATION=basic_auth("alice", "wrong"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_grant_is_the_intersection_of_what_was_asked_and_what_the_caller_may(
    client: Client, alice: User, team: Project
) -> None:
    body = client.get(
        "/auth/token",
        {"scope": "repository:team/app:pull,push,delete"},
        HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD),
    ).json()
    assert access_of(body) == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_two_scope_parameters_are_both_granted_as_a_cross_repository_mount_asks(
    client: Client, alice: User, team: Project
) -> None:
    Project.objects.create(name="shared", public=True)
    response = client.get(
        "/auth/token?scope=repository:shared/base:pull&scope=repository:team/app:pull,push",
        HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD),
    )
    assert access_of(response.json()) == [
        {"type": "repository", "name": "shared/base", "actions": ["pull"]},
        {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
    ]


def test_the_wildcard_action_asks_for_everything_the_caller_may(client: Client, alice: User, team: Project) -> None:
    Membership.objects.filter(user=alice).update(role=Role.MAINTAINER)
    body = client.get(
        "/auth/token", {"scope": "repository:team/app:*"}, HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    ).json()
    assert access_of(body) == [{"type": "repository", "name": "team/app", "actions": ["delete", "pull", "push"]}]


def test_an_anonymous_caller_gets_pull_on_a_public_project_and_nothing_on_a_private_one(client: Client) -> None:
    Project.objects.create(name="public", public=True)
    Project.objects.create(name="private")
    response = client.get(
        "/auth/token?scope=repository:public/app:pull,push&scope=repository:private/app:pull",
    )
    assert response.status_code == 200
    assert access_of(response.json()) == [{"type": "repository", "name": "public/app", "actions": ["pull"]}]


def test_the_catalog_scope_is_granted(client: Client, alice: User) -> None:
    body = client.get(
        "/auth/token", {"scope": "registry:catalog:*"}, HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    ).json()
    assert access_of(body) == [{"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_dockers_extra_parameters_are_accepted(client: Client, alice: User) -> None:
    response = client.get(
        "/auth/token",
        {"account": "alice", "client_id": "docker", "offline_token": "true", "service": "harbor-lite"},
        HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD),
    )
    assert response.status_code == 200
    assert verify_access_token(response.json()["token"])["sub"] == "alice"


def test_a_request_for_another_service_is_refused(client: Client) -> None:
    response = client.get("/auth/token", {"service": "registry.docker.io"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_the_oauth2_password_grant_returns_a_refresh_token_for_offline_access(
    client: Client, alice: User, team: Project
) -> None:
    response = client.post(
        "/auth/token",
        {
            "grant_type": "password",
            "username": "alice",
            "password": PASSWORD,
            "service": "harbor-lite",
            "scope": "repository:team/app:pull",
            "client_id": "containerd",
            "access_type": "offline",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert access_of(body) == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    assert verify_refresh_token(body["refresh_token"])["sub"] == "alice"


def test_the_refresh_token_grant_issues_a_new_access_token(client: Client, alice: User, team: Project) -> None:
    refresh = client.post(
        "/auth/token",
        {"grant_type": "password", "username": "alice", "password": PASSWORD, "access_type": "offline"},
    ).json()["refresh_token"]
    response = client.post(
        "/auth/token",
        {"grant_type": "refresh_token", "refresh_token": refresh, "scope": "repository:team/app:push"},
    )
    assert response.status_code == 200
    assert access_of(response.json()) == [{"type": "repository", "name": "team/app", "actions": ["push"]}]


def test_a_refresh_token_of_a_deactivated_user_is_refused(client: Client, alice: User) -> None:
    refresh = client.post(
        "/auth/token",
        {"grant_type": "password", "username": "alice", "password": PASSWORD, "access_type": "offline"},
    ).json()["refresh_token"]
    User.objects.filter(id=alice.id).update(is_active=False)
    response = client.post("/auth/token", {"grant_type": "refresh_token", "refresh_token": refresh})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_access_token_is_not_accepted_as_a_refresh_token(client: Client, alice: User) -> None:
    access = client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)).json()["token"]
    response = client.post("/auth/token", {"grant_type": "refresh_token", "refresh_token": access})
    assert response.status_code == 400


def test_an_unknown_grant_type_is_refused(client: Client) -> None:
    response = client.post("/auth/token", {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_failed_logins_for_one_account_are_throttled_with_retry_after(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", "wrong")).status_code == 401
    response = client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["errors"][0]["code"] == "TOOMANYREQUESTS"


def test_failed_logins_from_one_address_are_throttled_across_accounts(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 2
    client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("mallory", "x"))
    client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("trudy", "y"))
    response = client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD))
    assert response.status_code == 429
