"""Public projects browsed without logging in, read-only: the pages an anonymous visitor gets are
those of the projects anonymous pulls may pull from (accounts.permissions.public_projects); every
other page, and every change, sends them to log in."""

import pytest
from django.test import Client

from accounts.models import Project
from tests.conftest import PushedImage, PushImage
from v2api.models import Tag


@pytest.fixture
def open_image(db: None, push_image: PushImage) -> PushedImage:
    Project.objects.create(name="open", public=True)
    return push_image("open/tool", "1.0", layers=(b"open layer",))


def test_an_anonymous_visitor_reads_a_public_project_its_repository_and_image(
    client: Client, open_image: PushedImage
) -> None:
    project = client.get("/projects/open/")
    assert project.status_code == 200
    assert 'href="/repositories/open/tool/"' in project.content.decode()
    assert 'href="/projects/open/members/"' not in project.content.decode()
    assert client.get("/projects/open/usage/").status_code == 200

    repository = client.get("/repositories/open/tool/").content.decode()
    assert "docker pull" in repository and "open/tool:1.0" in repository
    assert 'name="tag"' not in repository and "Delete repository" not in repository

    image = client.get(f"/repositories/open/tool/-/manifests/{open_image.digest}/").content.decode()
    assert open_image.digest in image and "Delete image" not in image
    raw = client.get(f"/repositories/open/tool/-/manifests/{open_image.digest}/raw")
    assert raw.content == open_image.content


def test_private_pages_and_changes_send_an_anonymous_visitor_to_log_in(
    client: Client, open_image: PushedImage, app_image: PushedImage
) -> None:
    for path in ("/projects/team/", "/repositories/team/app/", "/projects/nowhere/", "/projects/open/members/"):
        assert client.get(path)["Location"] == f"/login/?next={path}", path
    deleting = client.post("/repositories/open/tool/-/delete/", {"mode": "tags", "tag": "1.0"})
    assert deleting["Location"].startswith("/login/")
    assert Tag.objects.filter(repository__name="open/tool", name="1.0").exists()
