"""The personas of a private project `team`, as fixtures for the test folders that import them
into their conftest: alice administers it, maya maintains it, carol belongs to nothing."""

import pytest
from django.contrib.auth.models import User

from accounts.models import Membership, Project, Role
from tests.conftest import PASSWORD


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
