"""Online garbage collection: exactly what nothing needs goes, from the database and the disk."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Project
from oci import media_types
from oci.digests import Digest
from tests.conftest import PushBlob, PushImage, PushManifest, descriptor
from tests.tasks.conftest import blob_file
from tests.tcp_proxy import TcpProxy
from v2api.models import Blob, Job, Manifest, RetentionPolicy
from v2api.services import jobs
from v2api.services.deletion import plan_deletion
from v2api.services.gc import collect_garbage
from v2api.services.locks import AlreadyRunning, exclusive
from v2api.storage import blobstore

pytestmark = pytest.mark.django_db
NO_GRACE = timedelta(0)


def delete(client: Client, name: str, reference: str) -> None:
    assert client.delete(f"/v2/{name}/manifests/{reference}").status_code == 202


@pytest.mark.usefixtures("each_blob_store")
def test_deleting_an_image_then_collecting_frees_exactly_its_own_layers(
    client: Client, push_image: PushImage, disk: Callable[[], int]
) -> None:
    kept = push_image("team/app", tag="stable", layers=[b"shared base layer", b"stable only"])
    doomed = push_image("team/app", tag="old", layers=[b"shared base layer", b"old only, 1"], config=b'{"v": 1}')
    promised = plan_deletion("team/app", digests=[doomed.digest]).bytes_freed
    before = disk()

    delete(client, "team/app", doomed.digest)
    report = collect_garbage(NO_GRACE)

    assert report.bytes_freed == promised == before - disk()
    assert report.blobs_deleted == 2  # its own layer and its config
    assert not blobstore.store().blob_exists(Digest.parse(doomed.layer_digests[1]))
    for digest in [kept.config_digest, *kept.layer_digests]:
        assert blobstore.store().blob_exists(Digest.parse(digest))
    assert client.get("/v2/team/app/manifests/stable", HTTP_ACCEPT="*/*").status_code == 200
    assert client.get(f"/v2/team/app/blobs/{kept.layer_digests[0]}").status_code == 200


def test_a_blob_shared_with_another_repository_survives_until_both_images_go(
    client: Client, push_image: PushImage, storage_root: Path
) -> None:
    first = push_image("team/one", tag="v1", layers=[b"common"])
    second = push_image("team/two", tag="v1", layers=[b"common"])

    delete(client, "team/one", first.digest)
    collect_garbage(NO_GRACE)
    assert blob_file(storage_root, first.layer_digests[0]).exists()

    delete(client, "team/two", second.digest)
    collect_garbage(NO_GRACE)
    assert not blob_file(storage_root, first.layer_digests[0]).exists()
    assert not Blob.objects.filter(digest=first.layer_digests[0]).exists()


def test_untagging_alone_frees_nothing_where_untagged_images_are_kept(
    client: Client, push_image: PushImage, disk: Callable[[], int]
) -> None:
    push_image("team/app", tag="v1", layers=[b"kept while the manifest is"])
    assert plan_deletion("team/app", tags=["v1"]).bytes_freed == 0
    before = disk()

    delete(client, "team/app", "v1")
    report = collect_garbage(NO_GRACE)

    assert (report.bytes_freed, disk()) == (0, before)


@pytest.mark.usefixtures("each_blob_store")
def test_a_blob_pushed_but_never_used_goes_once_the_grace_window_has_passed(push_blob: PushBlob) -> None:
    digest = Digest.parse(push_blob("team/app", b"an abandoned layer"))

    assert collect_garbage(timedelta(hours=2)).blobs_deleted == 0
    assert blobstore.store().blob_exists(digest)

    report = collect_garbage(NO_GRACE)
    assert (report.links_deleted, report.blobs_deleted, report.bytes_freed) == (1, 1, len(b"an abandoned layer"))
    assert not blobstore.store().blob_exists(digest)


@pytest.mark.usefixtures("each_blob_store")
def test_a_dry_run_reports_what_the_real_run_then_does(
    client: Client, push_image: PushImage, push_blob: PushBlob, disk: Callable[[], int]
) -> None:
    image = push_image("team/app", tag="v1", layers=[b"a", b"b"])
    push_blob("team/app", b"never referenced")
    delete(client, "team/app", image.digest)
    before = disk()

    dry = collect_garbage(NO_GRACE, dry_run=True)
    assert disk() == before
    real = collect_garbage(NO_GRACE)

    assert dry.as_dict() | {"dry_run": False} == real.as_dict()
    assert real.blobs_deleted == 4


@contextmanager
def collector_running_elsewhere() -> Iterator[None]:
    """Another process's collector: the lock held on another database session (a thread's)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with exclusive("collect-garbage"):
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=10)


def test_two_collectors_never_run_at_once() -> None:
    with collector_running_elsewhere(), pytest.raises(AlreadyRunning):
        collect_garbage(NO_GRACE)


def test_a_job_that_meets_a_running_collector_fails_with_a_clear_message() -> None:
    job = Job.objects.create(kind=Job.Kind.GARBAGE_COLLECTION, parameters={"grace_seconds": 0})
    with collector_running_elsewhere():
        jobs.run_job(job.id)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "another garbage collection is running; try again later"


