"""A database filled by the code before Repository.project existed migrates forward, and back.

The rows are made with the historical models of the migration they are made at, as the code of
that time made them. transaction=True: Postgres will not alter a table whose deferred foreign-key
checks are still pending in the same transaction, and a test's transaction would hold them.
"""

import json
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Project
from oci.digests import Digest
from oci.media_types import OCI_MANIFEST
from tests.migrations import migrate, migrate_to_the_latest
from v2api.models import Job, RecycledDeletion
from v2api.services.deletion import execute_deletion
from v2api.services.manifests import find_manifest
from v2api.services.recycle_bin import restore
from v2api.services.replication_rules import RuleSettings, save_replication_rule
from v2api.storage import paths

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_the_latest_migrations")]

BEFORE = [("accounts", "0002_project_quota_bytes"), ("v2api", "0004_project_usage_snapshot")]
AFTER = [("accounts", "0002_project_quota_bytes"), ("v2api", "0007_repository_project_required")]


def repository_columns() -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, "v2api_repository")}


def test_each_repository_gets_the_project_its_name_starts_with() -> None:
    old = migrate(BEFORE)
    team = old.get_model("accounts", "Project").objects.create(name="team", public=True)
    for name in ("team/app", "team/web/server"):
        old.get_model("v2api", "Repository").objects.create(name=name, namespace="team")

    new = migrate(AFTER)

    repositories = new.get_model("v2api", "Repository").objects.order_by("name")
    assert [(repository.name, repository.project_id) for repository in repositories] == [
        ("team/app", team.id),
        ("team/web/server", team.id),
    ]
    assert new.get_model("accounts", "Project").objects.count() == 1
    assert "namespace" not in repository_columns()
    assert "project_id" in repository_columns()


def test_a_repository_whose_project_is_missing_gets_a_private_project_without_members() -> None:
    old = migrate(BEFORE)
    old.get_model("v2api", "Repository").objects.create(name="library/alpine", namespace="library")
    old.get_model("auth", "User").objects.create(username="alice")

    new = migrate(AFTER)

    project = new.get_model("accounts", "Project").objects.get(name="library")
    assert not project.public
    assert new.get_model("v2api", "Repository").objects.get(name="library/alpine").project_id == project.id
    assert not new.get_model("accounts", "Membership").objects.exists()


def test_a_missing_personal_project_is_created_with_its_user_as_admin() -> None:
    # Before, the user a missing project is named after had every action in it, as its creator.
    old = migrate(BEFORE)
    old.get_model("v2api", "Repository").objects.create(name="alice/tools", namespace="alice")
    alice = old.get_model("auth", "User").objects.create(username="alice")

    new = migrate(AFTER)

    project = new.get_model("accounts", "Project").objects.get(name="alice")
    assert not project.public
    memberships = new.get_model("accounts", "Membership").objects.all()
    assert [(m.project_id, m.user_id, m.role) for m in memberships] == [(project.id, alice.id, "admin")]


def test_migrating_back_fills_the_namespace_from_the_project_again() -> None:
    new = migrate(AFTER)
    ops = new.get_model("accounts", "Project").objects.create(name="ops")
    new.get_model("v2api", "Repository").objects.create(name="ops/tool", project_id=ops.id)

    old = migrate(BEFORE)

    assert old.get_model("v2api", "Repository").objects.get(name="ops/tool").namespace == "ops"
    assert "project_id" not in repository_columns()


def test_an_upload_open_before_uploads_kept_their_size_gets_it_from_its_file(storage_root: Path) -> None:
    old = migrate(AFTER)  # 0007: an upload's size was only its file's
    team = old.get_model("accounts", "Project").objects.create(name="team")
    repository = old.get_model("v2api", "Repository").objects.create(name="team/app", project_id=team.id)
    upload = old.get_model("v2api", "Upload").objects.create(repository_id=repository.id)
    data = paths.upload_data_path(storage_root, str(upload.id))
    data.parent.mkdir(parents=True)
    data.write_bytes(b"u" * 123)

    new = migrate([("accounts", "0002_project_quota_bytes"), ("v2api", "0008_upload_started_by_and_size")])

    migrated = new.get_model("v2api", "Upload").objects.get(id=upload.id)
    assert (migrated.size, migrated.started_by) == (123, "")


def test_tags_pushed_before_immutability_rules_existed_stay_mutable_until_a_rule_names_them() -> None:
    old = migrate([("accounts", "0003_credential_version"), ("v2api", "0008_upload_started_by_and_size")])
    team = old.get_model("accounts", "Project").objects.create(name="team")
    repository = old.get_model("v2api", "Repository").objects.create(name="team/app", project_id=team.id)
    manifest = old.get_model("v2api", "Manifest").objects.create(
        repository_id=repository.id, digest="sha256:" + "a" * 64, media_type="m", content=b"{}", size=2
    )
    old.get_model("v2api", "Tag").objects.create(repository_id=repository.id, name="v1.2.0", manifest_id=manifest.id)

    new = migrate([("accounts", "0003_credential_version"), ("v2api", "0009_immutable_tag_rules")])

    assert not new.get_model("v2api", "ImmutableTagRule").objects.exists()
    rule = new.get_model("v2api", "ImmutableTagRule").objects.create(project_id=team.id, tags="v*")
    assert rule.repositories == "**"
    assert new.get_model("v2api", "Tag").objects.get().name == "v1.2.0"


