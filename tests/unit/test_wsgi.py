"""The WSGI entry point sends /v2/ through the API's lean stack and the rest through the dashboard's."""

import io
from typing import Any

import pytest

from registry_ui.wsgi import application

# The handlers close stale database connections at the end of every request.
pytestmark = pytest.mark.django_db


def call(path: str) -> tuple[str, dict[str, str]]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "registry.lan",
        "SERVER_PORT": "5000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    b"".join(application(environ, start_response))
    return captured["status"], captured["headers"]


def test_the_registry_api_answers_without_the_dashboards_middleware() -> None:
    status, headers = call("/v2/")

    assert status.startswith("401")
    assert headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert "X-Frame-Options" not in headers
    assert "X-Request-ID" in headers
    assert int(headers["Content-Length"]) > 0


def test_the_dashboard_keeps_its_middleware() -> None:
    # A page that needs a login: its redirect asks nothing of the database.
    status, headers = call("/jobs/")

    assert status.startswith("302")
    assert headers["X-Frame-Options"] == "DENY"
