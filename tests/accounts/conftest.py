import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD


@pytest.fixture
def client() -> Client:
    """Token endpoint and management API tests state their credentials request by request."""
    return Client()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)
