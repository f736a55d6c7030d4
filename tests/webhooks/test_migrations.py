"""A database filled by the code before webhooks (projects, a pushed image, audit events; no
webhook tables) migrates forward, takes a webhook whose first push is queued for it, and
migrates back.

transaction=True: migrations run outside a test's transaction, as in tests/audit/test_migrations.py.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Project
from audit import actions
from audit.recorder import record
from tests.migrations import migrate, migrate_to_the_latest
from webhooks.models import Delivery
from webhooks.services.webhooks import create_webhook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_migrations")]

BEFORE = [("accounts", "0006_single_sign_on_identity"), ("audit", "0001_audit_event")]


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def test_a_project_of_before_gets_a_webhook_and_its_next_push_is_queued_for_it() -> None:
    MigrationExecutor(connection).migrate([("webhooks", None)])
    old = migrate(BEFORE)
    project = old.get_model("accounts", "Project").objects.create(name="team")
    old.get_model("audit", "AuditEvent").objects.create(
        actor_kind="user", actor_name="alice", action=actions.PUSH, project="team", resource="team/app:v0"
    )
    assert "webhooks_webhook" not in tables()

    migrate_to_the_latest()  # the code below uses today's models

    assert not Delivery.objects.exists(), "events of before are not sent"
    create_webhook(Project.objects.get(pk=project.pk), url="http://ci/hooks", events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": "sha256:" + "b" * 64})
    assert Delivery.objects.get().event == "push"

    MigrationExecutor(connection).migrate([("webhooks", None)])
    assert "webhooks_delivery" not in tables()
