"""The circuit breaker for a directory that is down (accounts/directory_breaker.py), against the
real slapd stopped or a directory that never answers: after REGISTRY_LDAP_BREAKER_FAILURES logins
it did not answer, the next fail at once with a 503 until the cool-down ends; local accounts never
meet it; it holds across processes through Redis, and in each process while Redis is down."""

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD as LOCAL_PASSWORD
from tests.conftest import basic_auth
from tests.directory import PASSWORD, Directory
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def breaker(settings: Any) -> None:
    settings.REGISTRY_LDAP_BREAKER_FAILURES = 3
    settings.REGISTRY_LDAP_BREAKER_SECONDS = 30


def docker_login(username: str, password: str = PASSWORD) -> Any:
    """/auth/token with Basic, as `docker login` does."""
    return Client().get("/auth/token", {"service": "harbor-lite"}, HTTP_AUTHORIZATION=basic_auth(username, password))


def test_after_three_logins_the_stalled_directory_did_not_answer_the_next_fail_at_once(
    with_directory: Directory, silent_listener: int, settings: Any, admin_user: User
) -> None:
    settings.AUTH_LDAP_SERVER_URI = f"ldap://127.0.0.1:{silent_listener}"
    for _ in range(3):
        started = time.monotonic()
        assert docker_login("dora").status_code == 503
        # REGISTRY_LDAP_TIMEOUT is 2 s in tests/directory.py: each of these waits it out.
        assert time.monotonic() - started >= 1.9

    started = time.monotonic()
    refused = docker_login("gina")
    elapsed = time.monotonic() - started

    assert refused.status_code == 503
    assert "directory" in refused.json()["errors"][0]["message"]
    assert 0 < int(refused["Retry-After"]) <= 31
    assert elapsed < 0.5, elapsed
    assert docker_login(admin_user.username, LOCAL_PASSWORD).status_code == 200


def test_while_open_the_directory_is_not_asked_and_after_the_cool_down_it_is_again(
    with_directory: Directory, settings: Any
) -> None:
    settings.REGISTRY_LDAP_BREAKER_SECONDS = 2
    with with_directory.stopped():
        for _ in range(3):
            assert docker_login("dora").status_code == 503

    # slapd is back, but the breaker does not know yet: the dashboard says so, /v2/ too.
    page = Client().post("/login/", {"username": "dora", "password": PASSWORD})
    assert b"The company directory is not answering" in page.content
    on_v2 = Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("dora", PASSWORD))
    assert on_v2.status_code == 503
    assert on_v2.json()["errors"][0]["code"] == "UNAVAILABLE"

    time.sleep(2.1)
    assert docker_login("dora").status_code == 200


def test_a_failure_right_after_the_cool_down_opens_it_again_at_once(with_directory: Directory, settings: Any) -> None:
    settings.REGISTRY_LDAP_BREAKER_SECONDS = 1
    with with_directory.stopped():
        for _ in range(3):
            docker_login("dora")
        time.sleep(1.1)
        assert docker_login("dora").status_code == 503  # asked, and still down

        started = time.monotonic()
        with_directory.start()
        try:
            refused = docker_login("dora")
        finally:
            with_directory.stop()

    assert refused.status_code == 503
    assert time.monotonic() - started < 1


def test_an_answer_in_between_starts_the_count_again(with_directory: Directory) -> None:
    for _ in range(2):
        with with_directory.stopped():
            assert docker_login("dora").status_code == 503
        assert docker_login("dora", "a wrong password").status_code == 401

    assert docker_login("dora").status_code == 200


def test_every_process_sees_the_open_breaker_through_redis(with_directory: Directory) -> None:
    with with_directory.stopped():
        for _ in range(3):
            docker_login("dora")

    # Another Python process with the registry's settings and this test's cache prefix.
    script = (
        "import sys, django; django.setup()\n"
        "from django.conf import settings\n"
        "settings.CACHES['default']['KEY_PREFIX'] = sys.argv[1]\n"
        "from accounts import directory_breaker\n"
        "print(directory_breaker.seconds_open())\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, django_settings.CACHES["default"]["KEY_PREFIX"]],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "registry_ui.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert 0 < int(other.stdout.strip().splitlines()[-1]) <= 31


def test_with_redis_unreachable_the_breaker_still_opens_in_this_process(
    with_directory: Directory, redis_link: TcpProxy, admin_user: User
) -> None:
    redis_link.cut()
    with with_directory.stopped():
        for _ in range(3):
            assert docker_login("dora").status_code == 503

    assert docker_login("dora").status_code == 503
    assert docker_login(admin_user.username, LOCAL_PASSWORD).status_code == 200


def test_a_strangers_wrong_passwords_and_unknown_names_never_open_it(with_directory: Directory, settings: Any) -> None:
    """The breaker counts a directory that did not answer, never one that refused: guessing
    passwords (or names) must not lock every directory person out. The login throttle, which is
    per account and address, is what answers the guesses."""
    settings.REGISTRY_LOGIN_FAILURES_PER_ACCOUNT = 100
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 100
    for attempt in range(10):
        assert docker_login("dora", f"guess {attempt}").status_code == 401
        assert docker_login(f"nobody-{attempt}").status_code == 401

    assert docker_login("dora").status_code == 200
