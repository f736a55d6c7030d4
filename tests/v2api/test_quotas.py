"""Project quotas on push (end-4b, end-6, end-11): new bytes beyond the quota are DENIED with a
message a client prints, the upload stays resumable, and a layer the project already holds is free."""

import json

import pytest
from django.test import Client

from accounts.models import Project
from audit import actions
from audit.models import AuditEvent
from oci import media_types
from tests.conftest import PushBlob, PushImage, descriptor, digest_of, error_codes, manifest_bytes, path_of
from v2api.services.quotas import human_size
from v2api.services.usage import project_usage

pytestmark = pytest.mark.django_db

CONFIG = b'{"architecture": "amd64", "os": "linux"}'
BASE = b"b" * 500
NEW = b"n" * 600


@pytest.fixture
def team(db: None) -> Project:
    """`team` may hold 1000 bytes and holds 540: an image of a 500-byte layer and its config."""
    return Project.objects.create(name="team", quota_bytes=1000)


@pytest.fixture
def base_image(team: Project, push_image: PushImage) -> None:
    push_image("team/app", "v1", layers=[BASE])
    assert project_usage("team").total_bytes == len(BASE) + len(CONFIG) == 540


def start(client: Client, name: str) -> str:
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status_code == 202
    return path_of(response["Location"])


def finish(client: Client, upload: str, data: bytes, body: bytes = b""):  # type: ignore[no-untyped-def]
    return client.put(f"{upload}?digest={digest_of(data)}", data=body, content_type="application/octet-stream")


def message_of(response) -> str:  # type: ignore[no-untyped-def]
    return str(json.loads(response.content)["errors"][0]["message"])


def test_a_push_that_would_pass_the_quota_is_denied_saying_what_the_project_uses_and_needs(
    client: Client, base_image: None
) -> None:
    response = finish(client, start(client, "team/app"), NEW, NEW)

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert (
        message_of(response) == "quota exceeded: project team uses 540 bytes of 1000 bytes; this layer needs 600 bytes"
    )
    detail = json.loads(response.content)["errors"][0]["detail"]
    assert detail == {"project": "team", "quota_bytes": 1000, "used_bytes": 540, "needed_bytes": 600}
    assert client.head(f"/v2/team/app/blobs/{digest_of(NEW)}").status_code == 404


def test_a_monolithic_push_over_the_quota_is_denied(client: Client, base_image: None) -> None:
    response = client.post(
        f"/v2/team/app/blobs/uploads/?digest={digest_of(NEW)}", data=NEW, content_type="application/octet-stream"
    )

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert client.head(f"/v2/team/app/blobs/{digest_of(NEW)}").status_code == 404


def test_a_push_that_fills_the_quota_exactly_is_accepted(client: Client, base_image: None) -> None:
    fits = b"f" * (1000 - 540)

    assert finish(client, start(client, "team/other"), fits, fits).status_code == 201


def test_a_project_without_a_quota_takes_any_push(client: Client, push_blob: PushBlob) -> None:
    Project.objects.create(name="free")

    push_blob("free/app", b"x" * 5000)

    assert client.head(f"/v2/free/app/blobs/{digest_of(b'x' * 5000)}").status_code == 200


def test_a_chunk_that_would_pass_the_quota_is_refused_as_it_arrives_and_the_upload_stays_resumable(
    client: Client, team: Project, base_image: None
) -> None:
    upload = start(client, "team/app")

    refused = client.patch(upload, data=NEW, content_type="application/octet-stream")

    assert refused.status_code == 403
    assert message_of(refused) == (
        "quota exceeded: project team uses 540 bytes of 1000 bytes; this chunk of an upload needs 600 bytes"
    )
    status = client.get(upload)
    assert status.status_code == 204
    assert status["Range"] == "0-0"
    team.quota_bytes = 2000
    team.save()
    assert client.patch(upload, data=NEW, content_type="application/octet-stream").status_code == 202
    assert finish(client, upload, NEW).status_code == 201
    assert b"".join(client.get(f"/v2/team/app/blobs/{digest_of(NEW)}").streaming_content) == NEW  # type: ignore[attr-defined]


