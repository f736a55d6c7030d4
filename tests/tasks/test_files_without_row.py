"""Blob files without a row are reclaimed: a push whose database connection is lost after its file
is in blobs/ and before its row commits leaves the file behind, and the collector sweeps such files
once they are older than the grace window, never one a push is recording at that moment."""

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from oci.digests import Digest
from tests.conftest import PASSWORD, basic_auth, digest_of
from tests.tasks.conftest import blob_file
from tests.tcp_proxy import TcpProxy
from v2api.models import Blob
from v2api.services.gc import collect_garbage

pytestmark = pytest.mark.django_db(transaction=True)
GRACE = timedelta(hours=2)


def push_losing_the_database(proxy: TcpProxy, admin_user: User, data: bytes) -> str:
    """A single-request blob push whose connection drops once the file is in place, before the row commits."""
    digest = digest_of(data)
    cuts = proxy.markers_seen
    # Linking the blob into the repository comes right after its file moves into blobs/.
    proxy.cut_before(b"INSERT INTO v2api_repositoryblob ")
    pusher = Client(raise_request_exception=False, HTTP_AUTHORIZATION=basic_auth(admin_user.username, PASSWORD))
    pusher.post(f"/v2/team/app/blobs/uploads/?digest={digest}", data=data, content_type="application/octet-stream")
    assert proxy.markers_seen == cuts + 1
    return digest


def age(path: Path, by: timedelta) -> None:
    then = time.time() - by.total_seconds()
    os.utime(path, (then, then))


def test_a_file_left_by_a_push_that_lost_the_database_is_collected_after_the_grace_window(
    database_through_proxy: TcpProxy, admin_user: User, storage_root: Path
) -> None:
    old = blob_file(storage_root, push_losing_the_database(database_through_proxy, admin_user, b"old leftover"))
    young = blob_file(storage_root, push_losing_the_database(database_through_proxy, admin_user, b"young leftover"))
    assert old.exists() and young.exists() and not Blob.objects.exists()
    age(old, GRACE + timedelta(minutes=1))

    assert collect_garbage(GRACE, dry_run=True).files_without_row_deleted == 1
    assert old.exists()
    report = collect_garbage(GRACE)

    assert (report.files_without_row_deleted, report.bytes_freed) == (1, len(b"old leftover"))
    assert not old.exists()
    assert young.exists()


def _own_connection() -> Any:
    database = settings.DATABASES["default"]
    return psycopg2.connect(
        dbname=database["NAME"],
        user=database["USER"] or "postgres",
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    )


def test_an_old_file_a_push_is_recording_right_now_is_not_collected(
    database_through_proxy: TcpProxy, admin_user: User, storage_root: Path
) -> None:
    data = b"recorded again"
    path = blob_file(storage_root, push_losing_the_database(database_through_proxy, admin_user, data))
    age(path, GRACE + timedelta(minutes=1))
    pusher = _own_connection()
    try:
        with pusher.cursor() as cursor:
            # A second push of the same bytes, between inserting its row and committing it.
            cursor.execute(
                "INSERT INTO v2api_blob (digest, size, created_at) VALUES (%s, %s, now())",
                [str(Digest.parse(digest_of(data))), len(data)],
            )
            reports: list[Any] = []
            collector = threading.Thread(target=lambda: reports.append(collect_garbage(GRACE)))
            collector.start()
            collector.join(timeout=1)
            assert collector.is_alive(), "the collector waits for the push's row"
        pusher.commit()
        collector.join(timeout=10)
    finally:
        pusher.close()

    assert reports[0].files_without_row_deleted == 0
    assert path.exists()
