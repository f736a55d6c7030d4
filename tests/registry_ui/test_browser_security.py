"""What a browser is told (issue 12, item 8): over TLS, directly or behind the proxy that says so,
cookies are Secure and HSTS pins HTTPS; every dashboard page has a Content-Security-Policy."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD


def log_in(client: Client, **extra: str) -> dict[str, bool]:
    """Log carol in the way a browser does (the form's GET sets the CSRF cookie, the POST the
    session); which cookies came back marked Secure."""
    client.get("/login/", **extra)  # type: ignore[arg-type]
    response = client.post("/login/", {"username": "carol", "password": PASSWORD}, **extra)  # type: ignore[arg-type]
    assert response.status_code == 302
    return {name: bool(morsel["secure"]) for name, morsel in client.cookies.items()}


def test_over_https_the_session_and_csrf_cookies_are_secure_and_hsts_is_sent(carol: User) -> None:
    client = Client()

    secure = log_in(client, secure=True)
    page = client.get("/", secure=True)

    assert secure == {"csrftoken": True, "sessionid": True}
    assert page["Strict-Transport-Security"] == "max-age=31536000"


def test_behind_a_trusted_proxy_that_says_https_the_same_holds(carol: User, settings: object) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # type: ignore[attr-defined]
    client = Client()

    secure = log_in(client, HTTP_X_FORWARDED_PROTO="https")
    page = client.get("/", HTTP_X_FORWARDED_PROTO="https")

    assert secure == {"csrftoken": True, "sessionid": True}
    assert "Strict-Transport-Security" in page


def test_over_plain_http_cookies_still_work_and_no_hsts_is_sent(carol: User) -> None:
    client = Client()

    secure = log_in(client)
    page = client.get("/")

    assert secure == {"csrftoken": False, "sessionid": False}
    assert page.status_code == 200
    assert "Strict-Transport-Security" not in page


@pytest.mark.parametrize("path", ["/login/", "/"])
def test_every_dashboard_page_carries_a_content_security_policy(client: Client, carol: User, path: str) -> None:
    client.force_login(carol)

    policy = client.get(path)["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
