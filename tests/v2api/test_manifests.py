"""end-3, end-7 and end-9: pushing, pulling and deleting manifests."""

import json
from typing import Any

import pytest
from django.test import Client

from oci import media_types
from tests.conftest import (
    PushBlob,
    PushedManifest,
    PushImage,
    PushManifest,
    descriptor,
    digest_of,
    error_codes,
    manifest_bytes,
)

# Blob reads and manifests that need blobs behave the same on disk and in a bucket.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_blob_store")]

CONFIG = b'{"architecture": "amd64", "os": "linux"}'
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
# What skopeo and podman send as six Accept lines, which WSGI joins with commas.
SKOPEO_ACCEPT = ", ".join(
    [
        media_types.OCI_MANIFEST,
        media_types.DOCKER_MANIFEST,
        media_types.DOCKER_SCHEMA1_SIGNED,
        media_types.DOCKER_SCHEMA1,
        media_types.DOCKER_MANIFEST_LIST,
        media_types.OCI_INDEX,
    ]
)


def put(client: Client, name: str, reference: str, content: bytes, content_type: str):  # type: ignore[no-untyped-def]
    return client.put(f"/v2/{name}/manifests/{reference}", data=content, content_type=content_type)


def index_document(media_type: str, children: list[PushedManifest]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": len(child.content),
                "platform": {"architecture": architecture, "os": "linux"},
            }
            for child, architecture in zip(children, ["amd64", "arm64"], strict=False)
        ],
    }


def image_document(layers: list[bytes], config: bytes = CONFIG) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
    }


# end-7: PUT a manifest


