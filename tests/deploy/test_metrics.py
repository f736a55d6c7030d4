"""/metrics: requests per route name, blob bytes in and out, uploads, and the GC hook."""

import io
import re

import pytest
from django.test import Client

from tests.conftest import PushBlob, digest_of, path_of
from v2api.metrics import record_gc_run

pytestmark = pytest.mark.django_db

DATA = b"x" * 5000


def sample(client: Client, name: str, labels: str = "") -> float:
    """One sample's value from /metrics (0 when the series does not exist yet)."""
    text = client.get("/metrics").content.decode()
    pattern = "^" + re.escape(name + (f"{{{labels}}}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_are_served_in_the_prometheus_text_format(anonymous_client: Client) -> None:
    response = anonymous_client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE registry_http_requests_total counter" in response.content


def test_requests_are_counted_by_route_name_not_by_path(
    client: Client, anonymous_client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    digest = push_blob(repository_name, DATA)
    labels = 'method="GET",route="v2:blob",status="200"'
    before = sample(anonymous_client, "registry_http_requests_total", labels)

    client.get(f"/v2/{repository_name}/blobs/{digest}")
    client.get(f"/v2/other/name/blobs/{digest}")

    text = anonymous_client.get("/metrics").content.decode()
    assert sample(anonymous_client, "registry_http_requests_total", labels) == before + 1
    assert 'route="v2:blob",status="404"' in text
    # No repository name or digest ever becomes a label: the series stay few.
    assert repository_name not in text and digest not in text
    assert 'registry_http_request_duration_seconds_bucket{le="0.005",method="GET",route="v2:blob"}' in text


def test_a_path_no_route_matches_is_counted_as_unmatched(anonymous_client: Client) -> None:
    before = sample(anonymous_client, "registry_http_requests_total", 'method="GET",route="unmatched",status="404"')

    anonymous_client.get("/no/such/page/at/all")

    after = sample(anonymous_client, "registry_http_requests_total", 'method="GET",route="unmatched",status="404"')
    assert after == before + 1


def test_blob_bytes_in_and_out_are_counted(client: Client, anonymous_client: Client, repository_name: str) -> None:
    received = sample(anonymous_client, "registry_blob_bytes_received_total")
    sent = sample(anonymous_client, "registry_blob_bytes_sent_total", 'served_by="application"')

    started = client.post(f"/v2/{repository_name}/blobs/uploads/", data=b"", content_type="application/octet-stream")
    digest = digest_of(DATA)
    client.put(path_of(started["Location"]) + f"?digest={digest}", DATA, content_type="application/octet-stream")
    client.get(f"/v2/{repository_name}/blobs/{digest}")
    client.get(f"/v2/{repository_name}/blobs/{digest}", HTTP_RANGE="bytes=0-99")
    client.head(f"/v2/{repository_name}/blobs/{digest}")

    assert sample(anonymous_client, "registry_blob_bytes_received_total") == received + len(DATA)
    assert (
        sample(anonymous_client, "registry_blob_bytes_sent_total", 'served_by="application"') == sent + len(DATA) + 100
    )


def test_a_chunked_upload_body_is_counted_as_it_is_read(
    client: Client, anonymous_client: Client, repository_name: str
) -> None:
    received = sample(anonymous_client, "registry_blob_bytes_received_total")
    started = client.post(f"/v2/{repository_name}/blobs/uploads/", data=b"", content_type="application/octet-stream")
    # As docker sends it: Transfer-Encoding chunked, no Content-Length; gunicorn hands the view the
    # de-chunked stream as wsgi.input, which this imitates.
    patched = client.patch(
        path_of(started["Location"]),
        data=b"",
        content_type="application/octet-stream",
        headers={"Transfer-Encoding": "chunked"},
        **{"wsgi.input": io.BytesIO(DATA)},
    )
    assert patched.status_code == 202, patched.content

    finished = client.put(path_of(patched["Location"]) + f"?digest={digest_of(DATA)}")

    assert finished.status_code == 201, finished.content
    assert sample(anonymous_client, "registry_blob_bytes_received_total") == received + len(DATA)


def test_open_uploads_are_read_from_the_database(
    client: Client, anonymous_client: Client, repository_name: str
) -> None:
    before = sample(anonymous_client, "registry_uploads_open")

    client.post(f"/v2/{repository_name}/blobs/uploads/")

    assert sample(anonymous_client, "registry_uploads_open") == before + 1
    assert sample(anonymous_client, "registry_upload_requests_in_progress") == 0


def test_the_gc_hook_adds_up_runs_and_keeps_the_last_one(anonymous_client: Client) -> None:
    record_gc_run(blobs_deleted=3, bytes_freed=3000, seconds=1.5)
    record_gc_run(blobs_deleted=2, bytes_freed=500, seconds=0.25)

    assert sample(anonymous_client, "registry_gc_runs_total") == 2
    assert sample(anonymous_client, "registry_gc_blobs_deleted_total") == 5
    assert sample(anonymous_client, "registry_gc_bytes_freed_total") == 3500
    assert sample(anonymous_client, "registry_gc_last_run_seconds") == 0.25
    assert sample(anonymous_client, "registry_gc_last_run_bytes_freed") == 500
    assert sample(anonymous_client, "registry_gc_last_run_timestamp_seconds") > 0
