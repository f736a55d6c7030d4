"""end-8a and end-8b: listing a repository's tags, a page at a time."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.scopes import PULL, repository_scope
from tests.conftest import PushedImage, PushImage, bearer_auth, error_codes
from v2api.models import Repository, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(repository_name: str, push_image: PushImage) -> PushedImage:
    return push_image(repository_name, tag="latest")


def tag_image(client: Client, name: str, image: PushedImage, *tags: str) -> None:
    for tag in tags:
        response = client.put(f"/v2/{name}/manifests/{tag}", data=image.content, content_type=image.media_type)
        assert response.status_code == 201


def add_tags(name: str, count: int) -> None:
    """Many tags straight in the database; pushing each through the API adds nothing to these tests."""
    repository = Repository.objects.get(name=name)
    manifest = repository.manifests.get()
    Tag.objects.bulk_create(
        Tag(repository=repository, name=f"t{number:04}", manifest=manifest) for number in range(count)
    )


def test_the_tag_list_names_the_repository_and_its_tags_in_lexical_order(
    client: Client, repository_name: str, image: PushedImage
) -> None:
    tag_image(client, repository_name, image, "v2", "v1", "1.0")

    response = client.get(f"/v2/{repository_name}/tags/list")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"name": repository_name, "tags": ["1.0", "latest", "v1", "v2"]}
    assert "Link" not in response


def test_n_limits_the_page_and_a_link_points_at_the_next_one(
    client: Client, repository_name: str, image: PushedImage
) -> None:
    tag_image(client, repository_name, image, "a", "b", "c")

    response = client.get(f"/v2/{repository_name}/tags/list?n=2")

    assert json.loads(response.content)["tags"] == ["a", "b"]
    assert response["Link"] == f'</v2/{repository_name}/tags/list?n=2&last=b>; rel="next"'


def test_last_starts_the_page_after_that_tag(client: Client, repository_name: str, image: PushedImage) -> None:
    tag_image(client, repository_name, image, "a", "b", "c")

    response = client.get(f"/v2/{repository_name}/tags/list?n=2&last=b")

    assert json.loads(response.content)["tags"] == ["c", "latest"]
    assert "Link" not in response


def test_following_the_link_header_walks_every_tag_once(
    client: Client, repository_name: str, image: PushedImage
) -> None:
    tag_image(client, repository_name, image, "a", "b", "c", "d")
    seen: list[str] = []
    path: str | None = f"/v2/{repository_name}/tags/list?n=2"

    while path is not None:
        response = client.get(path)
        seen += json.loads(response.content)["tags"]
        path = response["Link"].split(">", 1)[0].lstrip("<") if "Link" in response else None

    assert seen == ["a", "b", "c", "d", "latest"]


def test_n_zero_answers_an_empty_list(client: Client, repository_name: str, image: PushedImage) -> None:
    response = client.get(f"/v2/{repository_name}/tags/list?n=0")

    assert response.status_code == 200
    assert json.loads(response.content)["tags"] == []
    assert "Link" not in response


def test_n_larger_than_the_maximum_page_is_capped(
    client: Client, repository_name: str, image: PushedImage, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_MAX_PAGE_SIZE = 2
    tag_image(client, repository_name, image, "a", "b")

    response = client.get(f"/v2/{repository_name}/tags/list?n=1000")

    assert json.loads(response.content)["tags"] == ["a", "b"]
    assert "Link" in response


def test_without_n_a_page_holds_at_most_the_maximum(
    client: Client, repository_name: str, image: PushedImage, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_MAX_PAGE_SIZE = 2
    tag_image(client, repository_name, image, "a", "b")

    response = client.get(f"/v2/{repository_name}/tags/list")

    assert json.loads(response.content)["tags"] == ["a", "b"]
    assert response["Link"] == f'</v2/{repository_name}/tags/list?last=b>; rel="next"'


@pytest.mark.parametrize("n", ["abc", "-1", "1.5"])
def test_a_bad_n_is_pagination_number_invalid(client: Client, repository_name: str, image: PushedImage, n: str) -> None:
    response = client.get(f"/v2/{repository_name}/tags/list?n={n}")

    assert response.status_code == 400
    assert error_codes(response) == ["PAGINATION_NUMBER_INVALID"]


def test_an_unknown_repository_is_name_unknown(client: Client) -> None:
    response = client.get("/v2/library/nothing/tags/list")

    assert response.status_code == 404
    assert error_codes(response) == ["NAME_UNKNOWN"]


def test_a_repository_whose_tags_were_all_deleted_lists_no_tags(
    client: Client, repository_name: str, image: PushedImage
) -> None:
    client.delete(f"/v2/{repository_name}/manifests/latest")

    response = client.get(f"/v2/{repository_name}/tags/list")

    assert response.status_code == 200
    assert json.loads(response.content) == {"name": repository_name, "tags": []}


@pytest.mark.parametrize("count", [1, 50])
def test_the_tag_list_costs_two_queries_however_many_tags_there_are(
    client: Client,
    admin_user: User,
    repository_name: str,
    image: PushedImage,
    django_assert_num_queries,  # type: ignore[no-untyped-def]
    count: int,
) -> None:
    add_tags(repository_name, count)

    # As clients call it: with a token, which costs no query to check.
    token = bearer_auth(admin_user, repository_scope(repository_name, PULL))
    with django_assert_num_queries(2):
        response = client.get(f"/v2/{repository_name}/tags/list", HTTP_AUTHORIZATION=token)

    assert len(json.loads(response.content)["tags"]) == count + 1
