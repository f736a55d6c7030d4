"""Accounts as real clients meet them: `docker login` with a user, a wrong password, `docker
logout`, `podman login` with a robot account, skopeo with `--creds`, a cross-project mount and
an anonymous pull from a public project. Users, projects and robots are made through the
management API, as an administrator's script would."""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.access_log import AccessLog
from tests.e2e.conftest import Docker, LiveRegistry
from tests.e2e.images import OciLayout, build_image

PASSWORD = "a long enough passphrase"


@dataclass(frozen=True)
class Team:
    """Project `team` (private) with alice as developer, `shared` (private) where alice is a guest,
    `public` (public), and a CI robot of `team` that may pull and push."""

    robot_login: str
    robot_secret: str


def api(live_registry: LiveRegistry, method: str, path: str, **body: Any) -> dict[str, Any]:
    response = requests.request(
        method,
        f"{live_registry.url}/api/v1/{path}",
        json=body or None,
        auth=live_registry.admin_credentials,
        timeout=30,
    )
    assert response.status_code in (200, 201), (path, response.status_code, response.text)
    return dict(response.json())


@pytest.fixture(scope="module")
def team(live_registry: LiveRegistry) -> Team:
    api(live_registry, "POST", "users/", username="alice", password=PASSWORD, email="alice@example.lan")
    for project, public in (("team", False), ("shared", False), ("public", True)):
        api(live_registry, "POST", "projects/", name=project, public=public)
    api(live_registry, "POST", "projects/team/members/", username="alice", role="developer")
    api(live_registry, "POST", "projects/shared/members/", username="alice", role="guest")
    robot = api(live_registry, "POST", "projects/team/robots/", name="ci", can_pull=True, can_push=True)
    return Team(robot_login=robot["login_name"], robot_secret=robot["secret"])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> OciLayout:
    return build_image(tmp_path_factory.mktemp("login-image") / "layout", tag="v1", runnable=True)


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)


def push_as_admin(live_registry: LiveRegistry, image: OciLayout, reference: str) -> None:
    copied = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        live_registry.admin_creds,
        image.reference,
        f"docker://{reference}",
    )
    assert copied.returncode == 0, copied.stderr


@pytest.fixture
def alices_docker(dockerd: Docker, tmp_path: Path) -> Iterator[Docker]:
    yield dockerd.as_another_user(tmp_path / "alice-docker-config")


def test_docker_login_as_a_user_then_push_and_pull(
    alices_docker: Docker, live_registry: LiveRegistry, team: Team, image: OciLayout, tmp_path: Path
) -> None:
    archive = tmp_path / "image.tar"
    assert skopeo("copy", image.reference, f"docker-archive:{archive}:login/hello:v1").returncode == 0
    alices_docker.run("load", "--input", str(archive))
    reference = f"{live_registry.host}/team/hello:v1"

    login = alices_docker.run("login", live_registry.host, "-u", "alice", "--password-stdin", stdin=PASSWORD)
    alices_docker.run("tag", "login/hello:v1", reference)
    alices_docker.run("push", reference)
    alices_docker.run("rmi", reference, "login/hello:v1")
    alices_docker.run("pull", reference)

    assert "Login Succeeded" in login
    assert "hello from harbor-lite" in alices_docker.run("run", "--rm", "--network", "none", reference)


def test_docker_login_with_a_wrong_password_is_refused(
    alices_docker: Docker, live_registry: LiveRegistry, team: Team
) -> None:
    refused = alices_docker.try_run("login", live_registry.host, "-u", "alice", "--password-stdin", stdin="wrong")

    assert refused.returncode != 0
    assert "incorrect username or password" in refused.stderr


