"""The lookups prepared once per Postgres connection (v2api/services/prepared.py) outlive a
migration run while the registry serves: Postgres refuses a prepared plan whose result columns
changed type ("cached plan must not change result type") until it is prepared again."""

from collections.abc import Iterator

import psycopg2
import pytest
from django.contrib.auth.models import User
from django.db import NotSupportedError, connection, transaction
from django.test import Client

from accounts.models import Project
from accounts.scopes import PULL, PUSH, repository_scope
from tests.conftest import bearer_auth
from v2api.services.repositories import get_or_create_repository

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "team/app"


def alter_from_another_session(sql: str) -> None:
    """As `migrate` does in its own process while the web workers keep their connections."""
    database = connection.settings_dict
    other = psycopg2.connect(dbname=database["NAME"], user=database["USER"] or "postgres", host="127.0.0.1", port=5432)
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute(sql)
    finally:
        other.close()


@pytest.fixture
def proxy_url_widened() -> Iterator[None]:
    table = Project._meta.db_table
    yield
    alter_from_another_session(f"ALTER TABLE {table} ALTER COLUMN proxy_url TYPE varchar(200)")


def test_a_push_works_on_a_connection_that_prepared_its_lookups_before_a_migration(
    admin_user: User, proxy_url_widened: None
) -> None:
    client = Client(HTTP_AUTHORIZATION=bearer_auth(admin_user, repository_scope(NAME, PULL, PUSH)))
    # The gate's project lookup is prepared on this connection by the first push.
    assert client.post(f"/v2/{NAME}/blobs/uploads/").status_code == 202

    alter_from_another_session(f"ALTER TABLE {Project._meta.db_table} ALTER COLUMN proxy_url TYPE varchar(500)")

    assert client.post(f"/v2/{NAME}/blobs/uploads/").status_code == 202


@pytest.fixture
def project_name_widened() -> Iterator[None]:
    yield
    alter_from_another_session(f"ALTER TABLE {Project._meta.db_table} ALTER COLUMN name TYPE varchar(255)")


def test_a_lookup_a_migration_made_stale_inside_a_transaction_fails_that_transaction_only(
    admin_user: User, project_name_widened: None
) -> None:
    client = Client(HTTP_AUTHORIZATION=bearer_auth(admin_user, repository_scope(NAME, PULL, PUSH)))
    assert client.post(f"/v2/{NAME}/blobs/uploads/").status_code == 202
    # A manifest PUT looks its repository up inside its transaction, prepared here by the first.
    with transaction.atomic():
        get_or_create_repository(NAME)

    alter_from_another_session(f"ALTER TABLE {Project._meta.db_table} ALTER COLUMN name TYPE varchar(300)")

    # The failed EXECUTE aborted the transaction: nothing can run again in it.
    with pytest.raises(NotSupportedError), transaction.atomic():
        get_or_create_repository(NAME)
    with transaction.atomic():
        assert get_or_create_repository(NAME).name == NAME
