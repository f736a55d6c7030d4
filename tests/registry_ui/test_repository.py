"""A repository's tags: digest, platforms of every image, pull commands for this host."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from oci import media_types
from tests.conftest import PushedImage, PushImage, PushManifest
from v2api.services import listings

AsUser = Callable[[User], Client]


def test_the_repository_page_needs_a_login(client: Client, app_image: PushedImage) -> None:
    assert client.get("/repositories/team/app/")["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", ["alice", "bob", "root"])
def test_members_see_tags_with_short_digest_platform_and_pull_commands(
    as_user: AsUser, persona: str, request: pytest.FixtureRequest, app_image: PushedImage
) -> None:
    page = as_user(request.getfixturevalue(persona)).get("/repositories/team/app/", HTTP_HOST="registry.lan:5000")
    text = page.content.decode()
    assert app_image.digest[:19] in text
    assert f'data-copy="{app_image.digest}"' in text
    assert "linux/arm64/v8" in text
    assert "docker pull registry.lan:5000/team/app:1.0" in text
    assert "podman pull registry.lan:5000/team/app:1.0" in text
    assert f"docker pull registry.lan:5000/team/app@{app_image.digest}" in text


def test_the_public_url_setting_names_the_host(
    as_user: AsUser, alice: User, app_image: PushedImage, settings: Any
) -> None:
    settings.REGISTRY_PUBLIC_URL = "https://images.example.lan"
    text = as_user(alice).get("/repositories/team/app/").content.decode()
    assert "docker pull images.example.lan/team/app:1.0" in text


def test_an_outsider_gets_404(as_user: AsUser, carol: User, app_image: PushedImage) -> None:
    assert as_user(carol).get("/repositories/team/app/").status_code == 404


def test_a_missing_repository_is_404(as_user: AsUser, alice: User) -> None:
    assert as_user(alice).get("/repositories/team/nothing/").status_code == 404


def test_a_multi_arch_index_lists_every_platform(
    as_user: AsUser, alice: User, team: Project, push_image: PushImage, push_manifest: PushManifest
) -> None:
    amd = push_image("team/multi", None, config=b'{"architecture": "amd64", "os": "linux"}')
    arm = push_image("team/multi", None, config=b'{"architecture": "arm64", "os": "linux", "variant": "v8"}')
    index = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_INDEX,
        "manifests": [
            {
                "mediaType": media_types.OCI_MANIFEST,
                "digest": image.digest,
                "size": len(image.content),
                "platform": platform,
            }
            for image, platform in (
                (amd, {"os": "linux", "architecture": "amd64"}),
                (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
            )
        ],
    }
    push_manifest("team/multi", index, media_types.OCI_INDEX, "latest")
    text = as_user(alice).get("/repositories/team/multi/").content.decode()
    assert "linux/amd64" in text and "linux/arm64/v8" in text


def test_tags_page_by_name(
    as_user: AsUser, alice: User, app_image: PushedImage, push_image: PushImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 2)
    for tag in ("2.0", "3.0"):
        push_image("team/app", tag)
    client = as_user(alice)
    first = client.get("/repositories/team/app/")
    assert [row.name for row in first.context["page"].rows] == ["1.0", "2.0"]
    second = client.get("/repositories/team/app/", {"after": first.context["page"].next_cursor})
    assert [row.name for row in second.context["page"].rows] == ["3.0"]
    assert second.context["page"].next_cursor is None


def test_what_deleting_would_free_is_said_only_to_those_who_may_delete(
    as_user: AsUser, bob: User, maya: User, app_image: PushedImage
) -> None:
    assert "deleting the repository would free" not in as_user(bob).get("/repositories/team/app/").content.decode()
    assert "deleting the repository would free" in as_user(maya).get("/repositories/team/app/").content.decode()
