"""Space accounting agrees with the disk: shared layers count once, "would free" is what goes."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client

from tests.conftest import PushImage
from v2api.services.deletion import execute_deletion, plan_deletion
from v2api.services.gc import collect_garbage
from v2api.services.usage import project_usage, repository_usage

pytestmark = pytest.mark.django_db
CONFIG = b'{"architecture": "amd64", "os": "linux"}'


def test_a_layer_shared_by_two_images_of_a_repository_counts_once(push_image: PushImage) -> None:
    push_image("team/app", tag="a", layers=[b"base" * 100, b"a"])
    push_image("team/app", tag="b", layers=[b"base" * 100, b"bb"])

    usage = repository_usage("team/app")

    assert usage.total_bytes == len(b"base" * 100) + len(b"a") + len(b"bb") + len(CONFIG)
    assert usage.shared_bytes == 0


def test_a_layer_shared_with_another_repository_is_shared_and_not_freeable(push_image: PushImage) -> None:
    push_image("team/app", tag="v1", layers=[b"common" * 50, b"mine"])
    push_image("other/app", tag="v1", layers=[b"common" * 50])

    usage = repository_usage("team/app")

    assert usage.shared_bytes == len(b"common" * 50) + len(CONFIG)
    assert usage.freeable_bytes == len(b"mine")


def test_a_project_counts_a_layer_its_repositories_share_once(push_image: PushImage) -> None:
    push_image("team/one", tag="v1", layers=[b"shared inside the project"])
    push_image("team/two", tag="v1", layers=[b"shared inside the project"])

    assert project_usage("team").total_bytes == len(b"shared inside the project") + len(CONFIG)


def test_what_deleting_a_repository_would_free_is_what_the_collector_frees(
    client: Client, push_image: PushImage, disk: Callable[[], int]
) -> None:
    push_image("team/app", tag="v1", layers=[b"x" * 1000, b"common"])
    push_image("team/app", tag="v2", layers=[b"y" * 2000, b"common"])
    push_image("other/app", tag="v1", layers=[b"common"])
    promised = repository_usage("team/app").freeable_bytes
    assert plan_deletion("team/app", whole_repository=True).bytes_freed == promised
    before = disk()

    execute_deletion("team/app", whole_repository=True)
    report = collect_garbage(timedelta(0))

    assert report.bytes_freed == promised == before - disk() == 3000
    assert client.get("/v2/team/app/tags/list").status_code == 404
    assert client.get("/v2/other/app/manifests/v1", HTTP_ACCEPT="*/*").status_code == 200
