"""Personas for the dashboard: in the private project `team`, alice is project admin, maya a
maintainer and bob a developer; carol belongs to no project; root is a system administrator. `team/app:1.0` is an
image pushed through /v2/ by the push fixtures."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from tests.conftest import PASSWORD, PushedImage, PushImage

CONFIG = (
    b'{"architecture": "arm64", "os": "linux", "variant": "v8", "created": "2024-05-01T10:00:00Z",'
    b' "config": {"Entrypoint": ["/usr/bin/app"], "Cmd": ["--serve"], "Env": ["PATH=/usr/bin", "MODE=prod"],'
    b' "Labels": {"org.opencontainers.image.source": "https://git.lan/app"}, "ExposedPorts": {"8080/tcp": {}},'
    b' "WorkingDir": "/srv"}, "history": [{"created_by": "ADD rootfs.tar /"},'
    b' {"created_by": "RUN apk add --no-cache curl"}, {"created_by": "EXPOSE 8080", "empty_layer": true}]}'
)


@pytest.fixture
def client() -> Client:
    """A browser with no session; tests log a persona in with `as_user`."""
    return Client()


@pytest.fixture
def root(admin_user: User) -> User:
    return admin_user


@pytest.fixture
def team(db: None) -> Project:
    return Project.objects.create(name="team", public=False)


def _member(username: str, project: Project, role: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    Membership.objects.create(project=project, user=user, role=role)
    return user


@pytest.fixture
def alice(team: Project) -> User:
    return _member("alice", team, Role.ADMIN)


@pytest.fixture
def bob(team: Project) -> User:
    return _member("bob", team, Role.DEVELOPER)


@pytest.fixture
def maya(team: Project) -> User:
    return _member("maya", team, Role.MAINTAINER)


@pytest.fixture
def eager_jobs(settings: Any) -> None:
    """Jobs run inline when their request commits, as a worker would run them right after."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user("carol", password=PASSWORD)


@pytest.fixture
def as_user(client: Client) -> Callable[[User], Client]:
    def log_in(user: User) -> Client:
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def app_image(team: Project, push_image: PushImage) -> PushedImage:
    return push_image("team/app", "1.0", layers=(b"base layer bytes", b"app layer"), config=CONFIG)
