"""`POST /api/v1/projects/` with `proxy_url`: a proxy-cache project, its upstream password
encrypted at rest and never returned."""

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from accounts.models import Project
from accounts.sealing import SealBroken
from accounts.services.projects import proxy_password
from tests.accounts.conftest import Api

pytestmark = pytest.mark.django_db

HUB = {"proxy_url": "https://registry-1.docker.io/", "proxy_username": "ci", "proxy_password": "s3cret-token"}


def test_a_system_admin_creates_a_proxy_project_whose_password_is_never_shown(api: Api, root: User) -> None:
    response = api("post", "projects/", root, {"name": "hub", **HUB})

    assert response.status_code == 201, response.json()
    assert response.json()["proxy_url"] == "https://registry-1.docker.io"
    assert response.json()["proxy_username"] == "ci"
    assert "proxy_password" not in response.json()
    assert "s3cret-token" not in api("get", "projects/hub/", root).content.decode()
    project = Project.objects.get(name="hub")
    assert project.is_proxy
    assert "s3cret-token" not in project.proxy_password_sealed
    assert proxy_password(project) == "s3cret-token"


def test_the_password_cannot_be_read_once_the_secret_key_changed(api: Api, root: User) -> None:
    api("post", "projects/", root, {"name": "hub", **HUB})
    project = Project.objects.get(name="hub")

    with override_settings(SECRET_KEY="another key altogether"), pytest.raises(SealBroken):
        proxy_password(project)


@pytest.mark.parametrize(
    "body",
    [
        {"proxy_url": "ftp://registry.example"},
        {"proxy_url": "https://registry.example/some/path"},
        {"proxy_username": "ci", "proxy_password": "x"},
    ],
)
def test_an_unusable_upstream_is_refused_naming_the_field(api: Api, root: User, body: dict[str, str]) -> None:
    response = api("post", "projects/", root, {"name": "hub", **body})

    assert response.status_code == 400
    assert "proxy_url" in response.json()
    assert not Project.objects.filter(name="hub").exists()


def test_the_upstream_of_a_project_does_not_change_afterwards(api: Api, root: User) -> None:
    api("post", "projects/", root, {"name": "hub", **HUB})

    response = api("patch", "projects/hub/", root, {"proxy_url": "https://ghcr.io", "public": True})

    assert response.status_code == 200
    assert Project.objects.get(name="hub").proxy_url == "https://registry-1.docker.io"
