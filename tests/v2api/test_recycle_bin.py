"""The recycle bin: whatever path deletes a tag or an image, it stays restorable for the project's
window, its blobs stay on disk until the window ends, and then the collector frees exactly what
the deletion promised."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from audit.models import AuditEvent
from oci import media_types
from tests.conftest import PushedImage, PushImage, PushManifest, digest_of
from tests.tasks.conftest import blob_file, bytes_on_disk
from v2api.models import ImmutableTagRule, Job, RecycledDeletion, RetentionPolicy, RetentionRule, Tag
from v2api.services.deletion import execute_deletion, plan_deletion
from v2api.services.gc import collect_garbage
from v2api.services.gc_outlook import collection_outlook
from v2api.services.job_requests import DeletionRequest
from v2api.services.jobs import run_job
from v2api.services.quotas import human_size
from v2api.services.recycle_bin import RestoreConflict, delete_permanently, recycled_bytes, recycled_items, restore
from v2api.services.retention import apply_retention
from v2api.services.usage import project_stored_bytes
from v2api.tasks import request_job

pytestmark = pytest.mark.django_db
DAY = 24 * 3600
NO_GRACE = timedelta(0)


@pytest.fixture(autouse=True)
def recycle_bin(no_recycle_bin: None, settings: Any) -> None:
    settings.REGISTRY_RECYCLE_SECONDS = DAY


def team() -> Project:
    return Project.objects.get(name="team")


def the_deletion() -> RecycledDeletion:
    (deletion,) = RecycledDeletion.objects.all()
    return deletion


def expire(deletion: RecycledDeletion) -> None:
    """The window has passed (as if a day went by)."""
    RecycledDeletion.objects.filter(id=deletion.id).update(expires_at=timezone.now() - timedelta(seconds=1))


def pulled_digest(client: Client, name: str, tag: str) -> str | None:
    response = client.get(f"/v2/{name}/manifests/{tag}", HTTP_ACCEPT="*/*")
    return response["Docker-Content-Digest"] if response.status_code == 200 else None


def test_a_tag_deleted_over_the_v2_api_comes_back_on_the_same_digest(client: Client, push_image: PushImage) -> None:
    image = push_image("team/app", tag="v1", layers=[b"layer"])

    assert client.delete("/v2/team/app/manifests/v1").status_code == 202
    assert pulled_digest(client, "team/app", "v1") is None
    (item,) = recycled_items(team())
    restored = restore(team(), item.deletion.id)

    assert (restored.repository, restored.tags) == ("team/app", {"v1": image.digest})
    assert pulled_digest(client, "team/app", "v1") == image.digest
    assert not RecycledDeletion.objects.exists()


def test_every_way_of_deleting_puts_what_it_removes_in_the_bin(
    client: Client, push_image: PushImage, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    by_tag = push_image("team/app", tag="by-tag", layers=[b"one"])
    by_digest = push_image("team/app", tag="by-digest", layers=[b"two"])
    by_job = push_image("team/app", tag="by-job", layers=[b"three"])
    by_retention = push_image("team/app", tag="old", layers=[b"four"])
    push_image("team/app", tag="new", layers=[b"five"])
    policy = RetentionPolicy.objects.create(project=team())
    RetentionRule.objects.create(policy=policy, repositories="**", tags="old,new", keep_most_recent=1)

    client.delete("/v2/team/app/manifests/by-tag")
    client.delete(f"/v2/team/app/manifests/{by_digest.digest}")
    run_job(request_job(DeletionRequest("team/app", tags=("by-job",)), requested_by=admin_user).pk)
    apply_retention("team")

    deletions = RecycledDeletion.objects.order_by("id")
    assert [(deletion.action, deletion.tags) for deletion in deletions] == [
        ("tag.delete", {"by-tag": by_tag.digest}),
        ("image.delete", {"by-digest": by_digest.digest}),
        ("tag.delete", {"by-job": by_job.digest}),
        ("tag.delete", {"old": by_retention.digest}),
    ]
    assert [item.manifests for item in reversed(recycled_items(team()))] == [
        [],
        [by_digest.digest],
        [],
        [by_retention.digest],
    ]


def test_an_image_in_the_bin_keeps_its_blobs_until_the_window_ends_then_they_are_freed_exactly(
    push_image: PushImage, storage_root: Path
) -> None:
    push_image("team/app", tag="stable", layers=[b"shared" * 10, b"kept" * 100])
    doomed = push_image("team/app", tag="old", layers=[b"shared" * 10, b"doomed" * 100], config=b"{}")
    promised = plan_deletion("team/app", digests=[doomed.digest])
    before = bytes_on_disk(storage_root)

    deleted = execute_deletion("team/app", digests=[doomed.digest])
    while_in_the_bin = collect_garbage(NO_GRACE)

    assert deleted.restorable_until is not None
    assert deleted.restorable_until - timezone.now() > timedelta(hours=23)
    assert promised.bytes_freed == len(b"doomed" * 100) + len(b"{}")
    assert (while_in_the_bin.blobs_deleted, while_in_the_bin.bytes_freed) == (0, 0)
    assert while_in_the_bin.bytes_in_recycle_bin == promised.bytes_freed
    assert recycled_bytes(team()) == promised.bytes_freed
    assert bytes_on_disk(storage_root) == before

    expire(the_deletion())
    dry_run = collect_garbage(NO_GRACE, dry_run=True)
    after_the_window = collect_garbage(NO_GRACE)

    assert (dry_run.recycled_deletions_expired, dry_run.bytes_freed) == (1, promised.bytes_freed)
    assert after_the_window.recycled_deletions_expired == 1
    assert after_the_window.bytes_freed == promised.bytes_freed
    assert after_the_window.bytes_in_recycle_bin == 0
    assert before - bytes_on_disk(storage_root) == promised.bytes_freed
    assert not blob_file(storage_root, doomed.layer_digests[1]).exists()
    assert not RecycledDeletion.objects.exists()


def test_deleting_permanently_lets_the_next_collection_free_what_only_it_kept(
    push_image: PushImage, storage_root: Path
) -> None:
    image = push_image("team/app", tag="v1", layers=[b"gone for good" * 50])
    execute_deletion("team/app", digests=[image.digest])
    (item,) = recycled_items(team())
    before = bytes_on_disk(storage_root)

    assert delete_permanently(team(), item.deletion.id)
    report = collect_garbage(NO_GRACE)

    assert item.bytes_to_free == report.bytes_freed == before - bytes_on_disk(storage_root) > 0
    assert not delete_permanently(team(), item.deletion.id)
    assert list(AuditEvent.objects.filter(action="recycle.delete").values_list("resource", "detail")) == [
        ("team/app", {"deletion": item.deletion.id, "tags": {"v1": image.digest}, "bytes_to_free": item.bytes_to_free})
    ]


def test_a_whole_repository_restored_comes_back_to_the_catalog_with_its_blobs(
    client: Client, push_image: PushImage
) -> None:
    first = push_image("team/app", tag="v1", layers=[b"first layer"])
    second = push_image("team/app", tag="v2", layers=[b"second layer"])
    execute_deletion("team/app", whole_repository=True)
    collect_garbage(NO_GRACE)
    assert "team/app" not in client.get("/v2/_catalog").json()["repositories"]

    restored = restore(team(), the_deletion().id)

    assert restored.manifests == sorted([first.digest, second.digest])
    assert "team/app" in client.get("/v2/_catalog").json()["repositories"]
    assert pulled_digest(client, "team/app", "v2") == second.digest
    for digest in [second.config_digest, *second.layer_digests]:
        response = client.get(f"/v2/team/app/blobs/{digest}")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) != b""  # type: ignore[attr-defined]
    assert list(AuditEvent.objects.filter(action="recycle.restore").values_list("resource", flat=True)) == ["team/app"]


def test_a_repository_emptied_by_deleting_its_only_image_comes_back_to_the_catalog(
    client: Client, push_image: PushImage
) -> None:
    image = push_image("team/solo", tag="v1", layers=[b"only layer"])
    assert client.delete(f"/v2/team/solo/manifests/{image.digest}").status_code == 202
    assert "team/solo" not in client.get("/v2/_catalog").json()["repositories"]

    restore(team(), the_deletion().id)

    assert "team/solo" in client.get("/v2/_catalog").json()["repositories"]
    assert pulled_digest(client, "team/solo", "v1") == image.digest


def test_an_index_in_the_bin_keeps_its_children_and_comes_back_whole(
    client: Client, push_image: PushImage, push_manifest: PushManifest
) -> None:
    children = [
        push_image("team/app", layers=[b"amd64 layer"], config=b'{"architecture": "amd64"}'),
        push_image("team/app", layers=[b"arm64 layer"], config=b'{"architecture": "arm64"}'),
    ]
    index = push_manifest("team/app", index_document(children), media_types.OCI_INDEX, "multi")
    execute_deletion("team/app", digests=[index.digest])
    assert collect_garbage(NO_GRACE).bytes_freed == 0

    restore(team(), the_deletion().id)

    assert pulled_digest(client, "team/app", "multi") == index.digest
    for child in children:
        assert pulled_digest(client, "team/app", child.digest) == child.digest
        assert client.get(f"/v2/team/app/blobs/{child.layer_digests[0]}").status_code == 200


def test_an_image_pushed_again_while_in_the_bin_is_found_by_the_restore(client: Client, push_image: PushImage) -> None:
    image = push_image("team/app", tag="v1", layers=[b"layer"])
    execute_deletion("team/app", digests=[image.digest])
    again = push_image("team/app", layers=[b"layer"])

    restored = restore(team(), the_deletion().id)

    assert again.digest == image.digest
    assert restored.manifests == [image.digest]
    assert pulled_digest(client, "team/app", "v1") == image.digest


def test_a_tag_that_now_names_another_image_is_a_conflict_and_nothing_is_restored(
    client: Client, push_image: PushImage
) -> None:
    old = push_image("team/app", tag="v1", layers=[b"old"])
    execute_deletion("team/app", digests=[old.digest])
    new = push_image("team/app", tag="v1", layers=[b"new"])
    deletion = the_deletion()

    with pytest.raises(RestoreConflict) as conflict:
        restore(team(), deletion.id)

    assert str(conflict.value) == (
        f"tag v1 now points to {new.digest}, not {old.digest}: push or delete it first, then restore."
    )
    assert pulled_digest(client, "team/app", "v1") == new.digest
    assert pulled_digest(client, "team/app", old.digest) is None
    assert RecycledDeletion.objects.filter(id=deletion.id).exists()


def test_a_tag_made_immutable_on_another_image_since_is_a_conflict_naming_the_rule(push_image: PushImage) -> None:
    old = push_image("team/app", tag="v1.0.0", layers=[b"old"])
    execute_deletion("team/app", tags=["v1.0.0"])
    new = push_image("team/app", tag="v1.0.0", layers=[b"new"])
    rule = ImmutableTagRule.objects.create(project=team(), repositories="**", tags="v*.*.*")

    with pytest.raises(RestoreConflict) as conflict:
        restore(team(), the_deletion().id)

    assert str(conflict.value) == (
        f"tag v1.0.0 is immutable ({rule}) and now points to {new.digest}: it cannot be moved back to {old.digest}."
    )


def test_an_expired_deletion_is_no_longer_restorable(push_image: PushImage) -> None:
    push_image("team/app", tag="v1")
    execute_deletion("team/app", tags=["v1"])
    deletion = the_deletion()
    expire(deletion)

    assert recycled_items(team()) == []
    with pytest.raises(RecycledDeletion.DoesNotExist):
        restore(team(), deletion.id)


def test_a_project_window_overrides_the_registry_default(push_image: PushImage, settings: Any) -> None:
    push_image("team/app", tag="a")
    kept = push_image("team/app", tag="b", layers=[b"other"])
    Project.objects.filter(name="team").update(recycle_seconds=0)
    not_kept = execute_deletion("team/app", tags=["a"])
    settings.REGISTRY_RECYCLE_SECONDS = 0
    Project.objects.filter(name="team").update(recycle_seconds=60)
    deleted = execute_deletion("team/app", tags=["b"])

    assert not_kept.restorable_until is None
    assert list(RecycledDeletion.objects.values_list("tags", flat=True)) == [{"b": kept.digest}]
    assert deleted.restorable_until is not None
    assert timedelta(seconds=59) < deleted.restorable_until - timezone.now() <= timedelta(seconds=60)
    assert not Tag.objects.filter(name__in=["a", "b"]).exists()


def index_document(children: list[PushedImage]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX,
        "manifests": [
            {"mediaType": child.media_type, "digest": child.digest, "size": len(child.content)} for child in children
        ],
    }


def test_a_deletion_job_records_until_when_it_is_restorable(
    push_image: PushImage, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    push_image("team/app", tag="v1")

    job = request_job(DeletionRequest("team/app", tags=("v1",)), requested_by=admin_user)
    run_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.result["restorable_until"] == the_deletion().expires_at.isoformat()


def test_bytes_in_the_bin_do_not_count_toward_the_quota(client: Client, push_image: PushImage) -> None:
    image = push_image("team/app", tag="v1", layers=[b"a" * 1000])
    Project.objects.filter(name="team").update(quota_bytes=1500)
    layer = b"b" * 1000

    def push_layer() -> Any:
        started = client.post("/v2/team/app/blobs/uploads/")
        return client.put(
            started["Location"] + f"?digest={digest_of(layer)}", data=layer, content_type="application/octet-stream"
        )

    refused = push_layer()
    execute_deletion("team/app", digests=[image.digest])
    accepted = push_layer()

    assert refused.status_code == 403
    assert json.loads(refused.content)["errors"][0]["message"].startswith("quota exceeded: project team uses")
    assert accepted.status_code == 201
    assert recycled_bytes(team()) > 1000


def delete_untagged_images() -> None:
    RetentionPolicy.objects.create(project=team(), delete_untagged=True)


def test_an_image_the_collector_deletes_untagged_goes_to_the_bin_and_comes_back_by_digest(
    client: Client, push_image: PushImage, storage_root: Path
) -> None:
    old = push_image("team/app", tag="v1", layers=[b"base" * 10, b"old" * 100], config=b'{"v": 1}')
    delete_untagged_images()
    new = push_image("team/app", tag="v1", layers=[b"base" * 10, b"new" * 100], config=b'{"v": 2}')
    only_the_old_image = len(b"old" * 100) + len(b'{"v": 1}')
    before = bytes_on_disk(storage_root)

    outlook = collection_outlook()
    dry_run = collect_garbage(NO_GRACE, dry_run=True)
    run = collect_garbage(NO_GRACE)

    assert outlook.freed_now == outlook.waiting_for_grace == 0
    assert (dry_run.manifests_deleted, dry_run.blobs_deleted, dry_run.bytes_freed) == (1, 0, 0)
    assert (run.manifests_deleted, run.blobs_deleted, run.bytes_freed) == (1, 0, 0)
    assert dry_run.bytes_in_recycle_bin == run.bytes_in_recycle_bin == only_the_old_image
    assert bytes_on_disk(storage_root) == before
    assert pulled_digest(client, "team/app", old.digest) is None
    (item,) = recycled_items(team())
    assert (item.deletion.action, item.deletion.tags, item.manifests) == ("gc.untagged", {}, [old.digest])
    assert item.bytes_to_free == recycled_bytes(team()) == only_the_old_image

    restored = restore(team(), item.deletion.id)

    assert (restored.tags, restored.manifests) == ({}, [old.digest])
    assert pulled_digest(client, "team/app", old.digest) == old.digest
    assert pulled_digest(client, "team/app", "v1") == new.digest
    assert client.get(f"/v2/team/app/blobs/{old.layer_digests[1]}").status_code == 200


def test_untagged_images_in_the_bin_are_freed_exactly_by_the_first_collection_after_the_window(
    push_image: PushImage, storage_root: Path
) -> None:
    old = push_image("team/app", tag="v1", layers=[b"base" * 10, b"old" * 100], config=b'{"v": 1}')
    delete_untagged_images()
    push_image("team/app", tag="v1", layers=[b"base" * 10, b"new" * 100], config=b'{"v": 2}')
    collect_garbage(NO_GRACE)
    (item,) = recycled_items(team())
    before = bytes_on_disk(storage_root)

    expire(item.deletion)
    dry_run = collect_garbage(NO_GRACE, dry_run=True)
    run = collect_garbage(NO_GRACE)

    assert (dry_run.manifests_deleted, dry_run.recycled_deletions_expired) == (0, 1)
    assert dry_run.bytes_freed == run.bytes_freed == item.bytes_to_free == before - bytes_on_disk(storage_root) > 0
    assert run.bytes_in_recycle_bin == 0
    assert not blob_file(storage_root, old.layer_digests[1]).exists()
    assert not RecycledDeletion.objects.exists()


def test_a_project_without_a_bin_has_its_untagged_images_freed_by_the_collection_at_once(
    push_image: PushImage, storage_root: Path
) -> None:
    push_image("team/app", tag="v1", layers=[b"old" * 100], config=b'{"v": 1}')
    delete_untagged_images()
    Project.objects.filter(name="team").update(recycle_seconds=0)
    push_image("team/app", tag="v1", layers=[b"new" * 100], config=b'{"v": 2}')
    before = bytes_on_disk(storage_root)

    dry_run = collect_garbage(NO_GRACE, dry_run=True)
    run = collect_garbage(NO_GRACE)

    assert dry_run.bytes_freed == run.bytes_freed == before - bytes_on_disk(storage_root) > 0
    assert dry_run.bytes_in_recycle_bin == run.bytes_in_recycle_bin == 0
    assert not RecycledDeletion.objects.exists()


def test_a_restore_that_would_take_the_project_past_its_quota_is_refused_until_there_is_room(
    client: Client, push_image: PushImage
) -> None:
    """Else deleting, pushing another image in the room made and restoring would grow a project
    past its quota, by as much as one likes."""
    old = push_image("team/app", tag="v1", layers=[b"a" * 1000])
    Project.objects.filter(name="team").update(quota_bytes=1500)
    execute_deletion("team/app", digests=[old.digest])
    new = push_image("team/app", tag="v2", layers=[b"b" * 1000])
    deletion = the_deletion()

    with pytest.raises(RestoreConflict) as refused:
        restore(team(), deletion.id)

    assert str(refused.value) == (
        f"quota exceeded: project team uses {human_size(project_stored_bytes('team'))} of 1.5 KiB;"
        " restoring this deletion needs 1000 bytes"
    )
    assert pulled_digest(client, "team/app", "v1") is None
    assert project_stored_bytes("team") <= 1500
    execute_deletion("team/app", digests=[new.digest])
    assert restore(team(), deletion.id).tags == {"v1": old.digest}
    assert pulled_digest(client, "team/app", "v1") == old.digest


def test_a_project_counts_in_its_bin_only_what_its_own_deletions_keep(push_image: PushImage) -> None:
    """A layer another project's bin keeps too is not freed when this project's deletions go: the
    bin's total says what they keep alone, as each deletion's figure does and as the GC page adds up."""
    ours = push_image("team/app", tag="v1", layers=[b"shared across projects", b"ours alone" * 10])
    theirs = push_image("other/app", tag="v1", layers=[b"shared across projects", b"theirs alone" * 10])
    execute_deletion("team/app", digests=[ours.digest])
    execute_deletion("other/app", digests=[theirs.digest])

    (item,) = recycled_items(team())

    assert recycled_bytes(team()) == item.bytes_to_free == len(b"ours alone" * 10)
    assert collection_outlook().in_recycle_bin == (
        recycled_bytes(team())
        + recycled_bytes(Project.objects.get(name="other"))
        + len(b"shared across projects")
        + len(b'{"architecture": "amd64", "os": "linux"}')
    )


def test_an_expired_deletion_can_no_longer_be_deleted_permanently_either(push_image: PushImage) -> None:
    """It left the bin with its window: the collector frees it, and nobody is told it was deleted now."""
    push_image("team/app", tag="v1")
    execute_deletion("team/app", tags=["v1"])
    deletion = the_deletion()
    expire(deletion)

    assert not delete_permanently(team(), deletion.id)
    assert not AuditEvent.objects.filter(action="recycle.delete").exists()
