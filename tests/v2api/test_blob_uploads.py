"""end-4a, end-4b, end-5, end-6, end-11, end-13 and cancelling: pushing blob bytes."""

import io
import uuid
from pathlib import Path

import pytest
from django.test import Client

from oci.digests import Digest
from tests.conftest import PushBlob, digest_of, error_codes, path_of
from v2api.storage import paths

pytestmark = pytest.mark.django_db

DATA = b"0123456789abcdef"


def start_upload(client: Client, name: str) -> str:
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status_code == 202
    return path_of(response["Location"])


def patch(client: Client, upload: str, data: bytes, content_range: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Content-Range": content_range} if content_range is not None else {}
    return client.patch(upload, data=data, content_type="application/octet-stream", headers=headers)


def finish(client: Client, upload: str, digest: str, data: bytes = b""):  # type: ignore[no-untyped-def]
    return client.put(f"{upload}?digest={digest}", data=data, content_type="application/octet-stream")


def upload_dirs(storage_root: Path) -> list[Path]:
    uploads = paths.layout_root(storage_root) / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


# end-4a: POST opens an upload


def test_starting_an_upload_answers_202_with_an_absolute_location(client: Client, repository_name: str) -> None:
    response = client.post(f"/v2/{repository_name}/blobs/uploads/")

    assert response.status_code == 202
    upload_id = response["Docker-Upload-UUID"]
    assert response["Location"] == f"http://testserver/v2/{repository_name}/blobs/uploads/{upload_id}"
    assert response["Range"] == "0-0"
    assert response["Content-Length"] == "0"


def test_starting_an_upload_works_without_the_trailing_slash(client: Client, repository_name: str) -> None:
    response = client.post(f"/v2/{repository_name}/blobs/uploads")

    assert response.status_code == 202
    assert "Docker-Upload-UUID" in response


def test_the_location_uses_the_public_url_when_one_is_configured(
    client: Client, repository_name: str, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_PUBLIC_URL = "https://registry.example.com"

    response = client.post(f"/v2/{repository_name}/blobs/uploads/")

    assert response["Location"].startswith(f"https://registry.example.com/v2/{repository_name}/blobs/uploads/")


# end-4b: POST ?digest= carries the whole blob


def test_a_monolithic_post_with_digest_answers_201_with_the_blob_location(client: Client, repository_name: str) -> None:
    digest = digest_of(DATA)

    response = client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest={digest}", data=DATA, content_type="application/octet-stream"
    )

    assert response.status_code == 201
    assert response["Location"] == f"http://testserver/v2/{repository_name}/blobs/{digest}"
    assert response["Docker-Content-Digest"] == digest


def test_a_monolithic_post_stores_the_blob_at_its_layout_path_and_stages_nothing(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    digest = digest_of(DATA)

    client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest={digest}", data=DATA, content_type="application/octet-stream"
    )

    assert paths.blob_path(storage_root, Digest.parse(digest)).read_bytes() == DATA
    assert list(paths.staging_dir(storage_root).iterdir()) == []
    assert upload_dirs(storage_root) == []


def test_a_blob_from_a_single_request_is_readable_by_the_web_server_like_any_other(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    """nginx serves blobs (X-Accel-Redirect) as another user: they must not stay 0600 as staged."""
    digest = digest_of(DATA)

    client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest={digest}", data=DATA, content_type="application/octet-stream"
    )

    assert paths.blob_path(storage_root, Digest.parse(digest)).stat().st_mode & 0o777 == 0o644


def test_a_monolithic_post_with_the_wrong_digest_is_digest_invalid_and_keeps_nothing(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    wrong = digest_of(b"something else")

    response = client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest={wrong}", data=DATA, content_type="application/octet-stream"
    )

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]
    assert client.head(f"/v2/{repository_name}/blobs/{wrong}").status_code == 404
    assert list(paths.staging_dir(storage_root).iterdir()) == []


def test_a_monolithic_post_with_a_sha512_digest_is_stored_under_sha512(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    digest = digest_of(DATA, "sha512")

    response = client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest={digest}", data=DATA, content_type="application/octet-stream"
    )

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert paths.blob_path(storage_root, Digest.parse(digest)).read_bytes() == DATA


