"""Personas of the audit tests: root administers the registry, alice the private project `team`,
maya maintains it, carol belongs to nothing. `events()` reads what the log holds, oldest first."""

from typing import Any

import pytest
from django.contrib.auth.models import User

from audit.models import AuditEvent
from tests.personas import alice, carol, maya, team

__all__ = ["alice", "carol", "events", "maya", "root", "team"]


@pytest.fixture
def root(admin_user: User) -> User:
    return admin_user


def events(**filters: Any) -> list[tuple[str, str, str, str]]:
    """(action, actor kind, actor name, resource) of each event, oldest first."""
    return [
        (event.action, event.actor_kind, event.actor_name, event.resource)
        for event in AuditEvent.objects.filter(**filters).order_by("occurred_at", "id")
    ]
