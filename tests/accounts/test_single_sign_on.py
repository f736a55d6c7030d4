"""accounts/single_sign_on.py in-process; the whole flow runs in tests/browser/test_single_sign_on.py."""

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts.single_sign_on import SingleSignOnBackend
from tests.directory import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(settings: object) -> SingleSignOnBackend:
    closed = f"http://127.0.0.1:{free_port()}"
    for name, value in {
        "OIDC_OP_TOKEN_ENDPOINT": f"{closed}/token",
        "OIDC_OP_USER_ENDPOINT": f"{closed}/me",
        "OIDC_OP_JWKS_ENDPOINT": f"{closed}/jwks",
        "OIDC_RP_CLIENT_ID": "harbor-lite",
        "OIDC_RP_CLIENT_SECRET": "s3cret",
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_TIMEOUT": 2,
        "REGISTRY_OIDC_ADMIN_GROUP": "registry-admins",
        # The callback's route exists only where single sign-on was configured at start; any
        # route serves for the redirect_uri the token request names.
        "OIDC_AUTHENTICATION_CALLBACK_URL": "ui:login",
    }.items():
        setattr(settings, name, value)
    return SingleSignOnBackend()


def test_a_provider_that_does_not_answer_ends_the_sign_on_without_an_error(backend: SingleSignOnBackend) -> None:
    request = RequestFactory().get("/oidc/callback/", {"code": "a code", "state": "a state"})
    request.session = SessionStore()

    assert backend.authenticate(request, nonce="n", code_verifier="v") is None


def test_the_claims_make_a_user_with_the_groups_and_later_ones_change_them(backend: SingleSignOnBackend) -> None:
    olga = backend.create_user({"preferred_username": "olga", "email": "olga@example.lan", "groups": ["developers"]})

    assert not olga.has_usable_password()
    assert [group.name for group in olga.groups.all()] == ["developers"]
    assert not olga.is_superuser

    backend.update_user(olga, {"preferred_username": "olga", "groups": "registry-admins"})
    olga.refresh_from_db()
    assert [group.name for group in olga.groups.all()] == ["registry-admins"]
    assert olga.is_superuser
    assert Group.objects.filter(name="developers").exists()


def test_claims_without_a_usable_name_or_naming_a_local_account_are_refused(backend: SingleSignOnBackend) -> None:
    User.objects.create_user("admin", password="a local password")

    assert not backend.verify_claims({"preferred_username": "admin"})
    assert not backend.verify_claims({"email": "nobody@example.lan"})
    assert not backend.verify_claims({"preferred_username": "x" * 151})
    assert backend.verify_claims({"preferred_username": "olga"})
