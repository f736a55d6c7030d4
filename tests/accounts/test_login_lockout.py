"""A stranger who tries wrong passwords for an account closes it to their own address only: its
user logs in from elsewhere, with docker (the token service), Basic on /v2/ and the dashboard
(issue 12, item 4). The stranger's address is still throttled, per account and across accounts."""

from django.contrib.auth.models import User
from django.test import Client

from audit import actions
from audit.models import AuditEvent
from tests.conftest import PASSWORD, basic_auth

STRANGER = "203.0.113.66"
USER = "198.51.100.7"


def token(client: Client, username: str, password: str, address: str) -> int:
    return client.get("/auth/token", HTTP_AUTHORIZATION=basic_auth(username, password), REMOTE_ADDR=address).status_code


def test_a_strangers_wrong_passwords_do_not_lock_the_user_out_elsewhere(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        assert token(client, "alice", "guess", STRANGER) == 401

    assert token(client, "alice", PASSWORD, STRANGER) == 429
    assert token(client, "alice", PASSWORD, USER) == 200
    assert client.get("/v2/", HTTP_AUTHORIZATION=basic_auth("alice"), REMOTE_ADDR=USER).status_code == 200
    dashboard = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR=USER)
    assert dashboard.status_code == 302


def test_an_address_guessing_across_accounts_is_throttled(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 4
    for username in ("admin", "root", "ci", "bob"):
        assert token(client, username, "guess", STRANGER) == 401

    assert token(client, "alice", PASSWORD, STRANGER) == 429
    assert token(client, "alice", PASSWORD, USER) == 200


def test_the_throttle_closing_is_in_the_audit_log_once_and_not_each_refused_attempt(
    client: Client, alice: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 5
    for username in ("alice", "alice", "alice", "bob", "ci"):
        assert token(client, username, "guess", STRANGER) == 401
    for _ in range(4):
        assert token(client, "carol", "guess", STRANGER) == 429

    closings = AuditEvent.objects.filter(action=actions.LOGIN_THROTTLED).order_by("id")
    assert [(event.resource, event.client_address, event.detail["refused"]) for event in closings] == [
        ("alice", STRANGER, "this account"),
        (STRANGER, STRANGER, "every account"),
    ]
    assert AuditEvent.objects.filter(action=actions.LOGIN_FAILED, client_address=STRANGER).count() == 5
