"""Logging in, out, and changing one's password."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD

# A page only a signed-in user gets: the home page shows public projects to anyone.
SIGNED_IN_ONLY = "/jobs/"


def test_an_anonymous_visitor_is_sent_to_the_login_page_for_what_is_not_public(client: Client, db: None) -> None:
    response = client.get("/jobs/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/jobs/"


def test_the_login_page_shows_a_form_with_a_csrf_token(client: Client, db: None) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'name="password"' in response.content


def test_a_user_logs_in_and_lands_where_they_were_going(client: Client, carol: User) -> None:
    response = client.post("/login/", {"username": "carol", "password": PASSWORD, "next": "/setup/"})
    assert response.status_code == 302
    assert response["Location"] == "/setup/"
    assert client.get(SIGNED_IN_ONLY).status_code == 200


def test_a_wrong_password_says_so_without_logging_in(client: Client, carol: User) -> None:
    response = client.post("/login/", {"username": "carol", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get(SIGNED_IN_ONLY).status_code == 302


def test_logins_are_throttled_like_docker_login(client: Client, carol: User, settings: object) -> None:
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 2  # type: ignore[attr-defined]
    for _ in range(2):
        client.post("/login/", {"username": "carol", "password": "wrong"})
    response = client.post("/login/", {"username": "carol", "password": PASSWORD})
    assert b"Too many failed logins" in response.content
    assert client.get(SIGNED_IN_ONLY).status_code == 302


def test_a_deactivated_user_cannot_log_in(client: Client, carol: User) -> None:
    User.objects.filter(pk=carol.pk).update(is_active=False)
    response = client.post("/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get(SIGNED_IN_ONLY).status_code == 302


def test_logging_out_takes_a_post_and_ends_the_session(client: Client, carol: User) -> None:
    client.force_login(carol)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get(SIGNED_IN_ONLY).status_code == 302


def test_logging_out_refuses_a_post_without_csrf(carol: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(carol)
    response = client.post("/logout/")
    assert response.status_code == 403
    assert b"This form has expired" in response.content


@pytest.mark.parametrize("path", ["/account/password/"])
def test_changing_the_password_needs_a_login(client: Client, db: None, path: str) -> None:
    assert client.get(path)["Location"].startswith("/login/")


def test_a_user_changes_their_password_and_stays_logged_in(client: Client, carol: User) -> None:
    client.force_login(carol)
    new = "another long passphrase"
    response = client.post(
        "/account/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}, follow=True
    )
    assert b"Your password has been changed." in response.content
    carol.refresh_from_db()
    assert carol.check_password(new)
    assert client.get(SIGNED_IN_ONLY).status_code == 200


def test_a_wrong_old_password_is_refused_with_a_message(client: Client, carol: User) -> None:
    client.force_login(carol)
    new = "another long passphrase"
    response = client.post("/account/password/", {"old_password": "nope", "new_password1": new, "new_password2": new})
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content