def test_running_a_finished_job_again_does_nothing(client: Client, push_image: PushImage) -> None:
    image = push_image("team/app", tag="v1")
    delete(client, "team/app", image.digest)
    job = Job.objects.create(kind=Job.Kind.GARBAGE_COLLECTION, parameters={"grace_seconds": 0})
    jobs.run_job(job.id)
    job.refresh_from_db()
    first = (job.state, job.result, job.finished_at)

    jobs.run_job(job.id)

    job.refresh_from_db()
    assert (job.state, job.result, job.finished_at) == first
    assert job.result["blobs_deleted"] == 2
    assert job.progress_done == job.progress_total


def test_files_a_killed_collector_left_in_the_trash_are_restored_or_removed(
    push_blob: PushBlob, storage_root: Path
) -> None:
    still_recorded = push_blob("team/app", b"row still there")
    orphan = Digest.of_bytes(b"row gone")
    blobstore.store().trash_blob(Digest.parse(still_recorded))
    trashed_orphan = blobstore.store().stage_blob([b"row gone"], orphan)
    blobstore.store().install_staged(trashed_orphan, orphan)
    blobstore.store().trash_blob(orphan)

    collect_garbage(timedelta(hours=2))

    assert blob_file(storage_root, still_recorded).exists()
    assert not blobstore.store().trashed_blobs()


def untagged_cleanup(project: str) -> None:
    RetentionPolicy.objects.create(project=Project.objects.get_or_create(name=project)[0], delete_untagged=True)


def push_index(push_image: PushImage, push_manifest: PushManifest, name: str, tag: str) -> tuple[str, list[str]]:
    children = [push_image(name, layers=[architecture.encode()]) for architecture in ("amd64", "arm64")]
    index = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX,
        "manifests": [
            {**descriptor(media_types.OCI_MANIFEST, child.content), "platform": {"os": "linux", "architecture": arch}}
            for child, arch in zip(children, ("amd64", "arm64"), strict=True)
        ],
    }
    pushed = push_manifest(name, index, media_types.OCI_INDEX, tag)
    return pushed.digest, [child.digest for child in children]


def test_untagged_cleanup_never_takes_the_children_of_a_tagged_index(
    push_image: PushImage, push_manifest: PushManifest
) -> None:
    untagged_cleanup("team")
    index, children = push_index(push_image, push_manifest, "team/multi", "v1")

    report = collect_garbage(NO_GRACE)

    assert report.manifests_deleted == 0
    assert set(Manifest.objects.values_list("digest", flat=True)) == {index, *children}


@pytest.mark.usefixtures("each_blob_store")
def test_the_children_go_with_the_index_when_its_tag_goes_and_untagged_images_are_cleaned(
    client: Client, push_image: PushImage, push_manifest: PushManifest, disk: Callable[[], int]
) -> None:
    untagged_cleanup("team")
    push_index(push_image, push_manifest, "team/multi", "v1")
    promised = plan_deletion("team/multi", tags=["v1"]).bytes_freed
    before = disk()

    delete(client, "team/multi", "v1")
    report = collect_garbage(NO_GRACE)

    assert not Manifest.objects.exists()
    assert report.bytes_freed == promised == before - disk() > 0


def test_a_referrer_stays_while_its_subject_is_kept(
    client: Client, push_image: PushImage, push_blob: PushBlob, push_manifest: PushManifest
) -> None:
    untagged_cleanup("team")
    subject = push_image("team/app", tag="v1")
    signature = push_image(
        "team/app",
        layers=[b"a signature"],
        artifactType="application/vnd.example.signature",
        subject=descriptor(media_types.OCI_MANIFEST, subject.content),
    )

    collect_garbage(NO_GRACE)
    assert Manifest.objects.filter(digest=signature.digest).exists()

    delete(client, "team/app", "v1")
    collect_garbage(NO_GRACE)
    assert not Manifest.objects.exists()
    referrers = client.get(f"/v2/team/app/referrers/{subject.digest}")
    assert json.loads(referrers.content)["manifests"] == []


def test_a_collection_finished_while_redis_is_down_is_a_succeeded_job(
    client: Client, push_image: PushImage, redis_link: TcpProxy
) -> None:
    """Recording the GC metrics needs Redis; a collection that freed its bytes still succeeded."""
    image = push_image("team/app", tag="v1")
    delete(client, "team/app", image.digest)
    job = Job.objects.create(kind=Job.Kind.GARBAGE_COLLECTION, parameters={"grace_seconds": 0})
    redis_link.cut()

    jobs.run_job(job.id)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["blobs_deleted"] > 0


def test_a_collection_right_after_a_deletion_says_the_promised_bytes_wait_for_the_grace_window(
    client: Client, push_image: PushImage, disk: Callable[[], int]
) -> None:
    push_image("team/app", tag="stable", layers=[b"shared base layer", b"stable only"])
    doomed = push_image("team/app", tag="old", layers=[b"shared base layer", b"old only, 1"], config=b'{"v": 1}')
    promised = plan_deletion("team/app", digests=[doomed.digest]).bytes_freed
    delete(client, "team/app", doomed.digest)
    before = disk()

    dry = collect_garbage(timedelta(hours=2), dry_run=True)
    within_grace = collect_garbage(timedelta(hours=2))

    assert (dry.bytes_freed, dry.bytes_waiting_for_grace) == (0, promised)
    assert (within_grace.bytes_freed, within_grace.bytes_waiting_for_grace) == (0, promised)
    assert disk() == before
    without_grace = collect_garbage(NO_GRACE)
    assert (without_grace.bytes_freed, without_grace.bytes_waiting_for_grace) == (promised, 0)
