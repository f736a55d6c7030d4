"""Search across repositories: only what the user may pull."""

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from tests.conftest import PushImage

AsUser = Callable[[User], Client]


def test_an_anonymous_visitor_finds_repositories_of_public_projects_only(
    client: Client, team: Project, push_image: PushImage
) -> None:
    Project.objects.create(name="open", public=True)
    push_image("team/app", "1")
    push_image("open/app", "1")
    page = client.get("/search/?q=app").content.decode()
    assert 'href="/repositories/open/app/"' in page
    assert "team/app" not in page


def test_a_member_finds_repositories_by_part_of_their_name(
    as_user: AsUser, bob: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", "1")
    push_image("team/tools/builder", "1")
    page = as_user(bob).get("/search/?q=build").content.decode()
    assert 'href="/repositories/team/tools/builder/"' in page
    assert "team/app" not in page


def test_search_never_shows_a_private_project_to_an_outsider(
    as_user: AsUser, carol: User, team: Project, push_image: PushImage
) -> None:
    Project.objects.create(name="open", public=True)
    push_image("team/app", "1")
    push_image("open/app", "1")
    page = as_user(carol).get("/search/?q=app").content.decode()
    assert 'href="/repositories/open/app/"' in page
    assert "team/app" not in page


def test_an_empty_search_shows_just_the_form(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).get("/search/")
    assert response.status_code == 200
    assert b"matching" not in response.content


def test_search_finds_tags_by_name_and_images_by_a_digest_prefix(
    as_user: AsUser, bob: User, team: Project, push_image: PushImage
) -> None:
    image = push_image("team/app", "release-2024.05")
    push_image("team/app", "dev", layers=[b"dev layer"])
    client = as_user(bob)

    by_tag = client.get("/search/?q=release").content.decode()
    hex_digits = image.digest.split(":")[1]
    by_digest = client.get(f"/search/?q={hex_digits[:12]}").content.decode()
    by_full_digest = client.get(f"/search/?q={image.digest}").content.decode()

    image_page = f"/repositories/team/app/-/manifests/{image.digest}/"
    assert f'href="{image_page}">team/app:<strong>release-2024.05</strong>' in by_tag
    assert ":<strong>dev</strong>" not in by_tag
    for page in (by_digest, by_full_digest):
        assert f'href="{image_page}"><code' in page
    assert "Images with digest" not in client.get(f"/search/?q={hex_digits[:5]}").content.decode()


def test_tag_and_digest_search_never_shows_a_private_project_to_an_outsider(
    as_user: AsUser, carol: User, team: Project, push_image: PushImage
) -> None:
    image = push_image("team/app", "release-1")

    page = as_user(carol).get(f"/search/?q={image.digest}").content.decode()

    assert "team/app" not in as_user(carol).get("/search/?q=release").content.decode()
    assert "team/app" not in page
