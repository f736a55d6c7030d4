"""Calls to the directory that never return (the TLS handshake of ldaps:// with a directory that
accepts and never answers) against a real stalled server: a login gives up on them at
REGISTRY_LDAP_TIMEOUT, and they hold up no later login; past REGISTRY_LDAP_STUCK_CALLS of them,
logins that need the directory fail at once instead of leaving more threads behind."""

import threading
import time
from typing import Any

import pytest
from django.test import Client

from tests.accounts.conftest import SilentListener
from tests.conftest import basic_auth
from tests.directory import PASSWORD, Directory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_breaker(settings: Any) -> None:
    """The breaker would spare the stalled directory most of these logins; here each one asks it."""
    settings.REGISTRY_LDAP_BREAKER_FAILURES = 100


def docker_login(username: str) -> Any:
    """/auth/token with Basic, as `docker login` does."""
    return Client().get("/auth/token", {"service": "harbor-lite"}, HTTP_AUTHORIZATION=basic_auth(username, PASSWORD))


def directory_threads() -> int:
    return sum(thread.name.startswith("directory") for thread in threading.enumerate())


def test_logins_the_stalled_directory_never_answered_do_not_hold_up_the_next(
    with_directory: Directory, stalled_server: SilentListener, settings: Any
) -> None:
    settings.AUTH_LDAP_SERVER_URI = f"ldaps://127.0.0.1:{stalled_server.port}"
    for _ in range(5):
        started = time.monotonic()
        assert docker_login("dora").status_code == 503
        # REGISTRY_LDAP_TIMEOUT is 2 s in tests/directory.py.
        assert time.monotonic() - started < 3

    # The directory answers again (a fail-over, or the stalled server restarted elsewhere).
    settings.AUTH_LDAP_SERVER_URI = with_directory.uri
    started = time.monotonic()
    assert docker_login("dora").status_code == 200
    assert time.monotonic() - started < 1


def test_past_the_cap_of_stuck_calls_logins_fail_at_once_until_they_end(
    with_directory: Directory, stalled_server: SilentListener, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REGISTRY_LDAP_STUCK_CALLS = 2
    settings.AUTH_LDAP_SERVER_URI = f"ldaps://127.0.0.1:{stalled_server.port}"
    before = directory_threads()
    for _ in range(2):
        assert docker_login("dora").status_code == 503

    started = time.monotonic()
    refused = docker_login("gina")
    elapsed = time.monotonic() - started

    assert refused.status_code == 503
    assert "directory" in refused.json()["errors"][0]["message"]
    assert elapsed < 0.5, elapsed
    assert directory_threads() - before == 2
    assert "2 calls to the directory never returned" in caplog.text

    stalled_server.hang_up()
    deadline = time.monotonic() + 10
    while directory_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    settings.AUTH_LDAP_SERVER_URI = with_directory.uri
    assert docker_login("dora").status_code == 200
