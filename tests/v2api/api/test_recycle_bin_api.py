"""`/api/v1/projects/<name>/recycle-bin/`: who lists, restores and deletes permanently what a
project deleted, and what each of them sees.

Personas: root is a system admin (and pushes the test images); alice administers the private
project `team`, maya maintains it (may delete), dave develops in it (may not delete), carol
belongs to nothing.
"""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from audit.models import AuditEvent
from tests.accounts.conftest import Api
from tests.conftest import PASSWORD, PushImage, basic_auth
from v2api.models import ImmutableTagRule, RecycledDeletion
from v2api.services.deletion import execute_deletion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recycle_bin(no_recycle_bin: None, settings: Any) -> None:
    settings.REGISTRY_RECYCLE_SECONDS = 3600


@pytest.fixture
def deleted(team: Project, push_image: PushImage) -> dict[str, str]:
    """team/app:v1 deleted by digest; team/app:v2 still there. The digests by tag."""
    first = push_image("team/app", tag="v1", layers=[b"first" * 100])
    second = push_image("team/app", tag="v2", layers=[b"second"])
    execute_deletion("team/app", digests=[first.digest])
    return {"v1": first.digest, "v2": second.digest}


def deletion_id() -> int:
    (deletion,) = RecycledDeletion.objects.values_list("id", flat=True)
    return deletion


def test_a_member_lists_what_the_project_deleted_newest_first(api: Api, dave: User, deleted: dict[str, str]) -> None:
    execute_deletion("team/app", tags=["v2"])

    response = api("get", "projects/team/recycle-bin/", dave)

    assert response.status_code == 200
    newest, oldest = response.json()
    assert (newest["action"], newest["tags"], newest["manifests"]) == ("tag.delete", {"v2": deleted["v2"]}, [])
    assert oldest["repository"] == "team/app"
    assert (oldest["action"], oldest["tags"], oldest["manifests"]) == (
        "image.delete",
        {"v1": deleted["v1"]},
        [deleted["v1"]],
    )
    # The config is v2's too: only the layer is freed.
    assert oldest["bytes_to_free"] == len(b"first" * 100)
    assert set(oldest) == {
        "id",
        "repository",
        "action",
        "tags",
        "manifests",
        "deleted_at",
        "expires_at",
        "bytes_to_free",
    }


def test_the_list_costs_the_same_queries_however_many_deletions_it_holds(
    api: Api, dave: User, deleted: dict[str, str], push_image: PushImage
) -> None:
    with CaptureQueriesContext(connection) as one:
        assert len(api("get", "projects/team/recycle-bin/", dave).json()) == 1
    for number in range(3):
        push_image("team/app", tag=f"more-{number}", layers=[f"layer {number}".encode()])
        execute_deletion("team/app", tags=[f"more-{number}"])

    with CaptureQueriesContext(connection) as four:
        assert len(api("get", "projects/team/recycle-bin/", dave).json()) == 4

    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_maintainer_restores_the_same_tag_on_the_same_digest(api: Api, maya: User, deleted: dict[str, str]) -> None:
    response = api("post", f"projects/team/recycle-bin/{deletion_id()}/restore/", maya)

    assert response.status_code == 200
    assert response.json() == {"repository": "team/app", "tags": {"v1": deleted["v1"]}, "manifests": [deleted["v1"]]}
    pulled = Client().get("/v2/team/app/manifests/v1", HTTP_AUTHORIZATION=basic_auth("maya", PASSWORD))
    assert pulled["Docker-Content-Digest"] == deleted["v1"]
    assert api("get", "projects/team/recycle-bin/", maya).json() == []


def test_a_restore_that_would_move_a_tag_is_a_409_saying_where_it_points(
    api: Api, maya: User, deleted: dict[str, str], push_image: PushImage
) -> None:
    moved = push_image("team/app", tag="v1", layers=[b"pushed since"])

    response = api("post", f"projects/team/recycle-bin/{deletion_id()}/restore/", maya)

    assert response.status_code == 409
    assert response.json() == {
        "detail": f"tag v1 now points to {moved.digest}, not {deleted['v1']}: push or delete it first, then restore."
    }


