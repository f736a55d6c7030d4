"""Scope amplification: one /auth/token request asking for thousands of scopes, or for a token too
large for a proxy to pass on, gets a clear 400 at once (issue 12, item 6)."""

import time

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.tokens import verify_access_token
from tests.conftest import PASSWORD, basic_auth


def scopes(count: int, length: int = 8) -> list[str]:
    return [f"repository:shared/{'a' * (length - 4)}{index:04d}:pull" for index in range(count)]


def assert_invalid_scope(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "fewer scopes" in response.json()["error_description"]


def test_twenty_thousand_scopes_in_one_parameter_are_refused_at_once(client: Client, shared: Project) -> None:
    started = time.monotonic()
    response = client.get("/auth/token", {"scope": " ".join(scopes(20_000))})
    assert time.monotonic() - started < 1
    assert_invalid_scope(response)


def test_too_many_scopes_in_an_oauth2_password_grant_are_refused(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_TOKEN_MAX_SCOPES = 3
    body = {"grant_type": "password", "username": "alice", "password": PASSWORD, "scope": scopes(4)}
    assert_invalid_scope(client.post("/auth/token", body))


def test_as_many_scopes_as_the_limit_are_granted(client: Client, alice: User, shared: Project, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_TOKEN_MAX_SCOPES = 3
    response = client.get("/auth/token", {"scope": scopes(3)}, HTTP_AUTHORIZATION=basic_auth("alice"))
    assert response.status_code == 200
    assert len(verify_access_token(response.json()["token"])["access"]) == 3


def test_a_token_too_large_for_a_proxys_header_line_is_refused(client: Client, shared: Project) -> None:
    response = client.get("/auth/token", {"scope": scopes(40, length=240)})
    assert_invalid_scope(response)
    assert "bytes" in response.json()["error_description"]
