"""`GET /v2/_catalog` (Docker Registry API v2): repository names, a page at a time."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.scopes import CATALOG
from tests.conftest import add_repositories, bearer_auth, error_codes

pytestmark = pytest.mark.django_db


def test_the_catalog_lists_repositories_in_lexical_order(client: Client) -> None:
    add_repositories("library/zeta", "alpha", "library/alpine")

    response = client.get("/v2/_catalog")

    assert response.status_code == 200
    assert json.loads(response.content) == {"repositories": ["alpha", "library/alpine", "library/zeta"]}
    assert "Link" not in response


def test_an_empty_registry_lists_no_repositories(client: Client) -> None:
    response = client.get("/v2/_catalog")

    assert json.loads(response.content) == {"repositories": []}


def test_a_pushed_repository_appears_in_the_catalog(client: Client, push_image, repository_name: str) -> None:  # type: ignore[no-untyped-def]
    push_image(repository_name, tag="latest")

    response = client.get("/v2/_catalog")

    assert json.loads(response.content)["repositories"] == [repository_name]


def test_a_repository_left_without_a_manifest_leaves_the_catalog_until_one_is_pushed(
    client: Client,
    push_image,  # type: ignore[no-untyped-def]
    push_blob,  # type: ignore[no-untyped-def]
) -> None:
    emptied = push_image("team/emptied", tag="latest")
    push_image("team/kept", tag="latest", layers=[b"kept"])
    # Made by a blob mount (skopeo and docker mount before pushing anything else), then left.
    mounted = client.post(f"/v2/team/mounted/blobs/uploads/?mount={emptied.layer_digests[0]}&from=team/emptied")
    assert mounted.status_code == 201
    push_blob("team/uploaded", b"a layer whose manifest never came")
    assert client.delete(f"/v2/team/emptied/manifests/{emptied.digest}").status_code == 202

    assert json.loads(client.get("/v2/_catalog").content) == {"repositories": ["team/kept"]}

    push_image("team/mounted", tag="v1", layers=[b"at last"])
    assert json.loads(client.get("/v2/_catalog").content) == {"repositories": ["team/kept", "team/mounted"]}


def test_n_limits_the_page_and_a_link_points_at_the_next_one(client: Client) -> None:
    add_repositories("a", "b", "c")

    response = client.get("/v2/_catalog?n=2")

    assert json.loads(response.content)["repositories"] == ["a", "b"]
    assert response["Link"] == '</v2/_catalog?n=2&last=b>; rel="next"'


def test_last_starts_the_page_after_that_repository(client: Client) -> None:
    add_repositories("a", "b", "c")

    response = client.get("/v2/_catalog?n=2&last=b")

    assert json.loads(response.content)["repositories"] == ["c"]
    assert "Link" not in response


def test_n_zero_answers_an_empty_list(client: Client) -> None:
    add_repositories("a")

    response = client.get("/v2/_catalog?n=0")

    assert response.status_code == 200
    assert json.loads(response.content)["repositories"] == []


def test_n_larger_than_the_maximum_page_is_capped(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_MAX_PAGE_SIZE = 2
    add_repositories("a", "b", "c")

    response = client.get("/v2/_catalog?n=1000")

    assert json.loads(response.content)["repositories"] == ["a", "b"]
    assert "Link" in response


@pytest.mark.parametrize("n", ["abc", "-1"])
def test_a_bad_n_is_pagination_number_invalid(client: Client, n: str) -> None:
    response = client.get(f"/v2/_catalog?n={n}")

    assert response.status_code == 400
    assert error_codes(response) == ["PAGINATION_NUMBER_INVALID"]


@pytest.mark.parametrize("count", [1, 50])
def test_the_catalog_costs_two_queries_however_many_repositories_there_are(
    client: Client,
    admin_user: User,
    django_assert_num_queries,  # type: ignore[no-untyped-def]
    count: int,
) -> None:
    add_repositories(*(f"repository-{number:03}" for number in range(count)))
    token = bearer_auth(admin_user, CATALOG)

    # One to learn who the token's subject may see, one for the page.
    with django_assert_num_queries(2):
        response = client.get("/v2/_catalog", HTTP_AUTHORIZATION=token)

    assert len(json.loads(response.content)["repositories"]) == count
