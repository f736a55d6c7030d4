"""The project `team` whose webhooks the tests add, and its personas."""

import pytest
from django.contrib.auth.models import User

from accounts.models import Membership, Project, Role
from tests.conftest import PASSWORD


@pytest.fixture
def team(db: None) -> Project:
    return Project.objects.create(name="team")


@pytest.fixture
def alice(team: Project) -> User:
    """Admin of `team`."""
    user = User.objects.create_user("alice", password=PASSWORD)
    Membership.objects.create(project=team, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def maya(team: Project) -> User:
    """Maintainer of `team`."""
    user = User.objects.create_user("maya", password=PASSWORD)
    Membership.objects.create(project=team, user=user, role=Role.MAINTAINER)
    return user


@pytest.fixture
def carol(db: None) -> User:
    """Member of nothing."""
    return User.objects.create_user("carol", password=PASSWORD)