def test_pushing_a_manifest_by_tag_answers_201_with_its_digest_and_location(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    push_blob(repository_name, b"layer")
    content = manifest_bytes(image_document([b"layer"]))
    digest = digest_of(content)

    response = put(client, repository_name, "latest", content, media_types.OCI_MANIFEST)

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert response["Location"] == f"http://testserver/v2/{repository_name}/manifests/{digest}"


def test_pushing_a_manifest_by_digest_answers_201(client: Client, repository_name: str, push_blob: PushBlob) -> None:
    push_blob(repository_name, CONFIG)
    content = manifest_bytes(image_document([]))
    digest = digest_of(content)

    response = put(client, repository_name, digest, content, media_types.OCI_MANIFEST)

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest


def test_pushing_a_manifest_by_a_sha512_digest_answers_that_digest(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    content = manifest_bytes(image_document([]))
    digest = digest_of(content, "sha512")

    response = put(client, repository_name, digest, content, media_types.OCI_MANIFEST)

    assert response.status_code == 201
    assert response["Docker-Content-Digest"] == digest
    assert client.get(f"/v2/{repository_name}/manifests/{digest}").content == content


def test_pushing_by_a_digest_the_bytes_do_not_match_is_digest_invalid(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    content = manifest_bytes(image_document([]))

    response = put(client, repository_name, digest_of(b"other"), content, media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


def test_pushing_an_existing_tag_again_moves_it(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest", layers=[b"old"])
    newer = push_image(repository_name, tag="latest", layers=[b"new"])

    response = client.get(f"/v2/{repository_name}/manifests/latest")

    assert response["Docker-Content-Digest"] == newer.digest


def test_a_manifest_naming_missing_blobs_lists_every_missing_digest(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, b"present")
    content = manifest_bytes(image_document([b"present", b"missing one", b"missing two"]))

    response = put(client, repository_name, "latest", content, media_types.OCI_MANIFEST)

    assert response.status_code == 400
    errors = json.loads(response.content)["errors"]
    assert [error["code"] for error in errors] == ["MANIFEST_BLOB_UNKNOWN"] * 3
    assert {error["detail"]["digest"] for error in errors} == {
        digest_of(CONFIG),
        digest_of(b"missing one"),
        digest_of(b"missing two"),
    }


def test_a_refused_manifest_leaves_no_empty_repository_in_the_catalog(client: Client) -> None:
    content = manifest_bytes(image_document([b"never pushed"]))

    response = put(client, "refused/app", "latest", content, media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert "refused/app" not in json.loads(client.get("/v2/_catalog").content)["repositories"]


def test_a_manifest_naming_blobs_of_another_repository_is_manifest_blob_unknown(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob("library/other", CONFIG)
    content = manifest_bytes(image_document([]))

    response = put(client, repository_name, "latest", content, media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]


def test_a_refused_manifest_leaves_no_tag(client: Client, repository_name: str) -> None:
    put(client, repository_name, "latest", manifest_bytes(image_document([])), media_types.OCI_MANIFEST)

    response = client.get(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_a_descriptor_whose_size_does_not_match_the_blob_is_manifest_invalid(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    document = image_document([])
    document["config"]["size"] = len(CONFIG) + 1

    response = put(client, repository_name, "latest", manifest_bytes(document), media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]


def test_an_index_with_a_missing_child_is_manifest_blob_unknown(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    present = push_image(repository_name, layers=[b"amd64"])
    missing = PushedManifest(digest=digest_of(b"not pushed"), content=b"not pushed", media_type=present.media_type)
    content = manifest_bytes(index_document(media_types.OCI_INDEX, [present, missing]))

    response = put(client, repository_name, "latest", content, media_types.OCI_INDEX)

    assert response.status_code == 400
    errors = json.loads(response.content)["errors"]
    assert [(error["code"], error["detail"]["digest"]) for error in errors] == [
        ("MANIFEST_BLOB_UNKNOWN", missing.digest)
    ]


def test_a_schema1_manifest_is_manifest_invalid(client: Client, repository_name: str) -> None:
    content = manifest_bytes(
        {"schemaVersion": 1, "name": repository_name, "tag": "latest", "architecture": "amd64", "fsLayers": []}
    )

    response = put(client, repository_name, "latest", content, media_types.DOCKER_SCHEMA1_SIGNED)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]


def test_a_manifest_that_is_not_json_is_manifest_invalid(client: Client, repository_name: str) -> None:
    response = put(client, repository_name, "latest", b"{not json", media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]


def test_a_content_type_that_differs_from_the_media_type_is_manifest_invalid(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    content = manifest_bytes(image_document([]))

    response = put(client, repository_name, "latest", content, media_types.DOCKER_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]


def test_a_manifest_larger_than_the_limit_is_413_size_invalid(
    client: Client, repository_name: str, push_blob: PushBlob, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_MAX_MANIFEST_BYTES = 1024
    push_blob(repository_name, CONFIG)
    document = image_document([])
    document["annotations"] = {"padding": "x" * 2048}

    response = put(client, repository_name, "latest", manifest_bytes(document), media_types.OCI_MANIFEST)

    assert response.status_code == 413
    assert error_codes(response) == ["SIZE_INVALID"]


def test_a_reference_that_is_neither_tag_nor_digest_is_refused(client: Client, repository_name: str) -> None:
    response = put(client, repository_name, "-bad-tag", b"{}", media_types.OCI_MANIFEST)

    assert response.status_code == 400
    assert error_codes(response) == ["MANIFEST_INVALID"]


# end-3: GET and HEAD a manifest, for every kind of manifest


def test_an_oci_manifest_comes_back_by_tag_exactly_as_pushed(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 200
    assert response.content == pushed.content
    assert response["Content-Type"] == media_types.OCI_MANIFEST
    assert response["Docker-Content-Digest"] == pushed.digest
    assert response["Content-Length"] == str(len(pushed.content))


def test_an_oci_manifest_comes_back_by_digest_exactly_as_pushed(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 200
    assert response.content == pushed.content
    assert response["Docker-Content-Digest"] == pushed.digest


def test_head_of_a_manifest_by_tag_answers_its_digest_type_and_size(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")

    response = client.head(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == pushed.digest
    assert response["Content-Type"] == media_types.OCI_MANIFEST
    assert response["Content-Length"] == str(len(pushed.content))


def test_head_of_a_manifest_by_digest_answers_200(client: Client, repository_name: str, push_image: PushImage) -> None:
    pushed = push_image(repository_name)

    response = client.head(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == pushed.digest


def test_a_docker_schema2_manifest_comes_back_with_its_media_type(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="v1", media_type=media_types.DOCKER_MANIFEST)

    response = client.get(f"/v2/{repository_name}/manifests/v1", headers={"Accept": SKOPEO_ACCEPT})

    assert response.status_code == 200
    assert response.content == pushed.content
    assert response["Content-Type"] == media_types.DOCKER_MANIFEST
    assert response["Docker-Content-Digest"] == pushed.digest


@pytest.mark.parametrize("index_type", [media_types.DOCKER_MANIFEST_LIST, media_types.OCI_INDEX])
def test_a_multi_arch_index_comes_back_with_its_media_type(
    client: Client, repository_name: str, push_image: PushImage, push_manifest: PushManifest, index_type: str
) -> None:
    child_type = media_types.DOCKER_MANIFEST if index_type == media_types.DOCKER_MANIFEST_LIST else None
    children: list[PushedManifest] = [
        push_image(repository_name, layers=[architecture], **({"media_type": child_type} if child_type else {}))
        for architecture in (b"amd64", b"arm64")
    ]
    pushed = push_manifest(repository_name, index_document(index_type, children), index_type, tag="multi")

    response = client.get(f"/v2/{repository_name}/manifests/multi", headers={"Accept": SKOPEO_ACCEPT})

    assert response.status_code == 200
    assert response.content == pushed.content
    assert response["Content-Type"] == index_type
    assert response["Docker-Content-Digest"] == pushed.digest


def test_an_artifact_with_a_subject_answers_oci_subject(
    client: Client, repository_name: str, push_image: PushImage, push_blob: PushBlob
) -> None:
    subject = push_image(repository_name, tag="latest")
    push_blob(repository_name, b"{}")
    push_blob(repository_name, b"signature")
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": descriptor(media_types.OCI_EMPTY, b"{}"),
        "layers": [descriptor("application/vnd.example.signature.v1", b"signature")],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.content)},
    }
    content = manifest_bytes(document)

    response = put(client, repository_name, digest_of(content), content, media_types.OCI_MANIFEST)

    assert response.status_code == 201
    assert response["OCI-Subject"] == subject.digest


def test_an_artifact_comes_back_exactly_as_pushed(client: Client, repository_name: str, push_image: PushImage) -> None:
    subject = push_image(repository_name, tag="latest")
    artifact = push_image(
        repository_name,
        layers=[b"sbom"],
        config=b"{}",
        config_media_type=media_types.OCI_EMPTY,
        artifactType="application/spdx+json",
        subject={"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.content)},
    )

    response = client.get(f"/v2/{repository_name}/manifests/{artifact.digest}")

    assert response.content == artifact.content
    assert response["Content-Type"] == media_types.OCI_MANIFEST


def test_a_manifest_whose_subject_is_not_in_the_repository_is_accepted(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    # Referrers may be pushed before their subject (spec, "Pushing Manifests with Subject").
    subject_digest = digest_of(b"a manifest pushed later")

    pushed = push_image(
        repository_name,
        subject={"mediaType": media_types.OCI_MANIFEST, "digest": subject_digest, "size": 23},
    )

    assert client.head(f"/v2/{repository_name}/manifests/{pushed.digest}").status_code == 200


def test_a_manifest_without_a_subject_answers_no_oci_subject(
    client: Client, repository_name: str, push_blob: PushBlob
) -> None:
    push_blob(repository_name, CONFIG)
    content = manifest_bytes(image_document([]))

    response = put(client, repository_name, "latest", content, media_types.OCI_MANIFEST)

    assert "OCI-Subject" not in response


def test_an_unknown_tag_is_manifest_unknown(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/nope")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_a_manifest_of_another_repository_is_unknown_here(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image("library/other", tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_head_of_an_unknown_manifest_is_404(client: Client, repository_name: str) -> None:
    response = client.head(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 404


def test_a_malformed_digest_reference_is_digest_invalid(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/manifests/sha256:abc")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]


# Accept negotiation


def test_several_accept_values_joined_by_commas_find_the_manifest(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/latest", HTTP_ACCEPT=SKOPEO_ACCEPT)

    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == pushed.digest


def test_accept_values_with_parameters_are_understood(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    push_image(repository_name, tag="latest")

    response = client.get(
        f"/v2/{repository_name}/manifests/latest",
        HTTP_ACCEPT=f"{media_types.DOCKER_MANIFEST};q=0.9, {media_types.OCI_MANIFEST};q=0.5",
    )

    assert response.status_code == 200


def test_a_wildcard_accept_takes_any_manifest(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest")

    response = client.get(f"/v2/{repository_name}/manifests/latest", HTTP_ACCEPT="*/*")

    assert response.status_code == 200


def test_an_accept_list_without_the_stored_type_is_manifest_unknown(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    push_image(repository_name, tag="latest")

    response = client.get(
        f"/v2/{repository_name}/manifests/latest",
        HTTP_ACCEPT=f"{media_types.DOCKER_MANIFEST}, {media_types.DOCKER_MANIFEST_LIST}",
    )

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_head_honours_the_accept_list_too(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest")

    response = client.head(f"/v2/{repository_name}/manifests/latest", HTTP_ACCEPT=media_types.DOCKER_MANIFEST)

    assert response.status_code == 404


# end-9: DELETE a manifest or a tag


def test_deleting_a_manifest_by_digest_answers_202(client: Client, repository_name: str, push_image: PushImage) -> None:
    pushed = push_image(repository_name, tag="latest")

    response = client.delete(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 202


def test_deleting_a_manifest_by_digest_removes_the_manifest(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")
    client.delete(f"/v2/{repository_name}/manifests/{pushed.digest}")

    response = client.get(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_deleting_a_manifest_by_digest_removes_every_tag_on_it(
    client: Client, repository_name: str, push_image: PushImage, push_manifest: PushManifest
) -> None:
    pushed = push_image(repository_name, tag="latest")
    put(client, repository_name, "v1", pushed.content, pushed.media_type)
    client.delete(f"/v2/{repository_name}/manifests/{pushed.digest}")

    response = client.get(f"/v2/{repository_name}/tags/list")

    assert json.loads(response.content)["tags"] == []
    assert client.get(f"/v2/{repository_name}/manifests/latest").status_code == 404
    assert client.get(f"/v2/{repository_name}/manifests/v1").status_code == 404


def test_deleting_a_tag_answers_202(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest")

    response = client.delete(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 202


def test_deleting_a_tag_removes_only_that_tag(client: Client, repository_name: str, push_image: PushImage) -> None:
    pushed = push_image(repository_name, tag="latest")
    put(client, repository_name, "v1", pushed.content, pushed.media_type)
    client.delete(f"/v2/{repository_name}/manifests/latest")

    assert client.get(f"/v2/{repository_name}/manifests/latest").status_code == 404
    assert client.get(f"/v2/{repository_name}/manifests/v1")["Docker-Content-Digest"] == pushed.digest
    assert client.get(f"/v2/{repository_name}/manifests/{pushed.digest}").status_code == 200


def test_deleting_a_manifest_twice_is_manifest_unknown(
    client: Client, repository_name: str, push_image: PushImage
) -> None:
    pushed = push_image(repository_name, tag="latest")
    client.delete(f"/v2/{repository_name}/manifests/{pushed.digest}")

    response = client.delete(f"/v2/{repository_name}/manifests/{pushed.digest}")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


def test_deleting_a_tag_twice_is_manifest_unknown(client: Client, repository_name: str, push_image: PushImage) -> None:
    push_image(repository_name, tag="latest")
    client.delete(f"/v2/{repository_name}/manifests/latest")

    response = client.delete(f"/v2/{repository_name}/manifests/latest")

    assert response.status_code == 404
    assert error_codes(response) == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize("method", ["get", "head"])
def test_reading_a_manifest_by_a_reference_that_is_no_tag_is_manifest_unknown(
    client: Client, repository_name: str, push_image: PushImage, method: str
) -> None:
    # OCI conformance (distribution-spec v1.1.1, `.INVALID_MANIFEST_NAME`): 404, not 400.
    push_image(repository_name, tag="v1")

    response = getattr(client, method)(f"/v2/{repository_name}/manifests/.INVALID_MANIFEST_NAME")

    assert response.status_code == 404
    if method == "get":
        assert error_codes(response) == ["MANIFEST_UNKNOWN"]
