"""A database filled by the code before credential versions, then before group roles, then before
single sign-on identities, then before "last seen" existed, then before the re-check kept whom it
deactivated migrates forward, and back.

transaction=True: migrations run outside a test's transaction, as in tests/v2api/test_migrations.py.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import DirectoryDeactivation, LastSeen, PersonalAccessToken, Project, Role, SingleSignOnIdentity
from accounts.permissions import roles_in_project
from accounts.services import members
from accounts.services.credentials import credential_version, end_credential_versions
from accounts.services.directory_deactivations import reactivate
from accounts.services.last_seen import users_with_last_seen
from audit.models import AuditEvent
from tests.migrations import migrate, migrate_to_the_latest

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


GROUPS_BEFORE = [("accounts", "0003_credential_version")]


def test_projects_and_members_made_before_group_roles_migrate_and_take_a_group() -> None:
    apps = migrate(GROUPS_BEFORE)
    project = apps.get_model("accounts", "Project").objects.create(name="team")
    old_user = apps.get_model("auth", "User").objects.create(username="dora")
    apps.get_model("accounts", "Membership").objects.create(project=project, user=old_user, role="guest")
    old_user.groups.add(apps.get_model("auth", "Group").objects.create(name="developers"))

    migrate_to_the_latest()  # the code below uses today's models

    dora = User.objects.get(username="dora")
    assert [group.name for group in dora.groups.all()] == ["developers"]
    members.add_group(Project.objects.get(name="team"), "developers", Role.DEVELOPER)
    assert roles_in_project(dora, Project.objects.get(name="team")) == {Role.GUEST, Role.DEVELOPER}

    apps = migrate(GROUPS_BEFORE)
    assert apps.get_model("accounts", "Membership").objects.filter(project__name="team").count() == 1
    with connection.cursor() as cursor:
        assert "accounts_groupmembership" not in connection.introspection.table_names(cursor)
    assert Group.objects.filter(name="developers").exists()


PROXY_BEFORE = [("accounts", "0004_project_group_membership")]


def test_projects_made_before_proxy_caches_are_ordinary_projects_that_take_pushes() -> None:
    old = migrate(PROXY_BEFORE)
    old.get_model("accounts", "Project").objects.create(name="team", public=True, quota_bytes=1024)

    migrate_to_the_latest()  # the code below uses today's models

    team = Project.objects.get(name="team")
    assert (team.is_proxy, team.proxy_username, team.proxy_password_sealed) == (False, "", "")
    assert (team.public, team.quota_bytes) == (True, 1024)

    back = migrate(PROXY_BEFORE)
    assert back.get_model("accounts", "Project").objects.filter(name="team").count() == 1


IDENTITIES_BEFORE = [("accounts", "0005_project_proxy")]


def test_users_made_before_single_sign_on_identities_migrate_and_one_is_tied_to_a_provider_subject() -> None:
    apps = migrate(IDENTITIES_BEFORE)
    apps.get_model("auth", "User").objects.create(username="olga", password="!unusable")

    migrate_to_the_latest()  # the code below uses today's models

    olga = User.objects.get(username="olga")
    SingleSignOnIdentity.objects.create(issuer="https://sso.lan", subject="f3a1", user=olga)
    with pytest.raises(IntegrityError), transaction.atomic():
        SingleSignOnIdentity.objects.create(
            issuer="https://sso.lan", subject="f3a1", user=User.objects.create(username="x")
        )

    migrate(IDENTITIES_BEFORE)
    assert User.objects.filter(username="olga").exists()
    with connection.cursor() as cursor:
        assert "accounts_singlesignonidentity" not in connection.introspection.table_names(cursor)


LAST_SEEN_BEFORE = [("accounts", "0006_single_sign_on_identity")]


def test_people_seen_before_last_seen_existed_are_seen_at_their_last_login_or_token_use() -> None:
    apps = migrate(LAST_SEEN_BEFORE)
    old_users = apps.get_model("auth", "User").objects
    tokens = apps.get_model("accounts", "PersonalAccessToken").objects
    a_week_ago, yesterday = timezone.now() - timedelta(days=7), timezone.now() - timedelta(days=1)
    dashboard = old_users.create(username="dashboard", last_login=yesterday)
    cli = old_users.create(username="cli", last_login=a_week_ago)
    tokens.create(user=cli, name="ci", secret_hash="a" * 64, last_used_at=yesterday)
    tokens.create(user=cli, name="unused", secret_hash="b" * 64)
    old_users.create(username="never")

    migrate_to_the_latest()  # the code below uses today's models

    seen = {row.user.username: row.seen_at for row in LastSeen.objects.select_related("user")}
    assert seen == {"dashboard": yesterday, "cli": yesterday}
    assert users_with_last_seen().get(username="never").seen_at is None
    assert users_with_last_seen().get(pk=dashboard.pk).seen_at == yesterday

    migrate(LAST_SEEN_BEFORE)
    assert User.objects.filter(username="cli").exists()
    with connection.cursor() as cursor:
        assert "accounts_lastseen" not in connection.introspection.table_names(cursor)


DIRECTORY_DEACTIVATIONS_BEFORE = [("accounts", "0008_project_recycle_seconds"), ("audit", "0001_audit_event")]


def test_people_the_recheck_deactivated_before_it_kept_why_are_known_from_the_audit_log() -> None:
    """Only a person whose last (de)activation was the re-check's is the directory's to take back
    (and their tokens are revoked, as the re-check now does): not one an administrator
    deactivated, nor one activated again since."""
    apps = migrate(DIRECTORY_DEACTIVATIONS_BEFORE)
    old_users, events = apps.get_model("auth", "User").objects, apps.get_model("audit", "AuditEvent").objects
    tokens = apps.get_model("accounts", "PersonalAccessToken").objects
    for username in ("removed", "by_admin", "activated_since", "back_then_admin"):
        user = old_users.create(username=username, password="!unusable", is_active=username == "activated_since")
        tokens.create(user=user, name="ci", secret_hash=username.ljust(64, "0"))
    system_deactivation = {"actor_kind": "system", "action": "user.deactivate"}
    events.create(resource="removed", detail={"reason": "removed from the directory"}, **system_deactivation)
    events.create(resource="by_admin", actor_kind="user", actor_name="root", action="user.deactivate")
    events.create(resource="activated_since", detail={"reason": "disabled in the directory"}, **system_deactivation)
    events.create(resource="activated_since", actor_kind="user", actor_name="root", action="user.activate")
    events.create(resource="back_then_admin", detail={"reason": "disabled in the directory"}, **system_deactivation)
    events.create(resource="back_then_admin", actor_kind="user", actor_name="root", action="user.deactivate")

    migrate_to_the_latest()  # the code below uses today's models

    assert [(row.user.username, row.reason) for row in DirectoryDeactivation.objects.select_related("user")] == [
        ("removed", "removed from the directory")
    ]
    revoked = PersonalAccessToken.objects.filter(revoked_at__isnull=False).values_list("user__username", flat=True)
    assert list(revoked) == ["removed"]
    assert AuditEvent.objects.filter(action="token.revoke", resource="removed/ci", actor_kind="system").exists()
    assert reactivate(User.objects.get(username="removed"))
    assert not reactivate(User.objects.get(username="by_admin"))

    migrate(DIRECTORY_DEACTIVATIONS_BEFORE)
    assert User.objects.filter(username="removed", is_active=True).exists()
    with connection.cursor() as cursor:
        assert "accounts_directorydeactivation" not in connection.introspection.table_names(cursor)
