"""`/account/tokens/`: a person's personal access tokens, made and revoked in the dashboard, used
as the password for docker login (here: Basic on /v2/, as docker's own login sends it)."""

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import PersonalAccessToken
from tests.conftest import basic_auth

AsUser = Callable[[User], Client]


def secret_on(page: str) -> str:
    found = re.search(r"hl_pat_[A-Za-z0-9_-]+", page)
    assert found is not None
    return found.group(0)


def test_a_person_makes_a_token_sees_its_secret_once_and_logs_in_with_it(
    as_user: AsUser, carol: User, client: Client
) -> None:
    browser = as_user(carol)
    created = browser.post("/account/tokens/", {"name": "laptop"})
    assert created.status_code == 405
    created = browser.post("/account/tokens/create/", {"name": "laptop"})

    assert created.status_code == 200
    assert created["Cache-Control"].startswith("max-age=0")
    secret = secret_on(created.content.decode())
    assert secret not in browser.get("/account/tokens/").content.decode()
    assert Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("carol", secret)).status_code == 200


def test_a_revoked_token_no_longer_logs_in(as_user: AsUser, carol: User) -> None:
    browser = as_user(carol)
    secret = secret_on(browser.post("/account/tokens/create/", {"name": "laptop"}).content.decode())
    token = PersonalAccessToken.objects.get(user=carol)

    revoked = browser.post(f"/account/tokens/{token.id}/revoke/", follow=True)

    assert b"Token laptop is revoked" in revoked.content
    assert b"revoked</span>" in revoked.content
    assert Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("carol", secret)).status_code == 401


def test_a_name_already_used_is_refused_on_the_form(as_user: AsUser, carol: User) -> None:
    browser = as_user(carol)
    browser.post("/account/tokens/create/", {"name": "laptop"})

    again = browser.post("/account/tokens/create/", {"name": "laptop"})

    assert again.status_code == 400
    assert b"errorlist" in again.content
    assert PersonalAccessToken.objects.filter(user=carol).count() == 1


def test_nobody_sees_or_revokes_another_persons_tokens(as_user: AsUser, alice: User, carol: User) -> None:
    as_user(carol).post("/account/tokens/create/", {"name": "carols"})
    token = PersonalAccessToken.objects.get(user=carol)
    browser = as_user(alice)

    assert b"carols" not in browser.get("/account/tokens/").content
    assert browser.post(f"/account/tokens/{token.id}/revoke/").status_code == 404
    assert PersonalAccessToken.objects.get(id=token.id).revoked_at is None


def test_a_person_without_a_local_password_is_not_offered_to_change_it(as_user: AsUser, carol: User) -> None:
    assert b"/account/password/" in as_user(carol).get("/account/tokens/").content
    carol.set_unusable_password()
    carol.save()

    assert b"/account/password/" not in as_user(carol).get("/account/tokens/").content
