"""`Authorization: Basic Og==` (an empty username and password, which some clients send when they
have none) is the anonymous caller everywhere: it is no failed login, and however often it comes
it never throttles anyone (issue 12, item 18)."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.tokens import verify_access_token
from oci.request_edge import NO_CREDENTIALS, parse_authorization
from tests.conftest import basic_auth

EMPTY_BASIC = "Basic Og=="


def test_empty_basic_credentials_present_nothing() -> None:
    assert parse_authorization(EMPTY_BASIC) == NO_CREDENTIALS
    assert parse_authorization(basic_auth("", "secret")).scheme == "basic"
    assert parse_authorization(basic_auth("alice", "")).scheme == "basic"


def test_the_token_service_gives_an_anonymous_token_for_empty_credentials_however_often(
    client: Client, shared: Project, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 2
    for _ in range(5):
        response = client.get("/auth/token", {"scope": "repository:shared/app:pull"}, HTTP_AUTHORIZATION=EMPTY_BASIC)
        assert response.status_code == 200
        claims = verify_access_token(response.json()["token"])
        assert claims["sub"] == ""
        assert claims["access"] == [{"type": "repository", "name": "shared/app", "actions": ["pull"]}]


def test_the_registry_challenges_empty_credentials_as_it_does_no_credentials(client: Client) -> None:
    response = client.get("/v2/", HTTP_AUTHORIZATION=EMPTY_BASIC)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("path", ["/v2/shared/app/tags/list", "/v2/shared/app/manifests/latest"])
def test_a_pull_with_empty_credentials_is_an_anonymous_pull(client: Client, shared: Project, path: str) -> None:
    response = client.get(path, HTTP_AUTHORIZATION=EMPTY_BASIC)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] in {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"}


def test_the_management_api_asks_empty_credentials_to_sign_in(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 2
    for _ in range(3):
        response = client.get("/api/v1/users/me/", HTTP_AUTHORIZATION=EMPTY_BASIC)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Harbor-lite"'
    assert client.get("/api/v1/users/me/", HTTP_AUTHORIZATION=basic_auth("alice")).status_code == 200
