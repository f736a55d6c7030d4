"""end-2 and end-10: reading and deleting blobs."""

import pytest
from django.test import Client

from oci.digests import Digest
from tests.conftest import PushBlob, digest_of, error_codes
from v2api.services.blobs import read_small_blob

# Blob reads and manifests that need blobs behave the same on disk and in a bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_blob_store")]

DATA = b"0123456789abcdef"


def test_head_of_a_blob_answers_200_with_its_size_and_digest(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.head(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response["Docker-Content-Digest"] == digest


def test_get_of_a_blob_answers_its_bytes(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 200
    assert response.getvalue() == DATA
    assert response["Content-Length"] == str(len(DATA))
    assert response["Docker-Content-Digest"] == digest
    assert response["Accept-Ranges"] == "bytes"


def test_a_sha512_blob_is_served_by_its_sha512_digest(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA, algorithm="sha512")

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 200
    assert response.getvalue() == DATA
    assert response["Docker-Content-Digest"] == digest


def test_an_unknown_blob_is_blob_unknown(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest_of(b'never pushed')}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UNKNOWN"]


def test_head_of_an_unknown_blob_is_404(client: Client, repository_name: str) -> None:
    response = client.head(f"/v2/{repository_name}/blobs/{digest_of(b'never pushed')}")

    assert response.status_code == 404


def test_a_blob_of_another_repository_is_unknown_here(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob("library/other", DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UNKNOWN"]


def test_a_malformed_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/blobs/sha256:abc")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_an_unsupported_digest_algorithm_is_digest_invalid(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/blobs/md5:{'a' * 32}")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


# Range requests


def test_a_range_request_answers_206_with_those_bytes(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=2-5"})

    assert response.status_code == 206
    assert response.getvalue() == DATA[2:6]
    assert response["Content-Range"] == f"bytes 2-5/{len(DATA)}"
    assert response["Content-Length"] == "4"


def test_an_open_ended_range_runs_to_the_end_of_the_blob(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=10-"})

    assert response.status_code == 206
    assert response.getvalue() == DATA[10:]
    assert response["Content-Range"] == f"bytes 10-{len(DATA) - 1}/{len(DATA)}"


def test_a_suffix_range_answers_the_last_bytes(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=-3"})

    assert response.status_code == 206
    assert response.getvalue() == DATA[-3:]


def test_a_range_past_the_end_is_clipped_to_the_blob(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=12-999"})

    assert response.status_code == 206
    assert response.getvalue() == DATA[12:]
    assert response["Content-Range"] == f"bytes 12-{len(DATA) - 1}/{len(DATA)}"


def test_a_range_starting_past_the_end_is_416_with_the_size(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=100-200"})

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


def test_several_ranges_are_ignored_and_the_whole_blob_is_sent(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.get(f"/v2/{repository_name}/blobs/{digest}", headers={"Range": "bytes=0-1,4-5"})

    assert response.status_code == 200
    assert response.getvalue() == DATA


# end-10: DELETE unlinks a blob from one repository


def test_deleting_a_blob_answers_202(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)

    response = client.delete(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 202


def test_a_deleted_blob_is_unknown_in_its_repository(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)
    client.delete(f"/v2/{repository_name}/blobs/{digest}")

    response = client.get(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UNKNOWN"]


def test_deleting_a_blob_leaves_it_in_other_repositories(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)
    push_blob("library/other", DATA)
    client.delete(f"/v2/{repository_name}/blobs/{digest}")

    response = client.get(f"/v2/library/other/blobs/{digest}")

    assert response.status_code == 200
    assert response.getvalue() == DATA


def test_deleting_a_blob_twice_is_blob_unknown(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    digest = push_blob(repository_name, DATA)
    client.delete(f"/v2/{repository_name}/blobs/{digest}")

    response = client.delete(f"/v2/{repository_name}/blobs/{digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["BLOB_UNKNOWN"]


def test_a_small_blob_is_read_whole_and_a_larger_or_missing_one_not_at_all(
    repository_name: str, push_blob: PushBlob
) -> None:
    digest = Digest.parse(push_blob(repository_name, DATA))

    assert read_small_blob(digest, len(DATA)) == DATA
    assert read_small_blob(digest, len(DATA) - 1) is None
    assert read_small_blob(Digest.parse(digest_of(b"never pushed")), 100) is None
