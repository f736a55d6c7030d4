"""Transparent mirror mode (REGISTRY_MIRROR_PROJECT, accounts/mirror.py): a pull of a repository
whose first path component names no project is served by the mirror project, on the token
service, the full stack and the fast path alike, while projects and pushes keep their names.

The mirror project's content is pushed before it becomes a proxy cache, with its tag confirmed by
the upstream just now, so these tests need no upstream; tests/e2e/test_mirror_mode.py pulls
through a real one with docker and containerd's request pattern."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from accounts.scopes import PULL, repository_scope
from accounts.tokens import verify_access_token
from tests.conftest import PASSWORD, PushBlob, PushedImage, PushImage, basic_auth, bearer_auth
from tests.v2api.test_fast_reads import fast_answer
from v2api.models import Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def mirrored(settings: Any, push_image: PushImage) -> PushedImage:
    """`hub`, a public proxy project in mirror mode, holding `hub/library/alpine:3` (fresh)."""
    settings.REGISTRY_MIRROR_PROJECT = "hub"
    settings.REGISTRY_PROXY_MANIFEST_TTL = 300
    Project.objects.create(name="hub", public=True)
    pushed = push_image("hub/library/alpine", "3", layers=[b"an alpine layer"])
    Project.objects.filter(name="hub").update(proxy_url="http://upstream.invalid")
    Tag.objects.filter(name="3").update(upstream_checked_at=timezone.now())
    return pushed


def anonymous_token(scope: str) -> tuple[str, list[dict[str, object]]]:
    body = Client().get("/auth/token", {"service": "harbor-lite", "scope": scope}).json()
    return body["token"], verify_access_token(body["token"])["access"]


def test_a_token_for_a_pull_of_a_name_in_no_project_grants_the_mirrors_repository(mirrored: PushedImage) -> None:
    _, access = anonymous_token("repository:library/alpine:pull")

    assert access == [{"type": "repository", "name": "hub/library/alpine", "actions": ["pull"]}]


def test_docker_pulls_a_name_without_project_with_the_token_it_asked_for(mirrored: PushedImage) -> None:
    token, _ = anonymous_token("repository:library/alpine:pull")
    docker = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    manifest = docker.get("/v2/library/alpine/manifests/3", HTTP_ACCEPT=mirrored.media_type)
    layer = docker.get(f"/v2/library/alpine/blobs/{mirrored.layer_digests[0]}")

    assert (manifest.status_code, manifest["Docker-Content-Digest"]) == (200, mirrored.digest)
    assert (layer.status_code, b"".join(layer.streaming_content)) == (200, b"an alpine layer")


def test_containerds_ns_parameter_and_an_anonymous_pull_are_served_from_the_mirror(mirrored: PushedImage) -> None:
    manifest = Client().get("/v2/library/alpine/manifests/3?ns=docker.io", HTTP_ACCEPT=mirrored.media_type)
    digest = Client().head(f"/v2/library/alpine/manifests/{mirrored.digest}?ns=docker.io")

    assert (manifest.status_code, manifest.content) == (200, mirrored.content)
    assert (digest.status_code, digest["Docker-Content-Digest"]) == (200, mirrored.digest)


def test_the_fast_path_serves_the_mirrors_repository_too(mirrored: PushedImage) -> None:
    token, _ = anonymous_token("repository:library/alpine:pull")

    answer = fast_answer(
        "GET", "/v2/library/alpine/manifests/3", {"Authorization": f"Bearer {token}", "Accept": mirrored.media_type}
    )
    blob = fast_answer("HEAD", f"/v2/library/alpine/blobs/{mirrored.layer_digests[0]}", {})

    assert answer is not None and (answer.status, answer.body) == ("200 OK", mirrored.content)
    assert blob is not None and blob.status == "200 OK"


def test_a_repository_of_an_existing_project_keeps_its_name(
    mirrored: PushedImage, push_image: PushImage, admin_user: User
) -> None:
    Project.objects.create(name="library", public=True)
    own = push_image("library/alpine", "3", layers=[b"our own alpine"])
    _, access = anonymous_token("repository:library/alpine:pull")

    served = Client().get("/v2/library/alpine/manifests/3", HTTP_ACCEPT=own.media_type)

    assert access == [{"type": "repository", "name": "library/alpine", "actions": ["pull"]}]
    assert (served.status_code, served["Docker-Content-Digest"]) == (200, own.digest)


def test_a_push_into_a_new_project_creates_it_rather_than_reaching_the_mirror(
    mirrored: PushedImage, push_blob: PushBlob, admin_user: User
) -> None:
    token = (
        Client()
        .get(
            "/auth/token",
            {"service": "harbor-lite", "scope": "repository:fresh/app:pull,push"},
            HTTP_AUTHORIZATION=basic_auth(admin_user.username, PASSWORD),
        )
        .json()["token"]
    )
    pusher = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    before = pusher.head(f"/v2/fresh/app/blobs/{mirrored.layer_digests[0]}")
    started = pusher.post("/v2/fresh/app/blobs/uploads/")

    # The layer is in the mirror, not in the repository being pushed: the pusher must send it.
    assert (before.status_code, started.status_code) == (404, 202)
    assert Project.objects.filter(name="fresh", proxy_url="").exists()


def test_a_name_in_no_project_is_unknown_without_mirror_mode(mirrored: PushedImage, settings: Any) -> None:
    settings.REGISTRY_MIRROR_PROJECT = ""
    headers = {"HTTP_AUTHORIZATION": bearer_auth(None, repository_scope("library/alpine", PULL))}

    answer = Client().get("/v2/library/alpine/manifests/3", HTTP_ACCEPT=mirrored.media_type, **headers)

    assert answer.status_code == 404


def test_an_ordinary_project_named_as_the_mirror_answers_for_no_name_outside_it(
    mirrored: PushedImage, settings: Any
) -> None:
    # A mistaken setting, or a project created on push while the mirror's was missing: its
    # developers' pushes must not reach nodes that pull `library/alpine` as Docker Hub's.
    Project.objects.filter(name="hub").update(proxy_url="")
    _, access = anonymous_token("repository:library/alpine:pull")

    manifest = Client().get("/v2/library/alpine/manifests/3", HTTP_ACCEPT=mirrored.media_type)
    fast = fast_answer("HEAD", f"/v2/library/alpine/blobs/{mirrored.layer_digests[0]}", {})
    layer = Client().head(f"/v2/library/alpine/blobs/{mirrored.layer_digests[0]}")

    assert access == []
    assert (manifest.status_code, fast, layer.status_code) == (401, None, 401)
