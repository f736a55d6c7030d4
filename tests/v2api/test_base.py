"""end-1 and what every /v2/ response shares: the version header and OCI error bodies."""

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve

from tests.conftest import error_codes

pytestmark = pytest.mark.django_db


def test_the_base_endpoint_answers_200_with_the_api_version_header(client: Client) -> None:
    response = client.get("/v2/")

    assert response.status_code == 200
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"
    assert json.loads(response.content) == {}


def test_the_base_endpoint_answers_head(client: Client) -> None:
    response = client.head("/v2/")

    assert response.status_code == 200
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"


def test_an_error_also_carries_the_api_version_header(client: Client) -> None:
    response = client.get("/v2/library/alpine/manifests/latest")

    assert response.status_code == 404
    assert response["Docker-Distribution-API-Version"] == "registry/2.0"


def test_an_unknown_path_under_v2_is_an_oci_json_404(client: Client) -> None:
    response = client.get("/v2/library/alpine/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert [set(error) for error in body["errors"]] == [{"code", "message", "detail"}]
    assert error_codes(response) == ["UNSUPPORTED"]


def test_an_unsupported_method_is_unsupported_405(client: Client) -> None:
    response = client.post("/v2/library/alpine/manifests/latest")

    assert response.status_code == 405
    assert error_codes(response) == ["UNSUPPORTED"]


def test_an_unsupported_method_on_the_tag_list_is_unsupported_405(client: Client) -> None:
    response = client.delete("/v2/library/alpine/tags/list")

    assert response.status_code == 405
    assert error_codes(response) == ["UNSUPPORTED"]


@pytest.mark.parametrize(
    "name",
    ["Library/Alpine", "library//alpine", "library/alpine-", "-library", "a___b", "a/" + "b" * 300],
)
def test_a_bad_repository_name_is_name_invalid_not_404(client: Client, name: str) -> None:
    response = client.get(f"/v2/{name}/tags/list")

    assert response.status_code == 400
    assert error_codes(response) == ["NAME_INVALID"]


def test_a_bad_repository_name_is_name_invalid_when_starting_an_upload(client: Client) -> None:
    response = client.post("/v2/UPPER/blobs/uploads/")

    assert response.status_code == 400
    assert error_codes(response) == ["NAME_INVALID"]


def test_a_head_error_keeps_its_status_and_carries_no_body() -> None:
    # The test client drops HEAD bodies itself, so ask the view directly (anonymously: a 401).
    path = "/v2/library/alpine/manifests/latest"
    request = RequestFactory().head(path)
    match = resolve(path)

    response = match.func(request, *match.args, **match.kwargs)

    assert response.status_code == 401
    assert response.content == b""
    assert int(response["Content-Length"]) > 0


def test_an_unexpected_failure_is_a_generic_500_and_its_traceback_is_logged(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("v2api.views.catalog.list_repositories", broken)

    response = client.get("/v2/_catalog")

    assert response.status_code == 500
    assert error_codes(response) == ["UNKNOWN"]
    assert b"secret internals" not in response.content
    assert "RuntimeError: secret internals" in caplog.text


def test_options_answers_the_allowed_methods(client: Client) -> None:
    response = client.options("/v2/library/alpine/manifests/latest")

    assert response.status_code == 200
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    assert response.content == b""
