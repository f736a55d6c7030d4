"""registry_ui/directory_settings.py: the company's directories read from the environment, a bad or
missing value named at start."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry_ui.directory_settings import LDAP, LOCAL, SINGLE_SIGN_ON, directory_settings

LDAP_ENVIRONMENT = {"REGISTRY_LDAP_URI": "ldap://ldap.lan", "REGISTRY_LDAP_USER_SEARCH_BASE": "ou=people,dc=lan"}
OIDC_ENVIRONMENT = {
    "REGISTRY_OIDC_CLIENT_ID": "harbor-lite",
    "REGISTRY_OIDC_CLIENT_SECRET": "s3cret",
    "REGISTRY_OIDC_AUTHORIZATION_ENDPOINT": "https://sso.lan/auth",
    "REGISTRY_OIDC_TOKEN_ENDPOINT": "https://sso.lan/token",
    "REGISTRY_OIDC_USERINFO_ENDPOINT": "https://sso.lan/me",
    "REGISTRY_OIDC_JWKS_ENDPOINT": "https://sso.lan/jwks",
}


@pytest.fixture(autouse=True)
def no_directories(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*LDAP_ENVIRONMENT, *OIDC_ENVIRONMENT, "REGISTRY_LDAP_USER_FILTER", "REGISTRY_LDAP_ADMIN_GROUP"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def configure(monkeypatch: pytest.MonkeyPatch, **environment: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def test_without_a_directory_only_local_accounts_log_in() -> None:
    assert directory_settings() == {"AUTHENTICATION_BACKENDS": [LOCAL]}


def test_local_accounts_are_asked_before_each_directory(no_directories: pytest.MonkeyPatch) -> None:
    configure(no_directories, **LDAP_ENVIRONMENT, **OIDC_ENVIRONMENT)

    found = directory_settings()

    assert found["AUTHENTICATION_BACKENDS"] == [LOCAL, LDAP, SINGLE_SIGN_ON]
    assert found["OIDC_USE_PKCE"] is True
    assert found["AUTH_LDAP_USER_SEARCH"].filterstr == "(uid=%(user)s)"


def test_a_user_filter_without_the_user_is_refused(no_directories: pytest.MonkeyPatch) -> None:
    configure(no_directories, **LDAP_ENVIRONMENT, REGISTRY_LDAP_USER_FILTER="(uid=alice)")

    with pytest.raises(ImproperlyConfigured, match="REGISTRY_LDAP_USER_FILTER"):
        directory_settings()


def test_an_admin_group_needs_a_group_search(no_directories: pytest.MonkeyPatch) -> None:
    configure(no_directories, **LDAP_ENVIRONMENT, REGISTRY_LDAP_ADMIN_GROUP="cn=admins,dc=lan")

    with pytest.raises(ImproperlyConfigured, match="REGISTRY_LDAP_GROUP_SEARCH_BASE"):
        directory_settings()


def test_single_sign_on_names_the_endpoint_it_misses(no_directories: pytest.MonkeyPatch) -> None:
    configure(no_directories, **{**OIDC_ENVIRONMENT, "REGISTRY_OIDC_JWKS_ENDPOINT": ""})
    no_directories.delenv("REGISTRY_OIDC_JWKS_ENDPOINT")

    with pytest.raises(ImproperlyConfigured, match="REGISTRY_OIDC_JWKS_ENDPOINT"):
        directory_settings()