def test_a_monolithic_post_with_an_unsupported_algorithm_is_digest_invalid(
    client: Client, repository_name: str
) -> None:
    response = client.post(
        f"/v2/{repository_name}/blobs/uploads/?digest=md5:{'a' * 32}",
        data=DATA,
        content_type="application/octet-stream",
    )

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


# end-5: PATCH a chunk


def test_a_patch_without_content_range_appends_and_answers_202_with_the_range(
    client: Client, repository_name: str
) -> None:
    upload = start_upload(client, repository_name)

    response = patch(client, upload, DATA)

    assert response.status_code == 202
    assert response["Range"] == f"0-{len(DATA) - 1}"
    assert path_of(response["Location"]) == upload
    assert upload.endswith(response["Docker-Upload-UUID"])
    assert response["Content-Length"] == "0"


def test_chunks_with_a_bytes_unit_in_content_range_are_appended_in_order(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    patch(client, upload, DATA[:6], "bytes 0-5")
    response = patch(client, upload, DATA[6:], f"bytes 6-{len(DATA) - 1}")

    assert response.status_code == 202
    assert response["Range"] == f"0-{len(DATA) - 1}"


def test_chunks_with_a_content_range_without_unit_are_appended_in_order(client: Client, repository_name: str) -> None:
    # oras sends `Content-Range: 0-1048575`, as the distribution spec writes it.
    upload = start_upload(client, repository_name)

    patch(client, upload, DATA[:6], "0-5")
    response = patch(client, upload, DATA[6:], f"6-{len(DATA) - 1}")

    assert response.status_code == 202
    assert response["Range"] == f"0-{len(DATA) - 1}"


def test_it_rejects_a_chunk_out_of_order_with_416_and_the_current_range(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA[:6], "0-5")

    response = patch(client, upload, DATA[8:], f"8-{len(DATA) - 1}")

    assert response.status_code == 416
    assert error_codes(response) == ["BLOB_UPLOAD_INVALID"]
    assert response["Range"] == "0-5"
    assert path_of(response["Location"]) == upload


def test_a_chunk_out_of_order_leaves_the_upload_as_it_was(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA[:6], "0-5")
    patch(client, upload, DATA[:6], "0-5")

    response = client.get(upload)

    assert response["Range"] == "0-5"


def test_a_content_range_that_is_not_start_end_is_blob_upload_invalid(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    response = patch(client, upload, DATA, "bytes=0-15")

    assert response.status_code == 400
    assert error_codes(response) == ["BLOB_UPLOAD_INVALID"]


def test_a_closing_put_whose_chunk_does_not_continue_the_upload_is_416_and_changes_nothing(
    client: Client, repository_name: str
) -> None:
    # OCI conformance (distribution-spec main): the last chunk sent with the closing PUT says
    # with its Content-Range where it starts; out of order, 416 as for a PATCH, not 400.
    content = DATA * 4
    upload = start_upload(client, repository_name)
    patch(client, upload, content[:10])

    response = client.put(
        path_of(upload) + f"?digest={digest_of(content)}",
        data=content[20:],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"20-{len(content) - 1}",
    )

    assert response.status_code == 416, response.content
    assert error_codes(response) == ["BLOB_UPLOAD_INVALID"]
    assert response["Range"] == "0-9"
    assert client.get(upload)["Range"] == "0-9"
    finished = client.put(
        path_of(upload) + f"?digest={digest_of(content)}",
        data=content[10:],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"10-{len(content) - 1}",
    )
    assert finished.status_code == 201


def test_a_content_range_that_ends_before_it_starts_is_416(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    response = patch(client, upload, DATA, "5-2")

    assert response.status_code == 416
    assert error_codes(response) == ["BLOB_UPLOAD_INVALID"]


def test_a_chunked_transfer_body_without_content_length_is_read_to_its_end(
    client: Client, repository_name: str
) -> None:
    # podman and docker send PATCH bodies chunked, without Content-Length; gunicorn hands the
    # view the de-chunked stream as wsgi.input, which this imitates.
    upload = start_upload(client, repository_name)

    response = client.patch(
        upload,
        data=b"",
        content_type="application/octet-stream",
        headers={"Transfer-Encoding": "chunked"},
        **{"wsgi.input": io.BytesIO(DATA)},
    )

    assert response.status_code == 202
    assert response["Range"] == f"0-{len(DATA) - 1}"


def test_a_patch_to_an_unknown_upload_is_blob_upload_unknown(client: Client, repository_name: str) -> None:
    response = patch(client, f"/v2/{repository_name}/blobs/uploads/{uuid.uuid4()}", DATA)

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


# end-13: GET an upload's status


def test_the_status_of_an_upload_is_204_with_its_range(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)

    response = client.get(upload)

    assert response.status_code == 204
    assert response["Range"] == f"0-{len(DATA) - 1}"
    assert path_of(response["Location"]) == upload
    assert upload.endswith(response["Docker-Upload-UUID"])


def test_the_status_of_an_unknown_upload_is_blob_upload_unknown(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/blobs/uploads/{uuid.uuid4()}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_an_upload_id_that_is_not_a_uuid_is_blob_upload_unknown(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/blobs/uploads/not-a-uuid")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_an_upload_is_unknown_in_another_repository(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    upload_id = upload.rsplit("/", 1)[1]

    response = client.get(f"/v2/library/other/blobs/uploads/{upload_id}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


# end-6: PUT ?digest= finishes an upload


def test_finishing_an_upload_without_a_body_answers_201_with_the_blob_location(
    client: Client, repository_name: str
) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    digest = digest_of(DATA)

    response = finish(client, upload, digest)

    assert response.status_code == 201
    assert response["Location"] == f"http://testserver/v2/{repository_name}/blobs/{digest}"
    assert response["Docker-Content-Digest"] == digest


def test_finishing_an_upload_with_a_final_chunk_stores_every_byte(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA[:6])
    digest = digest_of(DATA)

    response = finish(client, upload, digest, DATA[6:])

    assert response.status_code == 201
    assert client.get(f"/v2/{repository_name}/blobs/{digest}").getvalue() == DATA


def test_a_single_put_with_the_whole_body_finishes_an_empty_upload(client: Client, repository_name: str) -> None:
    # oras and dxf: POST, then PUT ?digest= carrying the whole blob.
    upload = start_upload(client, repository_name)
    digest = digest_of(DATA)

    response = finish(client, upload, digest, DATA)

    assert response.status_code == 201
    assert client.head(f"/v2/{repository_name}/blobs/{digest}")["Content-Length"] == str(len(DATA))


def test_a_finished_upload_is_at_its_layout_path_and_leaves_no_upload_directory(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    digest = digest_of(DATA)

    finish(client, upload, digest)

    assert paths.blob_path(storage_root, Digest.parse(digest)).read_bytes() == DATA
    assert upload_dirs(storage_root) == []


def test_a_finished_upload_is_no_longer_known(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    finish(client, upload, digest_of(DATA), DATA)

    response = client.get(upload)

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


def test_finishing_with_a_sha512_digest_stores_the_blob_under_sha512(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    digest = digest_of(DATA, "sha512")

    response = finish(client, upload, digest)

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert paths.blob_path(storage_root, Digest.parse(digest)).read_bytes() == DATA


def test_finishing_without_a_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    response = client.put(upload, data=DATA, content_type="application/octet-stream")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_finishing_with_a_malformed_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    response = finish(client, upload, "sha256:1234", DATA)

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_finishing_with_the_wrong_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)

    response = finish(client, upload, digest_of(b"other bytes"))

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_an_upload_survives_a_digest_mismatch_so_the_client_can_retry(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    finish(client, upload, digest_of(b"other bytes"))

    response = finish(client, upload, digest_of(DATA))

    assert response.status_code == 201


def test_a_digest_mismatch_with_a_final_chunk_leaves_the_upload_as_it_was(client: Client, repository_name: str) -> None:
    # A failed request leaves no trace: the client may resend the same final chunk.
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA[:6])
    finish(client, upload, digest_of(b"other bytes"), DATA[6:])

    response = finish(client, upload, digest_of(DATA), DATA[6:])

    assert response.status_code == 201


def test_pushing_the_same_bytes_twice_is_harmless(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    push_blob(repository_name, DATA)

    digest = push_blob(repository_name, DATA)

    assert client.get(f"/v2/{repository_name}/blobs/{digest}").getvalue() == DATA


# DELETE an upload (Docker Registry API v2)


def test_cancelling_an_upload_answers_204(client: Client, repository_name: str) -> None:
    upload = start_upload(client, repository_name)

    response = client.delete(upload)

    assert response.status_code == 204


def test_a_cancelled_upload_is_unknown_and_its_bytes_are_gone(
    client: Client, repository_name: str, storage_root: Path
) -> None:
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    client.delete(upload)

    response = client.get(upload)

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]
    assert upload_dirs(storage_root) == []


@pytest.mark.parametrize("alias", ["urn:uuid:{}", "{{{}}}", "{}"], ids=["urn", "braces", "uppercase"])
def test_cancelling_an_upload_through_an_alias_of_its_id_drops_its_bytes(
    client: Client, repository_name: str, storage_root: Path, alias: str
) -> None:
    # Issue 12: `urn:uuid:<id>` names the same upload (uuid.UUID reads it), so the row went, but
    # the bytes were looked for under the alias and stayed on disk.
    upload = start_upload(client, repository_name)
    patch(client, upload, DATA)
    upload_id = upload.rsplit("/", 1)[1]

    response = client.delete(upload.replace(upload_id, alias.format(upload_id.upper() if alias == "{}" else upload_id)))

    assert response.status_code == 204
    assert client.get(upload).status_code == 404
    assert upload_dirs(storage_root) == []


def test_cancelling_an_unknown_upload_is_blob_upload_unknown(client: Client, repository_name: str) -> None:
    response = client.delete(f"/v2/{repository_name}/blobs/uploads/{uuid.uuid4()}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


# end-11: cross-repository mount


def test_a_mount_from_a_repository_that_has_the_blob_answers_201(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob("library/source", DATA)

    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest}&from=library/source")

    assert response.status_code == 201
    assert response["Location"] == f"http://testserver/v2/{repository_name}/blobs/{digest}"
    assert response["Docker-Content-Digest"] == digest


def test_a_mounted_blob_is_served_by_the_target_repository(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob("library/source", DATA)
    client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest}&from=library/source")

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 200
    assert response.getvalue() == DATA


def test_a_mount_without_from_answers_201_when_any_repository_has_the_blob(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob("library/source", DATA)

    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest}")

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest


def test_a_mount_without_from_of_an_unknown_blob_starts_an_upload(client: Client, repository_name: str) -> None:
    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest_of(DATA)}")

    assert response.status_code == 202
    assert "/blobs/uploads/" in response["Location"]


def test_a_mount_from_a_repository_without_the_blob_starts_an_upload(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob("library/elsewhere", DATA)
    client.post("/v2/library/source/blobs/uploads/")

    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest}&from=library/source")

    assert response.status_code == 202
    assert client.head(f"/v2/{repository_name}/blobs/{digest}").status_code == 404


def test_the_upload_a_failed_mount_starts_can_be_finished(client: Client, repository_name: str) -> None:
    digest = digest_of(DATA)
    started = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest}&from=library/source")

    response = finish(client, path_of(started["Location"]), digest, DATA)

    assert response.status_code == 201
    assert client.head(f"/v2/{repository_name}/blobs/{digest}").status_code == 200


def test_a_mount_from_a_bad_repository_name_is_name_invalid(client: Client, repository_name: str) -> None:
    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount={digest_of(DATA)}&from=Bad_Name")

    assert response.status_code == 400
    assert error_codes(response) == ["NAME_INVALID"]


def test_a_mount_of_a_malformed_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    response = client.post(f"/v2/{repository_name}/blobs/uploads/?mount=sha256:nothex&from=library/source")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]
