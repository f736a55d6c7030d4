"""Personal access tokens in the dashboard: made with an expiry and shown once, listed without their
secret, revoked; the secret is a password for /v2/ until then."""

import re
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import PersonalAccessToken
from tests.conftest import basic_auth

AsUser = Callable[[User], Client]
URL = "/account/tokens/"


def logs_in(username: str, secret: str) -> bool:
    return Client(HTTP_AUTHORIZATION=basic_auth(username, secret)).get("/v2/").status_code == 200


def test_tokens_need_a_login(client: Client, db: None) -> None:
    assert client.get(URL)["Location"].startswith("/login/")
    assert client.post(f"{URL}create/", {"name": "x"})["Location"].startswith("/login/")


def test_a_user_makes_a_token_with_an_expiry_and_sees_its_secret_once(as_user: AsUser, carol: User) -> None:
    client = as_user(carol)
    assert f'href="{URL}"' in client.get("/").content.decode()
    expires = (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")

    created = client.post(f"{URL}create/", {"name": "laptop", "expires_at": expires})

    assert created.status_code == 200
    assert "no-cache" in created["Cache-Control"]
    page = created.content.decode()
    [secret] = set(re.findall(r"hl_pat_[A-Za-z0-9_-]+", page))
    assert "shown this once" in page and expires.replace("T", " ") in page
    assert logs_in("carol", secret)
    token = PersonalAccessToken.objects.get(user=carol)
    assert token.name == "laptop" and token.expires_at is not None
    listed = client.get(URL).content.decode()
    assert "<code>laptop</code>" in listed and "active" in listed
    assert secret not in listed


def test_a_revoked_token_no_longer_logs_in(as_user: AsUser, carol: User) -> None:
    client = as_user(carol)
    page = client.post(f"{URL}create/", {"name": "ci"}).content.decode()
    [secret] = set(re.findall(r"hl_pat_[A-Za-z0-9_-]+", page))
    token = PersonalAccessToken.objects.get()

    revoked = client.post(f"{URL}{token.pk}/revoke/", follow=True)

    assert [str(message) for message in revoked.context["messages"]] == [
        "Token ci is revoked; it can no longer log in."
    ]
    assert "revoked" in revoked.content.decode()
    assert not logs_in("carol", secret)


def test_nobody_revokes_or_sees_another_users_token(as_user: AsUser, carol: User, alice: User) -> None:
    page = as_user(alice).post(f"{URL}create/", {"name": "alices"}).content.decode()
    [secret] = set(re.findall(r"hl_pat_[A-Za-z0-9_-]+", page))
    token = PersonalAccessToken.objects.get()
    client = as_user(carol)

    assert "alices" not in client.get(URL).content.decode()
    refused = client.post(f"{URL}{token.pk}/revoke/", follow=True)

    assert [str(message) for message in refused.context["messages"]] == ["You have no such token."]
    assert logs_in("alice", secret)


def test_a_past_expiry_and_a_name_in_use_are_refused_on_their_fields(as_user: AsUser, carol: User) -> None:
    client = as_user(carol)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    expired = client.post(f"{URL}create/", {"name": "old", "expires_at": past})
    assert expired.status_code == 400
    assert "The expiry must lie in the future." in expired.content.decode()
    client.post(f"{URL}create/", {"name": "laptop"})

    again = client.post(f"{URL}create/", {"name": "laptop"})

    assert again.status_code == 400
    assert "You already have a token named laptop." in again.content.decode()
    assert PersonalAccessToken.objects.count() == 1


def test_a_person_without_a_local_password_is_not_offered_to_change_it(as_user: AsUser, carol: User) -> None:
    assert b"/account/password/" in as_user(carol).get(URL).content
    carol.set_unusable_password()
    carol.save()

    assert b"/account/password/" not in as_user(carol).get(URL).content
