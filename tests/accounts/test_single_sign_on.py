"""accounts/single_sign_on.py in-process, with a real provider (tests/oidc.py) where the flow
matters; the whole flow in a browser runs in tests/browser/test_single_sign_on.py."""

import importlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import clear_url_caches

import registry_ui.urls
from accounts.models import SingleSignOnIdentity
from accounts.services import users
from accounts.single_sign_on import SingleSignOnBackend
from accounts.single_sign_on_provider import forget_discovered
from registry_ui.directory_settings import directory_settings
from tests.conftest import PASSWORD, basic_auth
from tests.directory import PASSWORD as DIRECTORY_PASSWORD
from tests.directory import Directory
from tests.oidc import CLIENT_ID, OidcProvider, authorization_code, running_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(settings: object, silent_listener: int) -> SingleSignOnBackend:
    """The backend configured for a provider that accepts connections and never answers."""
    silent = f"http://127.0.0.1:{silent_listener}"
    for name, value in {
        "OIDC_OP_TOKEN_ENDPOINT": f"{silent}/token",
        "OIDC_OP_USER_ENDPOINT": f"{silent}/me",
        "OIDC_OP_JWKS_ENDPOINT": f"{silent}/jwks",
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


def test_a_provider_that_does_not_answer_ends_the_sign_on_without_an_error_within_the_timeout(
    backend: SingleSignOnBackend,
) -> None:
    request = RequestFactory().get("/oidc/callback/", {"code": "a code", "state": "a state"})
    request.session = SessionStore()

    started = time.monotonic()
    assert backend.authenticate(request, nonce="n", code_verifier="v") is None
    # OIDC_TIMEOUT is 2 s.
    assert 2 <= time.monotonic() - started < 4


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


REDIRECT_URI = "http://testserver/oidc/callback/"
SIGN_ON_FAILED = "/login/?single-sign-on=failed"


@contextmanager
def configured_for(
    provider: OidcProvider, settings: Any, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str] | None = None
) -> Iterator[None]:
    """This process configured for `provider` as an operator would (each endpoint set, unless
    `environment` says otherwise), with the /oidc/ routes that exist only where single sign-on was
    configured when the URLs were loaded; no discovery document kept from another test."""
    forget_discovered()
    for name, value in (environment or provider.environment()).items():
        monkeypatch.setenv(name, value)
    for name, value in directory_settings().items():
        setattr(settings, name, value)
    settings.REGISTRY_SINGLE_SIGN_ON = True
    importlib.reload(registry_ui.urls)
    clear_url_caches()
    try:
        yield
    finally:
        settings.REGISTRY_SINGLE_SIGN_ON = False
        importlib.reload(registry_ui.urls)
        clear_url_caches()


def sign_on(
    browser: Client, login: str, at_the_provider: requests.Session | None = None
) -> tuple[HttpResponse, dict[str, str]]:
    """The dashboard's "Log in with…" through the provider's pages (with the provider's cookies
    of `at_the_provider`); the registry's answer to the provider's redirect back, and its query."""
    started = browser.get("/oidc/authenticate/")
    assert started.status_code == 302
    code = authorization_code(started["Location"], login, REDIRECT_URI, at_the_provider)
    back = {"code": code, "state": parse_qs(urlsplit(started["Location"]).query)["state"][0]}
    return browser.get("/oidc/callback/", back), back


