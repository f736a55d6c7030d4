"""What importregistry and migratestorage tell an operator who gets their arguments or settings
wrong, before anything is copied."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import S3Storage


def test_importregistry_refuses_a_folder_that_holds_no_registry_store(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=f"{tmp_path} is not a registry:2 filesystem store"):
        call_command("importregistry", str(tmp_path))


def test_importregistry_refuses_a_project_that_is_no_project_name(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--project 'Team/A': Use lowercase letters and digits"):
        call_command("importregistry", str(tmp_path), "--project", "Team/A")


def test_migratestorage_refuses_to_copy_into_the_store_in_use(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_STORAGE = "filesystem"

    with pytest.raises(CommandError, match="keeps its blobs in filesystem already"):
        call_command("migratestorage", "--to", "filesystem")


def test_migratestorage_asks_for_the_bucket_to_copy_into(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_S3_BUCKET = ""

    with pytest.raises(CommandError, match="blobs in S3 need REGISTRY_S3_BUCKET: set it to the bucket to copy into"):
        call_command("migratestorage", "--to", "s3")


def test_migratestorage_stops_before_copying_when_the_bucket_does_not_exist(
    s3_storage: S3Storage,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # The test SeaweedFS's endpoint and credentials (s3_storage), and a bucket it does not hold.
    settings.REGISTRY_STORAGE = "filesystem"
    settings.REGISTRY_S3_BUCKET = "no-such-bucket"

    with pytest.raises(CommandError, match="s3 takes no writes: An error occurred \\(404\\)"):
        call_command("migratestorage", "--to", "s3")
