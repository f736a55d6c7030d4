"""end-12a and end-12b: the manifests whose `subject` is a given manifest."""

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from oci import media_types
from tests.conftest import PushedImage, PushImage, digest_of, error_codes

pytestmark = pytest.mark.django_db

SIGNATURE = "application/vnd.example.signature"
SBOM = "application/spdx+json"


@pytest.fixture
def subject(repository_name: str, push_image: PushImage) -> PushedImage:
    return push_image(repository_name, tag="latest")


def subject_of(image: PushedImage) -> dict[str, Any]:
    return {"mediaType": image.media_type, "digest": image.digest, "size": len(image.content)}


def push_artifact(
    push_image: PushImage, name: str, subject: PushedImage, artifact_type: str, **extra: Any
) -> PushedImage:
    return push_image(
        name,
        layers=[artifact_type.encode()],
        config=b"{}",
        config_media_type=media_types.OCI_EMPTY,
        artifactType=artifact_type,
        subject=subject_of(subject),
        **extra,
    )


def test_referrers_are_an_oci_index_of_descriptors(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    signature = push_artifact(
        push_image, repository_name, subject, SIGNATURE, annotations={"org.example.signer": "alice"}
    )

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    assert response.status_code == 200
    assert response["Content-Type"] == media_types.OCI_INDEX
    assert json.loads(response.content) == {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX,
        "manifests": [
            {
                "mediaType": media_types.OCI_MANIFEST,
                "digest": signature.digest,
                "size": len(signature.content),
                "artifactType": SIGNATURE,
                "annotations": {"org.example.signer": "alice"},
            }
        ],
    }


def test_every_referrer_is_listed(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    signature = push_artifact(push_image, repository_name, subject, SIGNATURE)
    sbom = push_artifact(push_image, repository_name, subject, SBOM)

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    digests = {manifest["digest"] for manifest in json.loads(response.content)["manifests"]}
    assert digests == {signature.digest, sbom.digest}
    assert "OCI-Filters-Applied" not in response


def test_an_artifact_type_filter_lists_only_that_type_and_says_so(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    push_artifact(push_image, repository_name, subject, SIGNATURE)
    sbom = push_artifact(push_image, repository_name, subject, SBOM)

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}?{urlencode({'artifactType': SBOM})}")

    assert [manifest["digest"] for manifest in json.loads(response.content)["manifests"]] == [sbom.digest]
    assert response["OCI-Filters-Applied"] == "artifactType"


def test_an_image_without_artifact_type_is_listed_with_its_config_media_type(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    push_image(
        repository_name,
        layers=[b"attestation"],
        config_media_type="application/vnd.example.config.v1+json",
        subject=subject_of(subject),
    )

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    [referrer] = json.loads(response.content)["manifests"]
    assert referrer["artifactType"] == "application/vnd.example.config.v1+json"


def test_no_referrers_is_an_empty_index_not_404(client: Client, repository_name: str, subject: PushedImage) -> None:
    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    assert response.status_code == 200
    assert json.loads(response.content) == {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "manifests": []}


def test_referrers_of_an_unknown_subject_are_an_empty_index(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/referrers/{digest_of(b'nothing')}")

    assert response.status_code == 200
    assert json.loads(response.content)["manifests"] == []


def test_a_filter_that_matches_nothing_is_an_empty_index_and_says_it_was_applied(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    push_artifact(push_image, repository_name, subject, SIGNATURE)

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}?{urlencode({'artifactType': SBOM})}")

    assert response.status_code == 200
    assert json.loads(response.content)["manifests"] == []
    assert response["OCI-Filters-Applied"] == "artifactType"


def test_referrers_in_another_repository_are_not_listed(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    push_artifact(push_image, "library/other", subject, SIGNATURE)

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    assert json.loads(response.content)["manifests"] == []


def test_a_deleted_referrer_is_no_longer_listed(
    client: Client, repository_name: str, subject: PushedImage, push_image: PushImage
) -> None:
    signature = push_artifact(push_image, repository_name, subject, SIGNATURE)
    client.delete(f"/v2/{repository_name}/manifests/{signature.digest}")

    response = client.get(f"/v2/{repository_name}/referrers/{subject.digest}")

    assert json.loads(response.content)["manifests"] == []


def test_a_malformed_subject_digest_is_digest_invalid(client: Client, repository_name: str) -> None:
    response = client.get(f"/v2/{repository_name}/referrers/sha256:abc")

    assert response.status_code == 400
    assert error_codes(response) == ["DIGEST_INVALID"]
