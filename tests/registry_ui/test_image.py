"""One image: layers, config, history, platforms of an index, referrers, the raw manifest."""

import json
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from oci import media_types
from tests.conftest import PushedImage, PushImage, PushManifest, descriptor

AsUser = Callable[[User], Client]


def url(image: PushedImage, name: str = "team/app") -> str:
    return f"/repositories/{name}/-/manifests/{image.digest}/"


def test_the_image_page_needs_a_login(client: Client, app_image: PushedImage) -> None:
    assert client.get(url(app_image))["Location"].startswith("/login/")


def test_an_outsider_gets_404(as_user: AsUser, carol: User, app_image: PushedImage) -> None:
    assert as_user(carol).get(url(app_image)).status_code == 404


def test_a_deleted_manifest_is_a_clear_404(as_user: AsUser, alice: User, app_image: PushedImage) -> None:
    response = as_user(alice).get("/repositories/team/app/-/manifests/sha256:" + "0" * 64 + "/")
    assert response.status_code == 404
    assert b"it may have been deleted" in response.content


def test_a_collaborator_sees_layers_config_and_history(as_user: AsUser, bob: User, app_image: PushedImage) -> None:
    text = as_user(bob).get(url(app_image)).content.decode()
    assert media_types.OCI_MANIFEST in text
    assert "16\xa0bytes" in text and "9\xa0bytes" in text
    assert "linux/arm64/v8" in text
    assert "/usr/bin/app" in text and "--serve" in text
    assert "MODE=prod" in text
    assert "org.opencontainers.image.source=https://git.lan/app" in text
    assert "8080/tcp" in text
    assert "RUN apk add --no-cache curl" in text
    assert "no layer" in text
    assert f"docker pull testserver/team/app@{app_image.digest}" in text


def test_referrers_are_listed_with_their_artifact_type(
    as_user: AsUser, alice: User, app_image: PushedImage, push_image: PushImage
) -> None:
    signature = push_image(
        "team/app",
        None,
        layers=(b"signature bytes",),
        config=b"{}",
        config_media_type=media_types.OCI_EMPTY,
        artifactType="application/vnd.dev.cosign.artifact.sig.v1+json",
        subject=descriptor(media_types.OCI_MANIFEST, app_image.content),
    )
    text = as_user(alice).get(url(app_image)).content.decode()
    assert "application/vnd.dev.cosign.artifact.sig.v1+json" in text
    assert signature.digest[:19] in text
    artifact = as_user(alice).get(url(signature)).content.decode()
    assert "not a container image configuration" in artifact
    assert f'href="{url(app_image)}"' in artifact


def test_an_index_lists_its_platforms_with_links(
    as_user: AsUser, alice: User, team: Project, push_image: PushImage, push_manifest: PushManifest
) -> None:
    amd = push_image("team/multi", None)
    index = push_manifest(
        "team/multi",
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": media_types.OCI_MANIFEST,
                    "digest": amd.digest,
                    "size": len(amd.content),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        },
        media_types.OCI_INDEX,
        "latest",
    )
    text = as_user(alice).get(f"/repositories/team/multi/-/manifests/{index.digest}/").content.decode()
    assert "multi-platform index" in text
    assert "linux/amd64" in text
    assert f'href="/repositories/team/multi/-/manifests/{amd.digest}/"' in text


def test_the_raw_manifest_is_the_exact_pushed_bytes(as_user: AsUser, alice: User, app_image: PushedImage) -> None:
    client = as_user(alice)
    page = client.get(url(app_image)).content.decode()
    assert "&quot;schemaVersion&quot;: 2" in page
    raw = client.get(url(app_image) + "raw")
    assert raw.content == app_image.content
    assert json.loads(raw.content)["schemaVersion"] == 2
    assert as_user(alice).get("/repositories/team/app/-/manifests/sha256:" + "1" * 64 + "/raw").status_code == 404


SPDX = "application/spdx+json"
NOTATION = "application/vnd.cncf.notary.signature"


def test_an_artifact_index_and_its_children_show_as_what_they_are(
    as_user: AsUser, alice: User, team: Project, push_image: PushImage, push_manifest: PushManifest
) -> None:
    sbom = push_image(
        "team/sboms", None, layers=(b'{"spdxVersion": "SPDX-2.3"}',), config=b"{}", config_media_type=SPDX
    )
    index = push_manifest(
        "team/sboms",
        {
            "schemaVersion": 2,
            "mediaType": media_types.OCI_INDEX,
            "artifactType": SPDX,
            "manifests": [{"mediaType": media_types.OCI_MANIFEST, "digest": sbom.digest, "size": len(sbom.content)}],
        },
        media_types.OCI_INDEX,
        "sbom-1",
    )
    client = as_user(alice)

    index_page = client.get(f"/repositories/team/sboms/-/manifests/{index.digest}/").content.decode()
    child_page = client.get(f"/repositories/team/sboms/-/manifests/{sbom.digest}/").content.decode()

    assert "multi-platform index" not in index_page and "none given" not in index_page
    assert '<span class="badge badge-role">SBOM</span>' in index_page and "<h2>Contents</h2>" in index_page
    assert '<span class="badge badge-role">SBOM</span>' in child_page


def test_a_tag_whose_image_a_signature_refers_to_is_marked_signed(
    as_user: AsUser, alice: User, app_image: PushedImage, push_image: PushImage
) -> None:
    push_image("team/app", "2.0", layers=(b"unsigned",))
    cosign_signed = push_image("team/app", "3.0", layers=(b"cosign signed",))
    push_image(
        "team/app",
        None,
        layers=(b"notation signature",),
        config=b"{}",
        config_media_type=media_types.OCI_EMPTY,
        artifactType=NOTATION,
        subject=descriptor(media_types.OCI_MANIFEST, app_image.content),
    )
    # cosign without the referrers API: a tag named after the digest it signs.
    push_image("team/app", cosign_signed.digest.replace(":", "-") + ".sig", layers=(b"cosign signature",))

    page = as_user(alice).get("/repositories/team/app/")

    signed = {row.name for row in page.context["page"].rows if row.signed}
    assert signed == {"1.0", "3.0"}
    assert page.content.decode().count('title="A cosign or notation signature refers to this image">signed') == 2
