"""The audit log after a scripted session with real clients: a skopeo push and pull, a delete
through the registry API, a failed `skopeo login` and a role change hold exactly those events,
each with the actor who did it."""

import secrets
import subprocess
import time
from pathlib import Path

import requests

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import build_image

PASSWORD = "a long passphrase for bob 7"


def skopeo(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)


def test_a_scripted_session_leaves_exactly_its_events_with_their_actors(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    admin = live_registry.admin_credentials
    api = f"{live_registry.url}/api/v1/"
    project, bob = f"audit-{secrets.token_hex(4)}", f"bob-{secrets.token_hex(4)}"
    image = f"docker://{live_registry.host}/{project}/app:v1"
    for path, body in [
        ("users/", {"username": bob, "password": PASSWORD}),
        ("projects/", {"name": project}),
        (f"projects/{project}/members/", {"username": bob, "role": "maintainer"}),
    ]:
        made = requests.post(api + path, json=body, auth=admin, timeout=10)
        assert made.status_code == 201, made.text
    layout = build_image(tmp_path / "image", tag="v1")

    pushed = skopeo("copy", "--dest-tls-verify=false", f"--dest-creds={bob}:{PASSWORD}", layout.reference, image)
    pulled = skopeo("copy", "--src-tls-verify=false", f"--src-creds={bob}:{PASSWORD}", image, f"dir:{tmp_path / 'out'}")
    digest = layout.manifest.digest
    deleted = requests.delete(f"{live_registry.url}/v2/{project}/app/manifests/{digest}", auth=admin, timeout=10)
    login = skopeo(
        "login",
        "--tls-verify=false",
        f"--authfile={tmp_path / 'auth.json'}",
        "-u",
        bob,
        "-p",
        "wrong",
        live_registry.host,
    )
    demoted = requests.patch(api + f"projects/{project}/members/{bob}/", json={"role": "guest"}, auth=admin, timeout=10)

    assert pushed.returncode == 0, pushed.stderr
    assert pulled.returncode == 0, pulled.stderr
    assert deleted.status_code == 202, deleted.text
    assert login.returncode != 0
    assert demoted.status_code == 200, demoted.text
    # What beat does every few seconds (no beat runs beside the test server), once the worker
    # that served the pull has sent it (its thread does every second).
    flushed = 0
    deadline = time.monotonic() + 10
    while not flushed and time.monotonic() < deadline:
        time.sleep(0.5)
        output = live_registry.manage(
            "shell", "--no-imports", "-c", "from audit.tasks import flush_pull_events; print(flush_pull_events())"
        )
        flushed = int(output)
    assert flushed == 1

    logged = requests.get(api + f"projects/{project}/audit-logs/", auth=admin, timeout=10).json()["results"]
    failed = requests.get(api + f"audit-logs/?user={bob}&action=login.failed", auth=admin, timeout=10).json()
    admin_name = admin[0]
    assert [(e["action"], e["actor_kind"], e["actor_name"], e["resource"]) for e in reversed(logged)] == [
        ("project.create", "user", admin_name, project),
        ("member.add", "user", admin_name, bob),
        ("manifest.push", "user", bob, f"{project}/app:v1"),
        ("manifest.pull", "user", bob, f"{project}/app:v1"),
        ("image.delete", "user", admin_name, f"{project}/app@{digest}"),
        ("member.role.change", "user", admin_name, bob),
    ]
    push, pull = logged[3], logged[2]
    assert push["detail"]["digest"] == pull["detail"]["digest"] == digest
    assert push["client_address"] == "127.0.0.1" and push["user_agent"].startswith("skopeo/")
    assert [(e["actor_name"], e["outcome"], e["detail"]) for e in failed["results"]] == [
        (bob, "failure", {"channel": "token"})
    ]