def test_bytes_left_in_open_uploads_count_against_the_quota(client: Client, team: Project, base_image: None) -> None:
    # The attack: PATCH bytes into uploads and never finish them, past the quota.
    first = start(client, "team/app")
    assert client.patch(first, data=b"a" * 400, content_type="application/octet-stream").status_code == 202

    second = start(client, "team/other")
    refused = client.patch(second, data=b"b" * 100, content_type="application/octet-stream")

    assert refused.status_code == 403
    assert "uses 940 bytes of 1000 bytes" in message_of(refused)
    # Cancelling the first gives its bytes back.
    assert client.delete(first).status_code == 204
    assert client.patch(second, data=b"b" * 100, content_type="application/octet-stream").status_code == 202


def test_a_refused_last_chunk_is_taken_back_so_the_same_put_can_be_sent_again(
    client: Client, team: Project, base_image: None
) -> None:
    upload = start(client, "team/app")
    client.patch(upload, data=NEW[:100], content_type="application/octet-stream")

    assert finish(client, upload, NEW, NEW[100:]).status_code == 403
    assert client.get(upload)["Range"] == "0-99"

    Project.objects.filter(name="team").update(quota_bytes=None)
    assert finish(client, upload, NEW, NEW[100:]).status_code == 201


def test_a_mount_that_would_pass_the_quota_is_denied(client: Client, base_image: None, push_blob: PushBlob) -> None:
    push_blob("elsewhere/app", NEW)

    response = client.post(f"/v2/team/app/blobs/uploads/?mount={digest_of(NEW)}&from=elsewhere/app")

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert "quota exceeded: project team" in message_of(response)
    assert client.head(f"/v2/team/app/blobs/{digest_of(NEW)}").status_code == 404


def test_a_mount_within_the_quota_is_done(client: Client, team: Project, push_blob: PushBlob) -> None:
    push_blob("elsewhere/app", NEW)

    response = client.post(f"/v2/team/app/blobs/uploads/?mount={digest_of(NEW)}&from=elsewhere/app")

    assert response.status_code == 201


def test_a_layer_the_project_already_holds_is_not_counted_twice(
    client: Client, base_image: None, push_blob: PushBlob
) -> None:
    # 540 + 500 would pass 1000, but the layer is already in team/app: the project holds it once.
    assert finish(client, start(client, "team/other"), BASE, BASE).status_code == 201
    response = client.post(f"/v2/team/third/blobs/uploads/?mount={digest_of(BASE)}&from=team/app")
    assert response.status_code == 201
    assert project_usage("team").total_bytes == 540


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (300 * 1024**2, "300 MiB"),
        (int(9.8 * 1024**3), "9.8 GiB"),
        (10 * 1024**3, "10 GiB"),
    ],
)
def test_sizes_in_the_message_read_as_docker_prints_them(size: int, text: str) -> None:
    assert human_size(size) == text


def test_an_image_whose_layers_each_fit_but_not_together_is_refused_at_its_manifest(
    client: Client, base_image: None
) -> None:
    """Layers no manifest references count nothing while they wait for their manifest, so each of
    these passes its own check; the manifest that would make them the project's is refused, and
    the refusal is in the audit log."""
    layers = [b"1" * 400, b"2" * 400]
    for layer in layers:
        assert finish(client, start(client, "team/app"), layer, layer).status_code == 201
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", CONFIG),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer) for layer in layers],
    }

    response = client.put(
        "/v2/team/app/manifests/v2", data=manifest_bytes(document), content_type=media_types.OCI_MANIFEST
    )

    assert response.status_code == 403
    assert error_codes(response) == ["DENIED"]
    assert (
        message_of(response) == "quota exceeded: project team uses 540 bytes of 1000 bytes; this image needs 800 bytes"
    )
    assert client.get("/v2/team/app/manifests/v2").status_code == 404
    assert project_usage("team").total_bytes == 540
    refusals = AuditEvent.objects.filter(action=actions.QUOTA_EXCEEDED, project="team")
    assert [event.detail["needed_bytes"] for event in refusals] == [800]


def test_an_image_of_layers_the_project_already_holds_needs_no_room(client: Client, base_image: None) -> None:
    """The config and the 500-byte layer of v1 again, under another tag and with another
    annotation: nothing new enters the project, so the full project takes it."""
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", CONFIG),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", BASE)],
        "annotations": {"rebuilt": "yes"},
    }
    Project.objects.filter(name="team").update(quota_bytes=540)

    response = client.put(
        "/v2/team/app/manifests/v1-again", data=manifest_bytes(document), content_type=media_types.OCI_MANIFEST
    )

    assert response.status_code == 201, response.content
