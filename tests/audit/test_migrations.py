"""A database filled by the code before the audit log (tags without a "last pulled" time, no
audit table) migrates forward, takes pull batches, and migrates back.

transaction=True: migrations run outside a test's transaction, as in tests/v2api/test_migrations.py.
"""

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit import pulls
from tests.migrations import migrate, migrate_to_the_latest
from v2api.models import Tag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_migrations")]

BEFORE = [("accounts", "0003_credential_version"), ("v2api", "0010_job_from_command_line")]


def migrate_before() -> Apps:
    """The day before: the audit app unmigrated too (a None target, which project_state cannot read)."""
    MigrationExecutor(connection).migrate([("audit", None)])
    return migrate(BEFORE)


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_tags_pushed_before_have_never_been_pulled_and_the_first_flush_dates_them() -> None:
    old = migrate_before()
    project = old.get_model("accounts", "Project").objects.create(name="team")
    repository = old.get_model("v2api", "Repository").objects.create(name="team/app", project_id=project.id)
    digest = "sha256:" + "a" * 64
    manifest = old.get_model("v2api", "Manifest").objects.create(
        repository=repository, digest=digest, media_type="application/vnd.oci.image.manifest.v1+json", size=2
    )
    old.get_model("v2api", "Tag").objects.create(repository=repository, name="1.0", manifest=manifest)
    assert "audit_auditevent" not in tables()

    migrate_to_the_latest()  # the code below uses today's models

    assert Tag.objects.get(name="1.0").last_pulled_at is None
    pulls.record_pull(
        subject="alice", address="192.0.2.1", user_agent="docker", repository="team/app", reference="1.0", digest=digest
    )
    assert pulls.flush_pulls() == 1
    assert Tag.objects.get(name="1.0").last_pulled_at is not None

    migrate_before()

    assert "audit_auditevent" not in tables()
    assert old.get_model("v2api", "Tag").objects.get(name="1.0").manifest_id == manifest.id
