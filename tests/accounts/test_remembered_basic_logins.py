"""HTTP Basic on /v2/, as `curl -u` or a CI tool sends it with every request: the password is
hashed once and the result remembered briefly, and a password change, a deactivation or a
revocation ends what was remembered at once (issue 12, item 19)."""

from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.services.robots import create_robot, revoke
from tests.conftest import PASSWORD, basic_auth

NEW_PASSWORD = "a brand new passphrase 42"


class CountingHasher(MD5PasswordHasher):
    """Counts password checks: each one is a slow hash in production."""

    algorithm = "counting_md5"
    verified = 0

    def verify(self, password: str, encoded: str) -> bool:
        CountingHasher.verified += 1
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def counting_hasher(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["tests.accounts.test_remembered_basic_logins.CountingHasher"]
    CountingHasher.verified = 0


def curl(client: Client, username: str = "alice", password: str = PASSWORD) -> Any:
    return client.get("/v2/", HTTP_AUTHORIZATION=basic_auth(username, password))


def test_twenty_requests_with_basic_hash_the_password_once(client: Client, alice: User) -> None:
    for _ in range(20):
        assert curl(client).status_code == 200
    assert CountingHasher.verified == 1


def test_a_wrong_password_is_never_taken_for_a_remembered_one(client: Client, alice: User) -> None:
    assert curl(client).status_code == 200
    assert curl(client, password="wrong").status_code == 401
    assert curl(client, password=PASSWORD + " ").status_code == 401


def test_a_password_change_ends_the_remembered_login_at_once(client: Client, alice: User) -> None:
    assert curl(client).status_code == 200
    alice.set_password(NEW_PASSWORD)
    alice.save()
    assert curl(client).status_code == 401
    assert curl(client, password=NEW_PASSWORD).status_code == 200


def test_a_deactivation_ends_the_remembered_login_at_once(client: Client, alice: User) -> None:
    assert curl(client).status_code == 200
    User.objects.filter(id=alice.id).update(is_active=False)
    assert curl(client).status_code == 401


def test_a_revoked_robot_is_refused_at_once(client: Client, db: None) -> None:
    robot = create_robot(Project.objects.create(name="team"), "ci")
    assert curl(client, "robot$team+ci", robot.secret).status_code == 200
    revoke(robot.robot)
    assert curl(client, "robot$team+ci", robot.secret).status_code == 401
