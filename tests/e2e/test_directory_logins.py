"""The company directory with real clients: a live registry configured for the test slapd
(tests/directory.py) as an operator would, skopeo and the docker CLI logging in with directory
passwords, skopeo pushing, and project roles coming from directory groups. The docker CLI's own
login (no dockerd) sends the password as Basic on GET /v2/ first, skopeo's to /auth/token."""

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings as django_settings

from accounts import directory_breaker
from tests.directory import PASSWORD, Directory
from tests.e2e.conftest import LiveRegistry, serving_registry
from tests.e2e.images import OciLayout, build_image


@pytest.fixture(scope="module")
def registry(directory: Directory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    """A registry whose `team` project gives the directory group `developers` the developer role."""
    database = f"harbor_lite_e2e_directory_{os.getpid()}"
    with serving_registry(tmp_path_factory.mktemp("directory-registry"), database, **directory.environment()) as live:
        admin = live.admin_credentials
        for path, body in (
            ("projects/", {"name": "team", "public": False}),
            ("projects/team/groups/", {"group": "developers", "role": "developer"}),
        ):
            response = requests.post(f"{live.url}/api/v1/{path}", json=body, auth=admin, timeout=30)
            assert response.status_code == 201, response.text
        yield live


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> OciLayout:
    return build_image(tmp_path_factory.mktemp("directory-image") / "layout", tag="v1")


def skopeo(*arguments: str, auth_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *arguments, "--authfile", str(auth_file)], capture_output=True, text=True, timeout=120
    )


