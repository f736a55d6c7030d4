"""The race the collector must win: many pushes sharing layers with images being deleted, while
the collector runs in a loop. Afterwards every tag pulls and every blob a manifest needs is on
disk with the right bytes.

With a grace window of seconds every push goes through (one push takes well under that, even on a
loaded machine); the pushers go on until the window has passed twice, so the collector does take
the blobs of the images deleted behind them. With a grace shorter than a push the
collector takes some fresh blobs before their manifest comes, so most pushes are refused
(MANIFEST_BLOB_UNKNOWN) and some slip through — but none may half-succeed: that is the
locking under test."""

import hashlib
import json
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from oci import media_types
from oci.digests import Digest
from tests.conftest import basic_auth, descriptor, digest_of, manifest_bytes, path_of
from v2api.models import ManifestReference
from v2api.services.gc import collect_garbage
from v2api.storage import blobstore

PUSHERS = 4
ROUNDS = 20
SHARED_LAYER = b"a base layer every image shares" * 1000


def push_once(client: Client, name: str, tag: str, unique: bytes) -> str | None:
    """One docker-like push; the manifest digest, or None if the registry refused a step."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    for data in (config, SHARED_LAYER, unique):
        started = client.post(f"/v2/{name}/blobs/uploads/")
        if started.status_code != 202:
            return None
        finished = client.put(
            path_of(started["Location"]) + f"?digest={digest_of(data)}",
            data=data,
            content_type="application/octet-stream",
        )
        if finished.status_code != 201:
            return None
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", data) for data in (SHARED_LAYER, unique)],
    }
    response = client.put(
        f"/v2/{name}/manifests/{tag}", data=manifest_bytes(document), content_type=media_types.OCI_MANIFEST
    )
    if response.status_code == 400:
        assert json.loads(response.content)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
        return None
    assert response.status_code == 201, response.content
    return str(response["Docker-Content-Digest"])


def pusher(
    number: int, must_succeed: bool, minimum_seconds: float, failures: list[BaseException], refused: list[int]
) -> None:
    client = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    name = f"race/app-{number}"
    try:
        previous: str | None = None
        started = time.monotonic()
        round_number = -1
        while round_number + 1 < ROUNDS or time.monotonic() - started < minimum_seconds:
            round_number += 1
            unique = f"layer of pusher {number} round {round_number}".encode() * 500
            digest = push_once(client, name, f"round-{round_number}", unique)
            if digest is None:
                refused.append(number)
                assert not must_succeed, f"{name} round {round_number} was refused inside the grace window"
                continue
            if previous is not None:
                assert client.delete(f"/v2/{name}/manifests/{previous}").status_code == 202
            previous = digest
            time.sleep(0.05)
    except BaseException as error:
        failures.append(error)
    finally:
        connection.close()


def collector(grace: timedelta, stop: threading.Event, failures: list[BaseException], runs: list[int]) -> None:
    try:
        while not stop.is_set():
            runs.append(collect_garbage(grace).blobs_deleted)
            # Pauses of varying length, so that some pushes slip between two runs and some do not.
            time.sleep(random.uniform(0, 0.03))
    except BaseException as error:
        failures.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("grace_seconds", [3.0, 0.05], ids=["seconds of grace", "a grace shorter than a push"])
def test_pushes_racing_the_collector_never_leave_a_manifest_without_its_blobs(
    admin_user: object, grace_seconds: float
) -> None:
    failures: list[BaseException] = []
    refused: list[int] = []
    runs: list[int] = []
    stop = threading.Event()
    grace = timedelta(seconds=grace_seconds)
    collecting = threading.Thread(target=collector, args=(grace, stop, failures, runs))
    pushing = [
        threading.Thread(target=pusher, args=(number, grace_seconds >= 1, 2 * grace_seconds + 1, failures, refused))
        for number in range(PUSHERS)
    ]
    collecting.start()
    for thread in pushing:
        thread.start()
    for thread in pushing:
        thread.join(timeout=300)
    stop.set()
    collecting.join(timeout=60)

    assert not failures, failures
    assert sum(runs) > 0  # the collector really deleted while pushes went on
    client = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    for number in range(PUSHERS):
        name = f"race/app-{number}"
        for tag in client.get(f"/v2/{name}/tags/list").json()["tags"]:
            manifest = client.get(f"/v2/{name}/manifests/{tag}", HTTP_ACCEPT="*/*")
            document = json.loads(manifest.content)
            for blob in [document["config"], *document["layers"]]:
                response = client.get(f"/v2/{name}/blobs/{blob['digest']}")
                assert response.status_code == 200, (name, tag, blob["digest"])
                body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
                assert "sha256:" + hashlib.sha256(body).hexdigest() == blob["digest"]
    if grace_seconds >= 1:
        assert not refused
    # And nowhere a reference to a blob that is gone, from the database or from the disk.
    for reference in ManifestReference.objects.filter(blob__isnull=False).select_related("blob"):
        assert reference.blob is not None
        assert blobstore.store().blob_exists(Digest.parse(reference.blob.digest))
