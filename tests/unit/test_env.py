import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry_ui.env import database_from_url, env_bool, env_int, env_secret


def test_a_boolean_that_is_not_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_SOMETHING", "maybe")
    with pytest.raises(ImproperlyConfigured, match="REGISTRY_SOMETHING='maybe' is not a boolean"):
        env_bool("REGISTRY_SOMETHING", False)


def test_an_integer_below_its_minimum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_MAX_PAGE_SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="REGISTRY_MAX_PAGE_SIZE='0' must be at least 1"):
        env_int("REGISTRY_MAX_PAGE_SIZE", 1000, minimum=1)


def test_an_integer_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_MAX_PAGE_SIZE", "lots")
    with pytest.raises(ImproperlyConfigured, match="is not an integer"):
        env_int("REGISTRY_MAX_PAGE_SIZE", 1000)


def test_a_secret_is_read_from_the_file_its_FILE_variable_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("s3cret\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert env_secret("SECRET_KEY", "") == "s3cret"


def test_a_postgres_url_becomes_a_django_database() -> None:
    database = database_from_url("DATABASE_URL", "postgres://reg:p%40ss@db.lan:5433/registry")
    assert database["ENGINE"] == "registry_ui.postgresql"
    assert (database["USER"], database["PASSWORD"], database["HOST"], database["PORT"], database["NAME"]) == (
        "reg",
        "p@ss",
        "db.lan",
        "5433",
        "registry",
    )


def test_a_database_url_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL='mysql://x/y' is not understood"):
        database_from_url("DATABASE_URL", "mysql://x/y")


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"REGISTRY_STORAGE": "s3"}, "REGISTRY_STORAGE=s3 needs REGISTRY_S3_BUCKET"),
        ({"REGISTRY_STORAGE": "disk"}, "REGISTRY_STORAGE='disk'"),
        (
            {"REGISTRY_STORAGE": "s3", "REGISTRY_S3_BUCKET": "b", "REGISTRY_ACCEL_REDIRECT_PREFIX": "/_blobs"},
            "REGISTRY_ACCEL_REDIRECT_PREFIX serves files from disk",
        ),
    ],
)
def test_a_storage_setting_that_cannot_work_stops_the_start(environment: dict[str, str], message: str) -> None:
    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert started.returncode != 0
    assert message in started.stderr
