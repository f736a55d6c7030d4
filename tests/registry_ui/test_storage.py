"""Disk used per project and repository (v2api's accounting: a shared layer counts once) on the
home, project and administration pages, computed only for the rows shown."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, Project, Role
from registry_ui.templatetags.sizes import binary_size
from tests.conftest import PushBlob, PushImage
from tests.tasks.conftest import bytes_on_disk
from v2api.models import RetentionPolicy, Tag
from v2api.services.deletion import execute_deletion
from v2api.services.gc import collect_garbage
from v2api.services.usage import project_usage, repository_usage, repository_usages

AsUser = Callable[[User], Client]
BIG_LAYER = b"x" * 3000


@pytest.fixture
def sharing(team: Project, push_image: PushImage) -> None:
    """team/app and team/web share a big layer; ops/tool shares it across projects."""
    Project.objects.create(name="ops")
    push_image("team/app", "1.0", layers=(BIG_LAYER, b"app only"))
    push_image("team/web", "1.0", layers=(BIG_LAYER, b"web only"))
    push_image("ops/tool", "1.0", layers=(BIG_LAYER, b"tool only"), config=b'{"os": "linux"}')


def test_repository_usages_equal_repository_usage_one_by_one(sharing: None) -> None:
    names = ["team/app", "team/web", "ops/tool", "team/missing"]
    assert repository_usages(names) == {name: repository_usage(name) for name in names}


def test_home_shows_each_projects_disk_with_a_shared_layer_once(as_user: AsUser, alice: User, sharing: None) -> None:
    text = as_user(alice).get("/").content.decode()
    usage = project_usage("team")
    assert usage.total_bytes < 2 * len(BIG_LAYER)
    assert binary_size(usage.total_bytes) in text
    assert f"{binary_size(usage.shared_bytes)} shared" in text


def test_the_project_page_shows_disk_per_repository(as_user: AsUser, alice: User, sharing: None) -> None:
    response = as_user(alice).get("/projects/team/")
    usages = {row.name: row.usage for row in response.context["rows"]}
    assert usages == {"team/app": repository_usage("team/app"), "team/web": repository_usage("team/web")}
    assert "Disk used" in response.content.decode()


def test_the_home_page_costs_the_same_queries_however_many_projects_and_repositories(
    as_user: AsUser, root: User, team: Project, push_image: PushImage
) -> None:
    client = as_user(root)
    push_image("team/app", "1.0")
    with CaptureQueriesContext(connection) as one_project:
        client.get("/")
    Project.objects.create(name="ops")
    for number in range(5):
        push_image(f"ops/r{number}", "1.0", layers=(f"layer {number}".encode(),))
    with CaptureQueriesContext(connection) as two_projects:
        client.get("/")
    assert len(two_projects) == len(one_project)


def test_the_storage_page_is_for_system_admins(as_user: AsUser, alice: User, sharing: None) -> None:
    assert as_user(alice).get("/admin/storage/").status_code == 404


def test_the_storage_page_charts_every_project(as_user: AsUser, root: User, sharing: None) -> None:
    Membership.objects.create(project=Project.objects.get(name="ops"), user=root, role=Role.ADMIN)
    response = as_user(root).get("/admin/storage/")
    text = response.content.decode()
    overview = response.context["overview"]
    assert [summary.project.name for summary in overview.projects] == ["team", "ops"]
    assert 'class="bar" style="width: 100.0%"' in text
    assert binary_size(project_usage("ops").total_bytes) in text
    assert 'href="/admin/storage/"' in text
    assert "cdn" not in text and "https://" not in text


def test_what_the_storage_page_says_a_collection_frees_is_what_it_then_frees(
    as_user: AsUser, root: User, team: Project, push_image: PushImage, push_blob: PushBlob, storage_root: Path
) -> None:
    """A deleted image, a blob pushed but never used, and an image left untagged in a project whose
    retention deletes untagged images; the page used to count only blobs no manifest referenced,
    so it missed the untagged image the collector takes."""
    push_image("team/app", "1.0", layers=(b"kept layer", b"shared layer"))
    doomed = push_image("team/app", "2.0", layers=(b"doomed layer", b"shared layer"), config=b'{"doomed": 1}')
    execute_deletion("team/app", digests=[doomed.digest])
    push_blob("team/app", b"pushed and never used")
    ops = Project.objects.create(name="ops")
    RetentionPolicy.objects.create(project=ops, delete_untagged=True)
    push_image("ops/tool", "1.0", layers=(b"untagged soon",), config=b'{"ops": 1}')
    Tag.objects.filter(repository__name="ops/tool").delete()

    response = as_user(root).get("/admin/storage/")
    promised = response.context["overview"].collectable_bytes
    before = bytes_on_disk(storage_root)
    report = collect_garbage(timedelta(0))

    assert f'data-collectable-bytes="{promised}"' in response.content.decode()
    assert report.bytes_freed == promised == before - bytes_on_disk(storage_root)
    assert promised == sum(
        len(data)
        for data in (b"doomed layer", b'{"doomed": 1}', b"pushed and never used", b"untagged soon", b'{"ops": 1}')
    )


def test_the_storage_page_states_the_grace_window_from_the_setting(
    as_user: AsUser, root: User, sharing: None, settings: Any
) -> None:
    settings.REGISTRY_GC_GRACE_SECONDS = 2 * 3600
    text = as_user(root).get("/admin/storage/").content.decode()
    assert "once older than the 2\xa0h grace window" in text
    settings.REGISTRY_GC_GRACE_SECONDS = 90 * 60
    assert "once older than the 90\xa0min grace window" in as_user(root).get("/admin/storage/").content.decode()
