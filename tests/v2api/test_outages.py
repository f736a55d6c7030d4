"""An unlucky day answered clearly: a lost database is 503 UNAVAILABLE with Retry-After (the
connection cut by a proxy the test controls, the shared Postgres untouched), a full disk is 507
INSUFFICIENT_STORAGE (a real 1 MiB tmpfs as the storage root), and readiness reports low free
space. Before, both answered 500 UNKNOWN, and readiness said storage ok on a full disk."""

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.scopes import PULL, PUSH, repository_scope
from tests.conftest import PASSWORD, basic_auth, bearer_auth, digest_of
from tests.tcp_proxy import TcpProxy
from v2api.errors import DATABASE_RETRY_AFTER_SECONDS

NAME = "team/app"


def error_code(response: Any) -> str:
    return str(json.loads(response.content)["errors"][0]["code"])


@pytest.mark.django_db(transaction=True)
def test_requests_while_the_database_is_down_answer_503_with_retry_after(
    database_through_proxy: TcpProxy, admin_user: User
) -> None:
    callers = {
        "password": basic_auth(admin_user.username, PASSWORD),
        "token": bearer_auth(admin_user, repository_scope(NAME, PULL)),
    }
    database_through_proxy.cut()

    for caller, authorization in callers.items():
        response = Client().get(f"/v2/{NAME}/manifests/v1", HTTP_AUTHORIZATION=authorization)
        assert (response.status_code, error_code(response)) == (503, "UNAVAILABLE"), caller
        assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)


@pytest.fixture
def small_disk(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """A 1 MiB tmpfs as the storage root: a real filesystem that fills up."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    settings.REGISTRY_STORAGE_ROOT = mount_point
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.mark.django_db
def test_a_push_to_a_full_disk_answers_507_and_leaves_the_space_free(
    small_disk: Path, admin_user: User, client: Client
) -> None:
    layer = b"x" * (2 * 1024 * 1024)
    free_before = shutil.disk_usage(small_disk).free
    token = bearer_auth(admin_user, repository_scope(NAME, PULL, PUSH))

    whole = client.post(
        f"/v2/{NAME}/blobs/uploads/?digest={digest_of(layer)}", data=layer, content_type="application/octet-stream"
    )
    started = Client().post(f"/v2/{NAME}/blobs/uploads/", HTTP_AUTHORIZATION=token)
    chunk = Client().patch(
        started["Location"], data=layer, content_type="application/octet-stream", HTTP_AUTHORIZATION=token
    )

    for response in (whole, chunk):
        assert (response.status_code, error_code(response)) == (507, "INSUFFICIENT_STORAGE")
    assert shutil.disk_usage(small_disk).free == free_before


@pytest.mark.django_db
def test_readiness_reports_low_free_space(small_disk: Path, settings: Any) -> None:
    settings.REGISTRY_STORAGE_MIN_FREE_BYTES = 512 * 1024
    assert Client().get("/health/ready").json()["warnings"] == []

    (small_disk / "filler").write_bytes(b"x" * 700 * 1024)
    response = Client().get("/health/ready")

    # Still ready: nginx, the worker and beat wait for a ready web, and the collector frees the disk.
    assert response.status_code == 200
    assert response.json()["warnings"] == ["storage: low free space"]