def test_a_restore_onto_an_immutable_tag_is_a_409_naming_the_rule(
    api: Api, maya: User, team: Project, deleted: dict[str, str], push_image: PushImage
) -> None:
    moved = push_image("team/app", tag="v1", layers=[b"pushed since"])
    rule = ImmutableTagRule.objects.create(project=team, tags="v1")

    response = api("post", f"projects/team/recycle-bin/{deletion_id()}/restore/", maya)

    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"tag v1 is immutable ({rule}) and now points to {moved.digest}: it cannot be moved back to {deleted['v1']}."
    )


def test_a_maintainer_deletes_permanently(api: Api, maya: User, deleted: dict[str, str]) -> None:
    identifier = deletion_id()

    response = api("delete", f"projects/team/recycle-bin/{identifier}/", maya)

    assert response.status_code == 204
    assert not RecycledDeletion.objects.exists()
    again = api("delete", f"projects/team/recycle-bin/{identifier}/", maya)
    assert again.status_code == 404
    assert again.json() == {
        "detail": f"Project team has no deletion {identifier} in its recycle bin (restored, deleted or expired)."
    }


def test_a_developer_may_list_but_not_restore_or_delete(api: Api, dave: User, deleted: dict[str, str]) -> None:
    identifier = deletion_id()

    restore = api("post", f"projects/team/recycle-bin/{identifier}/restore/", dave)
    delete = api("delete", f"projects/team/recycle-bin/{identifier}/", dave)

    assert (restore.status_code, delete.status_code) == (403, 403)
    assert restore.json() == {"detail": "You may not restore or delete in team's recycle bin."}
    assert RecycledDeletion.objects.filter(id=identifier).exists()


def test_an_outsider_finds_no_private_project_bin(api: Api, carol: User, deleted: dict[str, str]) -> None:
    assert api("get", "projects/team/recycle-bin/", carol).status_code == 404
    assert api("post", f"projects/team/recycle-bin/{deletion_id()}/restore/", carol).status_code == 404
    assert api("get", "projects/team/recycle-bin/").status_code == 401


def test_restoring_what_is_not_in_the_bin_is_a_404(api: Api, maya: User, deleted: dict[str, str]) -> None:
    response = api("post", f"projects/team/recycle-bin/{deletion_id() + 1}/restore/", maya)

    assert response.status_code == 404


def test_a_project_admin_sets_the_window_and_a_developer_may_not(
    api: Api, alice: User, dave: User, team: Project
) -> None:
    set_by_alice = api("patch", "projects/team/", alice, {"recycle_seconds": 600})
    refused = api("patch", "projects/team/", dave, {"recycle_seconds": 0})
    negative = api("patch", "projects/team/", alice, {"recycle_seconds": -1})

    assert set_by_alice.status_code == 200
    assert set_by_alice.json()["recycle_seconds"] == 600
    assert refused.status_code == 403
    assert negative.status_code == 400
    team.refresh_from_db()
    assert team.recycle_seconds == 600
    assert list(AuditEvent.objects.filter(action="project.recycle_window").values_list("actor_name", "detail")) == [
        ("alice", {"recycle_seconds": 600, "previous_recycle_seconds": None})
    ]
    assert api("patch", "projects/team/", alice, {"recycle_seconds": None}).json()["recycle_seconds"] is None


def test_a_deletion_plan_says_until_when_the_deletion_is_restorable(
    api: Api, alice: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    team.recycle_seconds = 0
    team.save()
    without = api("post", "repositories/team/app/deletion-plan/", alice, {"tags": ["v1"]}).json()
    team.recycle_seconds = 7200
    team.save()
    with_bin = api("post", "repositories/team/app/deletion-plan/", alice, {"tags": ["v1"]}).json()

    assert without["restorable_until"] is None
    assert with_bin["restorable_until"] is not None


def test_the_project_usage_says_the_bytes_in_the_bin_as_the_usage_tab_does(
    api: Api, dave: User, deleted: dict[str, str]
) -> None:
    usage = api("get", "projects/team/usage/", dave).json()

    # The config is v2's too: only the layer waits in the bin.
    assert usage["recycled_bytes"] == len(b"first" * 100)
    assert usage["total_bytes"] == api("get", "repositories/team/app/usage/", dave).json()["total_bytes"]
