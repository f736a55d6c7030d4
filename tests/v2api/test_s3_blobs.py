"""The blob API with REGISTRY_STORAGE=s3 on a real SeaweedFS: what the bucket holds after each kind of
push, cancel and purge, streamed and redirected pulls, and HEAD answered without the bucket."""

import os
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from oci.digests import Digest
from tests.conftest import S3Storage, digest_of, error_codes, path_of
from tests.tcp_proxy import tcp_proxy
from v2api.errors import DATABASE_RETRY_AFTER_SECONDS
from v2api.services.gc import collect_garbage
from v2api.services.uploads import purge_stale_uploads
from v2api.storage import blobstore

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3_storage")]

MIB = 1024 * 1024


def blob_key(digest: str) -> str:
    parsed = Digest.parse(digest)
    return f"layout-v1/blobs/{parsed.algorithm}/{parsed.hex[:2]}/{parsed.hex}"


def start_upload(client: Client, name: str = "team/app") -> str:
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status_code == 202
    return path_of(response["Location"])


def patch(client: Client, upload: str, data: bytes, first: int | None = None):  # type: ignore[no-untyped-def]
    # oras writes the range without the `bytes ` unit.
    headers = {"Content-Range": f"{first}-{first + len(data) - 1}"} if first is not None else {}
    return client.patch(upload, data=data, content_type="application/octet-stream", headers=headers)


def forget_running_hashes() -> None:
    """What another web node sees: the bucket and the database, none of this process's memory."""
    blobstore._stores.clear()


def test_a_chunked_push_in_1_mib_chunks_leaves_only_the_blob_in_the_bucket(
    client: Client, s3_storage: S3Storage
) -> None:
    content = os.urandom(7 * MIB + 123)
    upload = start_upload(client)
    for first in range(0, len(content), MIB):
        response = patch(client, upload, content[first : first + MIB], first)
        assert response.status_code == 202
        assert response["Range"] == f"0-{min(first + MIB, len(content)) - 1}"

    digest = digest_of(content)
    response = client.put(f"{upload}?digest={digest}")

    assert response.status_code == 201
    assert s3_storage.objects() == {blob_key(digest): len(content)}
    assert s3_storage.multipart_uploads() == []
    assert client.get(f"/v2/team/app/blobs/{digest}").getvalue() == content


def test_a_push_finished_on_another_node_is_hashed_from_the_bucket(client: Client, s3_storage: S3Storage) -> None:
    content = os.urandom(6 * MIB + 5)
    upload = start_upload(client)
    assert patch(client, upload, content[: 6 * MIB]).status_code == 202
    forget_running_hashes()
    assert patch(client, upload, content[6 * MIB :]).status_code == 202
    forget_running_hashes()

    wrong = client.put(f"{upload}?digest={digest_of(b'other bytes')}")
    assert wrong.status_code == 400
    assert error_codes(wrong) == ["DIGEST_INVALID"]
    response = client.put(f"{upload}?digest={digest_of(content)}")

    assert response.status_code == 201
    assert s3_storage.objects() == {blob_key(digest_of(content)): len(content)}


def test_a_monolithic_push_with_the_wrong_digest_leaves_nothing(client: Client, s3_storage: S3Storage) -> None:
    response = client.post(
        f"/v2/team/app/blobs/uploads/?digest={digest_of(b'expected')}",
        data=os.urandom(6 * MIB),
        content_type="application/octet-stream",
    )

    assert response.status_code == 400
    assert s3_storage.objects(under="layout-v1/blobs/") == {}
    assert s3_storage.multipart_uploads() == []


def test_a_cancelled_upload_leaves_nothing_in_the_bucket(client: Client, s3_storage: S3Storage) -> None:
    upload = start_upload(client)
    patch(client, upload, os.urandom(6 * MIB))
    patch(client, upload, b"tail")
    assert s3_storage.multipart_uploads() != []

    assert client.delete(upload).status_code == 204

    assert s3_storage.objects() == {}
    assert s3_storage.multipart_uploads() == []


def test_the_purge_aborts_abandoned_multipart_uploads(client: Client, s3_storage: S3Storage) -> None:
    upload = start_upload(client)
    patch(client, upload, os.urandom(6 * MIB))
    # What a single-request push killed half way leaves: a multipart upload to a blob's key.
    s3 = s3_storage.server.client()
    key = f"{s3_storage.prefix}/{blob_key(digest_of(b'never finished'))}"
    killed = s3.create_multipart_upload(Bucket=s3_storage.bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=s3_storage.bucket, Key=key, UploadId=killed, PartNumber=1, Body=b"k" * 100)

    purged = purge_stale_uploads(timedelta(0))

    assert purged["uploads_deleted"] == 1
    assert purged["bytes_freed"] >= 6 * MIB + 100
    assert s3_storage.objects() == {}
    assert s3_storage.multipart_uploads() == []