def test_jobs_recorded_before_the_command_line_was_told_apart_read_as_the_schedules() -> None:
    old = migrate([("accounts", "0003_credential_version"), ("v2api", "0009_immutable_tag_rules")])
    job = old.get_model("v2api", "Job").objects.create(kind="garbage_collection", parameters={})

    new = migrate([("accounts", "0003_credential_version"), ("v2api", "0010_job_from_command_line")])

    assert new.get_model("v2api", "Job").objects.get(id=job.id).from_command_line is False


PROXY_BEFORE = [("accounts", "0004_project_group_membership"), ("v2api", "0011_tag_last_pulled_at")]


def test_projects_and_tags_made_before_proxy_caches_stay_ordinary_and_are_served_as_they_were() -> None:
    old = migrate(PROXY_BEFORE)
    team = old.get_model("accounts", "Project").objects.create(name="team")
    repository = old.get_model("v2api", "Repository").objects.create(name="team/app", project_id=team.id)
    manifest = old.get_model("v2api", "Manifest").objects.create(
        repository=repository, digest="sha256:" + "a" * 64, media_type=OCI_MANIFEST, content=b"{}", size=2
    )
    old.get_model("v2api", "Tag").objects.create(repository=repository, name="v1", manifest=manifest)

    migrate_to_the_latest()  # the models below are today's

    assert not Project.objects.get(name="team").is_proxy
    found = find_manifest("team/app", "v1", with_content=False)
    assert found is not None
    assert (found.digest, found.proxied_tag, found.needs_upstream_check) == ("sha256:" + "a" * 64, False, False)

    back = migrate(PROXY_BEFORE)
    assert back.get_model("v2api", "Tag").objects.filter(name="v1").count() == 1


REPLICATION_BEFORE = [("accounts", "0006_single_sign_on_identity"), ("v2api", "0012_tag_upstream_checked_at")]


def test_jobs_and_projects_from_before_replication_stay_and_a_project_then_takes_rules() -> None:
    old = migrate(REPLICATION_BEFORE)
    team = old.get_model("accounts", "Project").objects.create(name="team")
    job = old.get_model("v2api", "Job").objects.create(kind="retention", parameters={"project": "team"})

    migrate_to_the_latest()  # the models below are today's

    assert Job.objects.get(id=job.id).kind == Job.Kind.RETENTION
    rule = save_replication_rule(
        None, RuleSettings(name="out", direction="push", remote_url="https://remote.lan", project=Project.objects.get())
    )
    assert (rule.project_id, rule.trigger, rule.repositories, rule.tags) == (team.id, "manual", "**", "*")

    back = migrate(REPLICATION_BEFORE)
    assert back.get_model("v2api", "Job").objects.filter(id=job.id).exists()
    assert "v2api_replicationrule" not in connection.introspection.table_names()


BIN_BEFORE = [("accounts", "0007_last_seen"), ("v2api", "0013_replication_rules")]


def test_images_pushed_before_the_recycle_bin_go_into_it_when_deleted_and_come_back(settings) -> None:  # type: ignore[no-untyped-def]
    old = migrate(BIN_BEFORE)
    team = old.get_model("accounts", "Project").objects.create(name="team")
    repository = old.get_model("v2api", "Repository").objects.create(name="team/app", project_id=team.id)
    config = old.get_model("v2api", "Blob").objects.create(digest="sha256:" + "c" * 64, size=2)
    content = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": 2},
            "layers": [],
        }
    ).encode()
    manifest = old.get_model("v2api", "Manifest").objects.create(
        repository=repository,
        digest=str(Digest.of_bytes(content)),
        media_type=OCI_MANIFEST,
        content=content,
        size=len(content),
    )
    old.get_model("v2api", "ManifestReference").objects.create(manifest=manifest, blob=config)
    old.get_model("v2api", "RepositoryBlob").objects.create(repository=repository, blob=config)
    old.get_model("v2api", "Tag").objects.create(repository=repository, name="v1", manifest=manifest)

    migrate_to_the_latest()  # the models below are today's
    settings.REGISTRY_RECYCLE_SECONDS = 3600

    assert Project.objects.get(name="team").recycle_seconds is None
    execute_deletion("team/app", digests=[manifest.digest])
    assert find_manifest("team/app", "v1", with_content=False) is None
    restore(Project.objects.get(name="team"), RecycledDeletion.objects.get().id)
    found = find_manifest("team/app", "v1", with_content=False)
    assert found is not None and found.digest == manifest.digest

    back = migrate(BIN_BEFORE)
    assert back.get_model("v2api", "Tag").objects.get(name="v1").manifest.digest == manifest.digest
    with connection.cursor() as cursor:
        assert "v2api_recycleddeletion" not in connection.introspection.table_names(cursor)
