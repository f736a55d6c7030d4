"""Abandoned uploads give their disk back; uploads in use are left alone."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.conftest import path_of
from v2api.models import Upload
from v2api.storage import paths

pytestmark = pytest.mark.django_db


def start_upload(client: Client, body: bytes) -> str:
    location = client.post("/v2/team/app/blobs/uploads/")["Location"]
    client.patch(path_of(location), data=body, content_type="application/octet-stream")
    return location.rsplit("/", 1)[1]


def test_an_upload_untouched_past_the_age_is_dropped_with_its_bytes(
    client: Client,
    storage_root: Path,
    capsys: pytest.CaptureFixture[str],
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    stale = start_upload(client, b"x" * 100)
    fresh = start_upload(client, b"y" * 10)
    Upload.objects.filter(id=stale).update(updated_at=timezone.now() - timedelta(days=2))

    # The bytes go once the row's deletion commits.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purgeuploads", "--max-age-seconds", "86400")

    assert not paths.upload_dir(storage_root, stale).exists()
    assert paths.upload_dir(storage_root, fresh).exists()
    assert "uploads_deleted: 1" in capsys.readouterr().out
    assert client.get(f"/v2/team/app/blobs/uploads/{stale}").status_code == 404
    assert client.get(f"/v2/team/app/blobs/uploads/{fresh}").status_code == 204


def test_files_a_crashed_request_left_without_a_row_are_removed(client: Client, storage_root: Path) -> None:
    leftover = paths.upload_dir(storage_root, "00000000-0000-0000-0000-000000000000")
    leftover.mkdir(parents=True)
    (leftover / "data").write_bytes(b"z" * 50)
    staged = paths.staging_dir(storage_root) / "tmp-leftover"
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(b"s" * 5)
    two_days_ago = time.time() - 2 * 86400
    for path in (leftover / "data", leftover, staged):
        os.utime(path, (two_days_ago, two_days_ago))

    call_command("purgeuploads", "--dry-run")
    assert leftover.exists() and staged.exists()

    call_command("purgeuploads")
    assert not leftover.exists() and not staged.exists()


def test_a_file_a_killed_single_request_upload_staged_goes_at_the_next_purge_not_a_day_later(
    client: Client, storage_root: Path
) -> None:
    staged = paths.staging_dir(storage_root) / "tmp-cut-push"
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(b"s" * 5)
    resumable = start_upload(client, b"r" * 7)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(staged, (two_hours_ago, two_hours_ago))
    Upload.objects.filter(id=resumable).update(updated_at=timezone.now() - timedelta(hours=2))

    call_command("purgeuploads")

    assert not staged.exists()
    # A chunked upload may still be resumed within the configured age.
    assert paths.upload_dir(storage_root, resumable).exists()
