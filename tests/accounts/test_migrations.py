"""A database filled by the code before credential versions existed migrates forward, and back.

transaction=True: migrations run outside a test's transaction, as in tests/v2api/test_migrations.py.
"""

import pytest
from django.contrib.auth.models import User

from accounts.services.credentials import credential_version, end_credential_versions
from tests.migrations import migrate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_migrations")]

BEFORE = [("accounts", "0002_project_quota_bytes")]
AFTER = [("accounts", "0003_credential_version")]


def test_users_made_before_credential_versions_have_one_and_a_deactivation_changes_it() -> None:
    migrate(BEFORE)
    alice = User.objects.create_user("alice", password="an old passphrase 1")

    migrate(AFTER)

    before = credential_version("alice", "user")
    end_credential_versions(alice)
    assert credential_version("alice", "user") != before

    migrate(BEFORE)
    assert User.objects.filter(username="alice").exists()