def test_a_range_is_streamed_from_the_bucket(client: Client, push_blob) -> None:  # type: ignore[no-untyped-def]
    content = os.urandom(3 * MIB)
    digest = push_blob("team/app", content)

    response = client.get(f"/v2/team/app/blobs/{digest}", HTTP_RANGE="bytes=1048576-1048585")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 1048576-1048585/{len(content)}"
    assert response.getvalue() == content[MIB : MIB + 10]


def test_with_redirects_a_get_answers_307_to_a_short_lived_url_of_the_bucket(
    client: Client,
    push_blob,  # type: ignore[no-untyped-def]
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.REGISTRY_S3_REDIRECT = True
    content = os.urandom(100_000)
    digest = push_blob("team/app", content)

    response = client.get(f"/v2/team/app/blobs/{digest}")

    assert response.status_code == 307
    assert response["Docker-Content-Digest"] == digest
    assert f"X-Amz-Expires={settings.REGISTRY_S3_REDIRECT_SECONDS}" in response["Location"]
    assert requests.get(response["Location"], timeout=10).content == content
    ranged = requests.get(response["Location"], headers={"Range": "bytes=10-19"}, timeout=10)
    assert (ranged.status_code, ranged.content) == (206, content[10:20])


def test_redirects_name_the_endpoint_clients_reach_the_bucket_at(
    client: Client,
    push_blob,  # type: ignore[no-untyped-def]
    s3_storage: S3Storage,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """The registry reaches the bucket on one address, clients on another (here a TCP proxy)."""
    content = os.urandom(50_000)
    digest = push_blob("team/app", content)
    inner = urlsplit(s3_storage.server.endpoint)
    with tcp_proxy(inner.hostname or "127.0.0.1", inner.port or 80) as public:
        settings.REGISTRY_S3_REDIRECT = True
        settings.REGISTRY_S3_REDIRECT_ENDPOINT = f"http://127.0.0.1:{public.port}"

        response = client.get(f"/v2/team/app/blobs/{digest}")

        assert response.status_code == 307
        assert response["Location"].startswith(f"http://127.0.0.1:{public.port}/")
        assert requests.get(response["Location"], timeout=10).content == content


def test_head_is_answered_from_the_database_and_a_lost_object_is_a_404_not_a_500(
    client: Client,
    push_blob,  # type: ignore[no-untyped-def]
    s3_storage: S3Storage,
) -> None:
    digest = push_blob("team/app", b"config bytes")
    s3_storage.server.client().delete_object(Bucket=s3_storage.bucket, Key=f"{s3_storage.prefix}/{blob_key(digest)}")

    head = client.head(f"/v2/team/app/blobs/{digest}")
    get = client.get(f"/v2/team/app/blobs/{digest}")

    assert (head.status_code, head["Content-Length"]) == (200, str(len(b"config bytes")))
    assert get.status_code == 404
    assert error_codes(get) == ["BLOB_UNKNOWN"]


def test_ready_checks_the_bucket(anonymous_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    assert anonymous_client.get("/health/ready").json()["checks"]["storage"] == "ok"

    settings.REGISTRY_S3_BUCKET = "no-such-bucket"
    response = anonymous_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("failed")


def test_an_upload_in_progress_lives_under_the_prefix_next_to_nothing_else(s3_storage: S3Storage) -> None:
    blobstore.store().create_upload("in-progress")

    assert list(s3_storage.server.objects(s3_storage.bucket, s3_storage.prefix)) == [
        f"{s3_storage.prefix}/layout-v1/uploads/in-progress/state"
    ]


def test_the_collector_sweeps_keys_no_row_names_once_past_the_grace_window(s3_storage: S3Storage) -> None:
    content = b"left by a push that lost its database"
    orphan = digest_of(content)
    key = f"{s3_storage.prefix}/{blob_key(orphan)}"
    s3_storage.server.client().put_object(Bucket=s3_storage.bucket, Key=key, Body=content)

    assert collect_garbage(timedelta(hours=2)).files_without_row_deleted == 0
    assert s3_storage.objects() == {blob_key(orphan): len(content)}
    report = collect_garbage(timedelta(0))

    assert (report.files_without_row_deleted, report.bytes_freed) == (1, len(content))
    assert s3_storage.objects() == {}


def test_while_the_bucket_is_unreachable_pushes_and_pulls_answer_503_with_retry_after(
    client: Client,
    push_blob,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = push_blob("team/app", b"pushed while the bucket answered")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed.getsockname()[1]}")
    forget_running_hashes()

    started = client.post("/v2/team/app/blobs/uploads/")
    pulled = client.get(f"/v2/team/app/blobs/{digest}")

    for response in (started, pulled):
        assert (response.status_code, error_codes(response)) == (503, ["UNAVAILABLE"])
        assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    # HEAD asks only the database.
    assert client.head(f"/v2/team/app/blobs/{digest}").status_code == 200
