"""A database filled by the code before credential versions existed migrates forward, and back.

transaction=True: migrations run outside a test's transaction, as in tests/v2api/test_migrations.py.
"""

from collections.abc import Iterator

import pytest
from django.apps.registry import Apps
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.services.credentials import credential_version, end_credential_versions

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0002_project_quota_bytes")]
AFTER = [("accounts", "0003_credential_version")]


def migrate(targets: list[tuple[str, str]]) -> Apps:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def back_to_the_latest_migrations() -> Iterator[None]:
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_users_made_before_credential_versions_have_one_and_a_deactivation_changes_it() -> None:
    migrate(BEFORE)
    alice = User.objects.create_user("alice", password="an old passphrase 1")

    migrate(AFTER)

    before = credential_version("alice", "user")
    end_credential_versions(alice)
    assert credential_version("alice", "user") != before

    migrate(BEFORE)
    assert User.objects.filter(username="alice").exists()
