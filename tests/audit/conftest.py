"""Personas of the audit tests: root administers the registry, alice the private project `team`,
maya maintains it, carol belongs to nothing. `events()` reads what the log holds, oldest first."""

from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.models import Membership, Project, Role
from audit.models import AuditEvent
from tests.conftest import PASSWORD


@pytest.fixture
def root(admin_user: User) -> User:
    return admin_user


@pytest.fixture
def team(db: None) -> Project:
    return Project.objects.create(name="team")


@pytest.fixture
def alice(team: Project) -> User:
    user = User.objects.create_user("alice", password=PASSWORD)
    Membership.objects.create(project=team, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def maya(team: Project) -> User:
    user = User.objects.create_user("maya", password=PASSWORD)
    Membership.objects.create(project=team, user=user, role=Role.MAINTAINER)
    return user


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user("carol", password=PASSWORD)


def events(**filters: Any) -> list[tuple[str, str, str, str]]:
    """(action, actor kind, actor name, resource) of each event, oldest first."""
    return [
        (event.action, event.actor_kind, event.actor_name, event.resource)
        for event in AuditEvent.objects.filter(**filters).order_by("occurred_at", "id")
    ]