def test_after_docker_logout_a_private_project_cannot_be_pulled(
    alices_docker: Docker, live_registry: LiveRegistry, team: Team, image: OciLayout
) -> None:
    reference = f"{live_registry.host}/team/private:v1"
    push_as_admin(live_registry, image, reference)
    alices_docker.run("login", live_registry.host, "-u", "alice", "--password-stdin", stdin=PASSWORD)
    alices_docker.run("pull", reference)
    alices_docker.run("rmi", reference)

    alices_docker.run("logout", live_registry.host)
    refused = alices_docker.try_run("pull", reference)

    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr or "denied" in refused.stderr


def test_podman_logs_in_with_a_robot_account_and_pushes_and_pulls(
    live_registry: LiveRegistry, team: Team, image: OciLayout, tmp_path: Path
) -> None:
    storage = tmp_path / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "graph"}"\nrunroot = "{tmp_path / "run"}"\n'
    )
    environment = {"CONTAINERS_STORAGE_CONF": str(storage), "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json")}
    reference = f"{live_registry.host}/team/from-ci:v1"

    def podman(*arguments: str, stdin: str | None = None) -> str:
        completed = subprocess.run(
            ["podman", *arguments],
            env={**os.environ, **environment},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    podman(
        "login",
        "--tls-verify=false",
        "-u",
        team.robot_login,
        "--password-stdin",
        live_registry.host,
        stdin=team.robot_secret,
    )
    podman("pull", image.reference)
    podman("tag", podman("images", "--quiet").split()[0], reference)
    podman("push", "--tls-verify=false", reference)
    podman("rmi", "--all", "--force")
    podman("pull", "--tls-verify=false", reference)

    assert reference in podman("images", "--format", "{{.Repository}}:{{.Tag}}")


def test_skopeo_with_a_developers_creds_copies_into_the_project_but_not_elsewhere(
    live_registry: LiveRegistry, team: Team, image: OciLayout
) -> None:
    allowed = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"alice:{PASSWORD}",
        image.reference,
        f"docker://{live_registry.host}/team/by-skopeo:v1",
    )
    refused = skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"alice:{PASSWORD}",
        image.reference,
        f"docker://{live_registry.host}/shared/by-skopeo:v1",
    )

    assert allowed.returncode == 0, allowed.stderr
    assert refused.returncode != 0
    assert "denied" in refused.stderr or "403" in refused.stderr


def test_a_copy_between_two_projects_the_user_can_read_mounts_the_layers(
    live_registry: LiveRegistry, team: Team, image: OciLayout
) -> None:
    # skopeo mounts only from where its cache says a blob lives: forget earlier pushes first.
    Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb").unlink(missing_ok=True)
    push_as_admin(live_registry, image, f"{live_registry.host}/shared/base:v1")
    log = AccessLog(live_registry.data_dir / "server.log")

    copied = skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        f"alice:{PASSWORD}",
        "--dest-creds",
        f"alice:{PASSWORD}",
        f"docker://{live_registry.host}/shared/base:v1",
        f"docker://{live_registry.host}/team/based:v1",
    )

    assert copied.returncode == 0, copied.stderr
    mounts = [request for request in log.requests() if request.query.get("mount") and request.is_for("team/based")]
    assert {request.query["mount"] for request in mounts} == {layer.digest for layer in image.layers}
    assert {request.status for request in mounts} == {201}


def test_anyone_pulls_from_a_public_project_without_logging_in_but_may_not_push(
    live_registry: LiveRegistry, team: Team, image: OciLayout, tmp_path: Path
) -> None:
    push_as_admin(live_registry, image, f"{live_registry.host}/public/hello:v1")

    pulled = skopeo(
        "copy", "--src-tls-verify=false", f"docker://{live_registry.host}/public/hello:v1", f"oci:{tmp_path / 'out'}:v1"
    )
    pushed = skopeo(
        "copy", "--dest-tls-verify=false", image.reference, f"docker://{live_registry.host}/public/anonymous:v1"
    )

    assert pulled.returncode == 0, pulled.stderr
    assert pushed.returncode != 0
