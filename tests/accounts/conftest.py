"""Personas and helpers for the management API tests, here and in tests/v2api/api (its conftest imports them).

root is a system admin (and pushes the test images); alice administers the private project
`team`, maya maintains it, dave develops in it, carol belongs to nothing; `shared` is public
and has no members.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from tests.conftest import PASSWORD, basic_auth


@pytest.fixture
def client() -> Client:
    """Token endpoint and management API tests state their credentials request by request."""
    return Client()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)


Who = User | tuple[str, str] | None


class Api:
    """Calls /api/v1/ as `who`: a user (with PASSWORD), a (login, secret) pair, or anonymous (None)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self, method: str, path: str, who: Who = None, body: Any = None) -> Any:
        headers: dict[str, str] = {}
        if isinstance(who, User):
            headers["HTTP_AUTHORIZATION"] = basic_auth(who.get_username(), PASSWORD)
        elif who is not None:
            headers["HTTP_AUTHORIZATION"] = basic_auth(*who)
        send = getattr(self.client, method)
        if body is None:
            return send("/api/v1/" + path, **headers)
        return send("/api/v1/" + path, data=body, content_type="application/json", **headers)


class CaptureOnCommit(Protocol):
    def __call__(self, *, execute: bool = ...) -> AbstractContextManager[Any]: ...


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


@pytest.fixture
def root(admin_user: User) -> User:
    """The system admin the push fixtures push as."""
    return admin_user


@pytest.fixture
def team(alice: User) -> Project:
    project = Project.objects.create(name="team")
    Membership.objects.create(project=project, user=alice, role=Role.ADMIN)
    return project


def member(team: Project, username: str, role: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    Membership.objects.create(project=team, user=user, role=role)
    return user


@pytest.fixture
def maya(team: Project) -> User:
    return member(team, "maya", Role.MAINTAINER)


@pytest.fixture
def dave(team: Project) -> User:
    return member(team, "dave", Role.DEVELOPER)


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user("carol", password=PASSWORD)


@pytest.fixture
def shared(db: None) -> Project:
    return Project.objects.create(name="shared", public=True)


@pytest.fixture
def eager(settings: Any, django_capture_on_commit_callbacks: CaptureOnCommit) -> Iterator[CaptureOnCommit]:
    """Jobs run inline, as a worker would, once the request's transaction commits."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    yield django_capture_on_commit_callbacks


class SilentListener:
    """A port that accepts connections and never answers: a stalled directory or provider."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._accepted.append(self._listener.accept()[0])
            except TimeoutError:
                continue

    def hang_up(self) -> None:
        """Close the connections accepted so far, as a stalled server that finally gives up."""
        for connection in list(self._accepted):
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.hang_up()
        self._listener.close()


@pytest.fixture
def stalled_server() -> Iterator[SilentListener]:
    listener = SilentListener()
    yield listener
    listener.close()


@pytest.fixture
def silent_listener(stalled_server: SilentListener) -> int:
    """The port of a server that accepts connections and never answers."""
    return stalled_server.port
