"""Blob downloads handed to nginx (REGISTRY_ACCEL_REDIRECT_PREFIX): the application sends no bytes."""

import pytest
from django.test import Client

from tests.conftest import PushBlob

pytestmark = pytest.mark.django_db

DATA = b"0123456789" * 100
PREFIX = "/_blob_store"


@pytest.fixture(autouse=True)
def accel_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_ACCEL_REDIRECT_PREFIX = PREFIX


def test_a_blob_get_answers_the_path_under_the_storage_root_and_no_body(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)
    hex_digest = digest.split(":")[1]

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"{PREFIX}/layout-v1/blobs/sha256/{hex_digest[:2]}/{hex_digest}"
    assert response["Docker-Content-Digest"] == digest
    assert response.content == b""
    # The byte count is for the metrics; it never leaves the application.
    assert not response.has_header("X-Registry-Proxied-Bytes")


def test_a_range_is_handed_over_too_and_an_unsatisfiable_one_answered_here(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    ranged = client.get(f"/v2/{repository_name}/blobs/{digest}", HTTP_RANGE="bytes=10-19")
    unsatisfiable = client.get(f"/v2/{repository_name}/blobs/{digest}", HTTP_RANGE=f"bytes={len(DATA)}-")

    assert ranged.has_header("X-Accel-Redirect")
    assert unsatisfiable.status_code == 416
    assert unsatisfiable["Content-Range"] == f"bytes */{len(DATA)}"
    assert not unsatisfiable.has_header("X-Accel-Redirect")


def test_head_and_unknown_blobs_are_answered_by_the_application(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    head = client.head(f"/v2/{repository_name}/blobs/{digest}")
    unknown = client.get(f"/v2/{repository_name}/blobs/sha256:{'0' * 64}")

    assert head.status_code == 200 and not head.has_header("X-Accel-Redirect")
    assert unknown.status_code == 404 and not unknown.has_header("X-Accel-Redirect")


def test_a_blob_whose_file_is_gone_is_blob_unknown_not_a_redirect_to_nothing(
    client: Client, repository_name: str, push_blob: PushBlob, storage_root
) -> None:  # type: ignore[no-untyped-def]
    digest = push_blob(repository_name, DATA)
    hex_digest = digest.split(":")[1]
    (storage_root / "layout-v1" / "blobs" / "sha256" / hex_digest[:2] / hex_digest).unlink()

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 404
    assert not response.has_header("X-Accel-Redirect")