def login(registry: LiveRegistry, username: str, auth_file: Path) -> subprocess.CompletedProcess[str]:
    """`skopeo login`: docker login's exchange, Basic to /auth/token."""
    arguments = ["login", "--tls-verify=false", "--authfile", str(auth_file), "-u", username, "--password-stdin"]
    return subprocess.run(
        ["skopeo", *arguments, registry.host],
        input=PASSWORD,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_developer_by_group_logs_in_with_skopeo_and_pushes_and_pulls(
    registry: LiveRegistry, image: OciLayout, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    reference = f"docker://{registry.host}/team/app:v1"

    logged_in = login(registry, "dora", auth_file)
    assert logged_in.returncode == 0, logged_in.stderr
    assert "Login Succeeded" in logged_in.stdout

    pushed = skopeo("copy", "--dest-tls-verify=false", image.reference, reference, auth_file=auth_file)
    assert pushed.returncode == 0, pushed.stderr
    inspected = skopeo("inspect", "--tls-verify=false", "--raw", reference, auth_file=auth_file)
    assert inspected.returncode == 0, inspected.stderr
    assert (
        image.manifest.digest
        in skopeo("inspect", "--tls-verify=false", "--format", "{{.Digest}}", reference, auth_file=auth_file).stdout
    )


def test_a_person_in_no_group_logs_in_but_may_not_push_to_the_project(
    registry: LiveRegistry, image: OciLayout, tmp_path: Path
) -> None:
    auth_file = tmp_path / "auth.json"
    assert login(registry, "gina", auth_file).returncode == 0

    refused = skopeo(
        "copy",
        "--dest-tls-verify=false",
        image.reference,
        f"docker://{registry.host}/team/gina:v1",
        auth_file=auth_file,
    )

    assert refused.returncode != 0
    assert "403 (Forbidden)" in refused.stderr


def test_the_admin_group_pushes_into_a_new_project(registry: LiveRegistry, image: OciLayout, tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.json"
    assert login(registry, "erin", auth_file).returncode == 0

    pushed = skopeo(
        "copy", "--dest-tls-verify=false", image.reference, f"docker://{registry.host}/ops/tool:v1", auth_file=auth_file
    )

    assert pushed.returncode == 0, pushed.stderr


def test_the_disabled_person_cannot_log_in(registry: LiveRegistry, tmp_path: Path) -> None:
    refused = login(registry, "frank", tmp_path / "auth.json")

    assert refused.returncode != 0
    assert "invalid username/password" in refused.stderr


@pytest.fixture
def outage(directory: Directory) -> Iterator[Directory]:
    """The directory stopped for the test; the breaker the outage opens in the live registry
    (accounts/directory_breaker.py, in the shared Redis) closed again after it, so the next test's
    logins ask the directory at once rather than after the cool-down."""
    try:
        with directory.stopped():
            yield directory
    finally:
        with redis.Redis.from_url(django_settings.REDIS_URL) as shared:
            for key in shared.scan_iter(f"*{directory_breaker.key_prefix(directory.uri)}*"):
                shared.delete(key)


def test_with_the_directory_stopped_the_admin_logs_in_and_a_person_hears_why_not(
    registry: LiveRegistry, outage: Directory, tmp_path: Path
) -> None:
    started = time.monotonic()
    refused = login(registry, "hana", tmp_path / "hana.json")
    elapsed = time.monotonic() - started
    token = requests.get(f"{registry.url}/auth/token", auth=("hana", PASSWORD), timeout=10)
    admin = requests.get(f"{registry.url}/v2/", auth=registry.admin_credentials, timeout=10)
    docker = docker_login(registry, "hana", tmp_path)

    # skopeo and docker print the status, not the body: a 503, not "invalid username/password".
    assert refused.returncode != 0
    assert "503 (Service Unavailable)" in refused.stderr, refused.stderr
    assert docker.returncode != 0
    assert "503 Service Unavailable" in docker.stderr, docker.stderr
    assert elapsed < 5
    assert token.status_code == 503
    assert "directory" in token.json()["errors"][0]["message"]
    assert admin.status_code == 200


def docker_login(registry: LiveRegistry, username: str, config: Path) -> subprocess.CompletedProcess[str]:
    """The docker CLI alone (no dockerd here): it does the token exchange itself."""
    return subprocess.run(
        ["docker", "login", registry.host, "-u", username, "--password-stdin"],
        input=PASSWORD,
        env={**os.environ, "DOCKER_CONFIG": str(config), "DOCKER_HOST": f"unix://{config / 'no-daemon.sock'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_docker_cli_logs_in_with_a_directory_password(registry: LiveRegistry, tmp_path: Path) -> None:
    logged_in = docker_login(registry, "dora", tmp_path)

    assert logged_in.returncode == 0, logged_in.stderr
    assert "Login Succeeded" in logged_in.stdout


def test_a_personal_token_of_a_person_disabled_in_the_directory_is_refused_after_the_recheck(
    registry: LiveRegistry, directory: Directory, tmp_path: Path
) -> None:
    """No login of the person in between: beat's re-check (run here by its management command)
    is what ends the token. Enabled again in the directory, the person logs in with their
    password; the token stays revoked."""
    dn = directory.add_person("ivan")
    try:
        created = requests.post(
            f"{registry.url}/api/v1/users/me/tokens/", json={"name": "ci"}, auth=("ivan", PASSWORD), timeout=30
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        auth_file = tmp_path / "auth.json"
        arguments = ["login", "--tls-verify=false", "--authfile", str(auth_file), "-u", "ivan", "--password-stdin"]

        def skopeo_login(password: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["skopeo", *arguments, registry.host], input=password, capture_output=True, text=True, timeout=60
            )

        assert skopeo_login(secret).returncode == 0
        with directory.locked("ivan"):
            output = registry.manage("recheckdirectory")
            refused = skopeo_login(secret)
        back = skopeo_login(PASSWORD)
        refused_once_back = skopeo_login(secret)
    finally:
        directory.remove(dn)

    assert "deactivated ivan: disabled in the directory" in output
    assert refused.returncode != 0
    assert "invalid username/password" in refused.stderr
    assert back.returncode == 0, back.stderr
    assert refused_once_back.returncode != 0
    assert "invalid username/password" in refused_once_back.stderr
