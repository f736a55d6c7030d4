"""/health/live and /health/ready: JSON, 200 when the process can serve, 503 naming what fails."""

import json
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_live_answers_200_without_credentials(anonymous_client: Client) -> None:
    response = anonymous_client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_the_database_redis_and_storage(anonymous_client: Client, storage_root: Path) -> None:
    storage_root.mkdir()

    response = anonymous_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok", "redis": "ok"},
        "warnings": [],
    }
    # The write probe leaves nothing behind in the blob store.
    assert list(storage_root.iterdir()) == []


def test_ready_is_503_when_the_storage_root_is_missing(anonymous_client: Client) -> None:
    response = anonymous_client.get("/health/ready")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"] == "failed: FileNotFoundError"
    assert body["checks"]["database"] == "ok"


def test_ready_is_503_when_redis_does_not_answer(anonymous_client: Client, storage_root: Path, settings) -> None:  # type: ignore[no-untyped-def]
    storage_root.mkdir()
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"

    response = anonymous_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failed: ConnectionError"


def test_ready_without_redis_configured_does_not_check_it(
    anonymous_client: Client, storage_root: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    storage_root.mkdir()
    settings.REDIS_URL = ""

    assert "redis" not in anonymous_client.get("/health/ready").json()["checks"]


def test_health_endpoints_refuse_a_post_with_405_not_500(anonymous_client: Client) -> None:
    assert anonymous_client.post("/health/live").status_code == 405
    assert anonymous_client.post("/health/ready").status_code == 405
