"""Restores racing the collector at the end of their windows: a deletion restored just before it
expires must come back whole, with every blob on disk, while a collection that starts just after
frees what the expired ones kept. Either the restore wins and the images pull, or the collector
wins and the deletion is gone; never a restored manifest whose blob was freed under it."""

import hashlib
import json
import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from oci.digests import Digest
from tests.conftest import PushImage, basic_auth
from v2api.models import ManifestReference, RecycledDeletion
from v2api.services import recycle_bin
from v2api.services.deletion import execute_deletion
from v2api.services.gc import collect_garbage
from v2api.services.recycle_bin import restore
from v2api.storage import blobstore

IMAGES = 12
SHARED_LAYER = b"a base layer every image shares" * 500


def collector(stop: threading.Event, failures: list[BaseException], runs: list[int]) -> None:
    try:
        while not stop.is_set():
            runs.append(collect_garbage(timedelta(0)).recycled_deletions_expired)
            time.sleep(random.uniform(0, 0.02))
    except BaseException as error:
        failures.append(error)
    finally:
        connection.close()


def restorer(deletions: list[RecycledDeletion], failures: list[BaseException], restored: list[int]) -> None:
    try:
        project = Project.objects.get(name="race")
        for deletion in deletions:
            # Around the end of its window, so that some restores come before it and some after.
            moment = deletion.expires_at.timestamp() + random.uniform(-0.15, 0.15)
            time.sleep(max(0.0, moment - time.time()))
            try:
                restore(project, deletion.id)
            except RecycledDeletion.DoesNotExist:
                continue
            restored.append(deletion.id)
    except BaseException as error:
        failures.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_restores_racing_the_collector_at_the_window_s_end_never_lose_a_blob(
    admin_user: object, push_image: PushImage, settings: Any
) -> None:
    settings.REGISTRY_RECYCLE_SECONDS = 3600
    digests = []
    for number in range(IMAGES):
        image = push_image(f"race/app-{number % 3}", tag=f"v{number}", layers=[SHARED_LAYER, b"own %d" % number * 300])
        digests.append((f"race/app-{number % 3}", f"v{number}", image.digest))
    for name, _, digest in digests:
        execute_deletion(name, digests=[digest])
    # Windows ending one after the other, so that each restore meets the collector on its own.
    start = timezone.now() + timedelta(seconds=1)
    for number, deletion_id in enumerate(RecycledDeletion.objects.order_by("id").values_list("id", flat=True)):
        RecycledDeletion.objects.filter(id=deletion_id).update(expires_at=start + timedelta(seconds=0.3 * number))
    deletions = list(RecycledDeletion.objects.order_by("expires_at"))
    failures: list[BaseException] = []
    runs: list[int] = []
    restored: list[int] = []
    stop = threading.Event()
    collecting = threading.Thread(target=collector, args=(stop, failures, runs))
    restoring = threading.Thread(target=restorer, args=(deletions, failures, restored))
    collecting.start()
    restoring.start()
    restoring.join(timeout=120)
    stop.set()
    collecting.join(timeout=60)

    assert not failures, failures
    # Both sides won some: restores before the end of a window, the collector after.
    assert restored and sum(runs) > 0, (restored, runs)
    last = collect_garbage(timedelta(0))
    assert len(restored) + sum(runs) + last.recycled_deletions_expired == IMAGES
    client = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    for name, tag, digest in digests:
        manifest = client.get(f"/v2/{name}/manifests/{tag}", HTTP_ACCEPT="*/*")
        if manifest.status_code == 404:
            continue
        assert manifest["Docker-Content-Digest"] == digest
        document = json.loads(manifest.content)
        for blob in [document["config"], *document["layers"]]:
            response = client.get(f"/v2/{name}/blobs/{blob['digest']}")
            assert response.status_code == 200, (name, tag, blob["digest"])
            body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
            assert "sha256:" + hashlib.sha256(body).hexdigest() == blob["digest"]
    pulled = sum(client.get(f"/v2/{name}/manifests/{tag}").status_code == 200 for name, tag, _ in digests)
    assert pulled == len(restored)
    for reference in ManifestReference.objects.filter(blob__isnull=False).select_related("blob"):
        assert reference.blob is not None
        assert blobstore.store().blob_exists(Digest.parse(reference.blob.digest))


@pytest.mark.django_db(transaction=True)
def test_a_collection_that_starts_as_a_restore_s_window_ends_waits_for_the_restore(
    admin_user: object, push_image: PushImage, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore has locked its deletion, before the window ended, and is storing the manifests
    again; the collection, started just after, finds it expired. It must wait for the restore's
    answer, not take the deletion's rows from under it (a deadlock: one of the two failed)."""
    settings.REGISTRY_RECYCLE_SECONDS = 3600
    image = push_image("race/app", tag="v1", layers=[b"a layer" * 100])
    execute_deletion("race/app", digests=[image.digest])
    deletion = RecycledDeletion.objects.get()
    storing = threading.Event()
    go_on = threading.Event()
    store_again = recycle_bin.restore_manifest

    def paused_store(*arguments: Any) -> Any:
        storing.set()
        go_on.wait(timeout=30)
        return store_again(*arguments)

    monkeypatch.setattr(recycle_bin, "restore_manifest", paused_store)
    failures: list[BaseException] = []
    restored: list[int] = []
    reports: list[int] = []

    def collect() -> None:
        try:
            reports.append(collect_garbage(timedelta(0)).recycled_deletions_expired)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def restore_it() -> None:
        try:
            restored.append(len(restore(Project.objects.get(name="race"), deletion.id).manifests))
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    restoring = threading.Thread(target=restore_it)
    # The restore starts just inside the window; the collection just after it.
    RecycledDeletion.objects.filter(id=deletion.id).update(expires_at=timezone.now() + timedelta(seconds=0.5))
    deletion.refresh_from_db()
    restoring.start()
    assert storing.wait(timeout=30)
    time.sleep(max(0.0, deletion.expires_at.timestamp() - time.time()) + 0.1)
    collecting = threading.Thread(target=collect)
    collecting.start()
    time.sleep(0.5)
    go_on.set()
    restoring.join(timeout=30)
    collecting.join(timeout=30)

    assert not failures, failures
    assert (restored, reports) == ([1], [0])
    client = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    assert client.get("/v2/race/app/manifests/v1")["Docker-Content-Digest"] == image.digest
    assert client.get(f"/v2/race/app/blobs/{image.layer_digests[0]}").status_code == 200
