"""Shared fixtures. Tests run on the real local Postgres (never SQLite, never a mock)."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client


def pytest_configure(config: pytest.Config) -> None:
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            "the tests run on Postgres: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/harbor_lite "
            "(scripts/test does)",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def storage_root(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """Every test gets an empty blob store of its own."""
    root = tmp_path / "storage"
    settings.REGISTRY_STORAGE_ROOT = root
    return root


@pytest.fixture
def client() -> Client:
    return Client()