def test_a_provider_clock_a_little_ahead_still_signs_on_and_a_replayed_callback_is_a_message(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    browser = Client()
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log", clock_offset_seconds=20) as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        response, back = sign_on(browser, "olga")
        assert (response.status_code, response["Location"]) == (302, "/")
        assert User.objects.get(id=browser.session["_auth_user_id"]).username == "olga"

        replayed = browser.get("/oidc/callback/", back)
        assert (replayed.status_code, replayed["Location"]) == (302, SIGN_ON_FAILED)
        assert b"Single sign-on did not log you in" in Client().get(SIGN_ON_FAILED).content


@pytest.mark.parametrize(
    ("clock_offset_seconds", "id_token_seconds"),
    [(3600, 3600), (-600, 60)],
    ids=["issued-in-the-future", "expired"],
)
def test_an_id_token_outside_its_time_is_the_login_pages_message_not_a_500(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock_offset_seconds: int, id_token_seconds: int
) -> None:
    browser = Client()
    with (
        running_provider(
            REDIRECT_URI,
            {},
            tmp_path / "provider.log",
            clock_offset_seconds=clock_offset_seconds,
            id_token_seconds=id_token_seconds,
        ) as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        response, _ = sign_on(browser, "olga")

        assert (response.status_code, response["Location"]) == (302, SIGN_ON_FAILED)
        assert "_auth_user_id" not in browser.session
        assert not User.objects.filter(username="olga").exists()


def test_a_provider_account_named_like_a_directory_person_or_a_local_account_is_refused_not_merged(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, with_directory: Directory
) -> None:
    """preferred_username is the provider account's to choose: it cannot take over dora, whom the
    company directory made a user, nor the local administrator."""
    assert Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", DIRECTORY_PASSWORD)).status_code == 200
    User.objects.create_user("root", password="a local password")
    groups = {"mallory": ["registry-admins"], "trudy": ["registry-admins"]}
    with (
        running_provider(
            REDIRECT_URI, groups, tmp_path / "provider.log", usernames={"mallory": "Dora", "trudy": "root"}
        ) as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        for login, name in (("mallory", "Dora"), ("trudy", "root")):
            browser = Client()
            response, _ = sign_on(browser, login)

            assert (response.status_code, response["Location"]) == (302, SIGN_ON_FAILED)
            assert "_auth_user_id" not in browser.session
            page = browser.get(SIGN_ON_FAILED).content.decode()
            assert f"The name {name} is already taken here by another account" in page

    dora = User.objects.get(username="dora")
    assert [group.name for group in dora.groups.all()] == ["developers"]
    assert not dora.is_superuser
    assert not SingleSignOnIdentity.objects.exists()


def test_a_person_is_found_again_by_the_provider_subject_whatever_their_name_claim_says(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        response, _ = sign_on(Client(), "olga")
        assert response["Location"] == "/"
    olga = User.objects.get(username="olga")
    assert SingleSignOnIdentity.objects.get(user=olga).subject == "olga"

    # The provider now calls her otherwise: still the same user, under the name she had.
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log", usernames={"olga": "olga.new"}) as renamed,
        configured_for(renamed, settings, monkeypatch),
    ):
        # Another port, so another issuer: the same provider restarted, as far as this test goes.
        SingleSignOnIdentity.objects.filter(user=olga).update(issuer=renamed.issuer)
        browser = Client()
        response, _ = sign_on(browser, "olga")
        assert response["Location"] == "/"
    assert browser.session["_auth_user_id"] == str(olga.pk)
    assert not User.objects.filter(username="olga.new").exists()


def test_a_password_login_with_a_code_in_its_url_never_redeems_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Django tries every backend with the login form's credentials: the single sign-on one must
    not take a code from the form's URL, outside its callback's state, nonce and PKCE checks."""
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log", pkce_required=False) as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        query = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": "openid profile",
            "redirect_uri": REDIRECT_URI,
        }
        code = authorization_code(f"{provider.issuer}/auth?{urlencode(query)}", "olga", REDIRECT_URI)
        browser = Client()
        response = browser.post(
            f"/login/?{urlencode({'code': code, 'state': 'any'})}", {"username": "olga", "password": "wrong"}
        )

    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in browser.session
    assert not User.objects.filter(username="olga").exists()


def test_an_id_token_issued_to_another_client_is_refused(backend: SingleSignOnBackend) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": "https://sso.lan", "sub": "olga", "iat": now, "exp": now + 60}
    public_key = key.public_key()

    for_us = jwt.encode({**claims, "aud": "harbor-lite"}, key, algorithm="RS256")
    assert backend._verify_jws(for_us, public_key)["sub"] == "olga"
    for audience in ("another-app", None):
        other = jwt.encode({**claims, **({"aud": audience} if audience else {})}, key, algorithm="RS256")
        with pytest.raises(jwt.InvalidTokenError):
            backend._verify_jws(other, public_key)


def test_the_issuer_alone_configures_the_sign_on_from_its_discovery_document(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    browser = Client()
    with (
        running_provider(REDIRECT_URI, {"owen": ["developers"]}, tmp_path / "provider.log") as provider,
        configured_for(provider, settings, monkeypatch, provider.discovery_environment()),
    ):
        assert settings.OIDC_OP_TOKEN_ENDPOINT == ""
        response, _ = sign_on(browser, "owen")

    assert (response.status_code, response["Location"]) == (302, "/")
    owen = SingleSignOnIdentity.objects.get(issuer=provider.issuer, subject="owen").user
    assert [group.name for group in owen.groups.all()] == ["developers"]


def test_an_endpoint_set_explicitly_wins_over_the_discovered_one(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider:
        environment = {
            **provider.discovery_environment(),
            "REGISTRY_OIDC_AUTHORIZATION_ENDPOINT": "https://sso.example.lan/realms/corporate/auth",
        }
        with configured_for(provider, settings, monkeypatch, environment):
            started = Client().get("/oidc/authenticate/")

    assert started["Location"].startswith("https://sso.example.lan/realms/corporate/auth?")


def test_a_discovery_document_of_another_issuer_is_refused_with_a_message(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The document at localhost names 127.0.0.1 as its issuer: Discovery 1.0 says the two must
    be the same, or the endpoints are someone else's."""
    browser = Client()
    with running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider:
        environment = {
            **provider.discovery_environment(),
            "REGISTRY_OIDC_ISSUER": provider.issuer.replace("127.0.0.1", "localhost"),
        }
        with configured_for(provider, settings, monkeypatch, environment):
            started = browser.get("/oidc/authenticate/", follow=True)

    assert started.redirect_chain == [(SIGN_ON_FAILED, 302)]
    assert b"The single sign-on provider is not answering" in started.content


def provider_page(at_the_provider: requests.Session, url: str) -> requests.Response:
    """Where the provider's redirects end for a browser with its cookies."""
    response = at_the_provider.get(url, allow_redirects=False, timeout=10)
    while response.is_redirect and response.headers["Location"].startswith(("/", "http://127.0.0.1")):
        response = at_the_provider.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False)
    return response


@pytest.mark.parametrize("discovered", [True, False], ids=["discovered", "end-session-endpoint-set"])
def test_logging_out_of_the_dashboard_ends_the_provider_session_too(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, discovered: bool
) -> None:
    browser, at_the_provider = Client(), requests.Session()
    with running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider:
        environment = (
            provider.discovery_environment()
            if discovered
            else {**provider.environment(), "REGISTRY_OIDC_END_SESSION_ENDPOINT": f"{provider.issuer}/session/end"}
        )
        with configured_for(provider, settings, monkeypatch, environment):
            sign_on(browser, "olga", at_the_provider)
            # Signed in at the provider: a second sign-on asks for no password.
            again = provider_page(at_the_provider, browser.get("/oidc/authenticate/")["Location"])
            assert again.is_redirect and again.headers["Location"].startswith(REDIRECT_URI)

            logged_out = browser.post("/logout/")
            assert "_auth_user_id" not in browser.session
            location = logged_out["Location"]
            assert location.startswith(f"{provider.issuer}/session/end?")
            query = parse_qs(urlsplit(location).query)
            assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
            assert jwt.decode(query["id_token_hint"][0], options={"verify_signature": False})["sub"] == "olga"

            confirm = provider_page(at_the_provider, location)
            action = re.search(r'<form[^>]* action="([^"]+)"', confirm.text)
            xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text)
            assert action is not None and xsrf is not None, confirm.text
            back = at_the_provider.post(
                urljoin(confirm.url, action.group(1)),
                data={"xsrf": xsrf.group(1), "logout": "yes"},
                allow_redirects=False,
                timeout=10,
            )
            assert back.headers["Location"] == "http://testserver/login/"

            after = provider_page(at_the_provider, browser.get("/oidc/authenticate/")["Location"])

    assert 'name="login"' in after.text


def test_logging_out_after_a_password_login_stays_at_the_registry(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, admin_user: User
) -> None:
    browser = Client()
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider,
        configured_for(provider, settings, monkeypatch, provider.discovery_environment()),
    ):
        assert browser.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
        logged_out = browser.post("/logout/")

    assert logged_out["Location"] == "/login/"


def test_a_signed_on_person_deactivated_by_an_administrator_loses_the_dashboard_session(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, admin_user: User
) -> None:
    browser = Client()
    with (
        running_provider(REDIRECT_URI, {}, tmp_path / "provider.log") as provider,
        configured_for(provider, settings, monkeypatch),
    ):
        sign_on(browser, "olga")
        assert browser.get("/account/tokens/").status_code == 200

        users.set_user_active(admin_user, User.objects.get(username="olga"), False)

        assert browser.get("/account/tokens/").status_code == 302
