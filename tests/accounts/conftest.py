from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from accounts.tokens import keyring

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def signing_keys(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """Each test signs with keys of its own, made on first use."""
    directory = tmp_path / "keys"
    settings.REGISTRY_SIGNING_KEY_DIR = directory
    keyring.refresh()
    return directory


@pytest.fixture(autouse=True)
def clean_login_counters() -> None:
    cache.clear()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)
