"""Restarting the registry loses nothing: pushed images, tags and uploads in progress survive."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import build_index


def skopeo(*arguments: str) -> str:
    completed = subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, f"skopeo {' '.join(arguments)} failed:\n{completed.stderr}"
    return completed.stdout


def test_an_image_pushed_before_a_restart_pulls_unchanged_after_it(live_registry: LiveRegistry, tmp_path: Path) -> None:
    index = build_index(tmp_path / "source", tag="v1")
    reference = f"docker://{live_registry.host}/restart/survivor:v1"
    skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        f"--dest-creds={live_registry.admin_creds}",
        index.reference,
        reference,
    )

    live_registry.restart()

    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        f"--src-creds={live_registry.admin_creds}",
        reference,
        f"oci:{tmp_path / 'pulled'}:v1",
    )
    [entry] = json.loads((tmp_path / "pulled" / "index.json").read_text())["manifests"]
    assert entry["digest"] == index.manifest.digest
    for blob in [index.manifest, *index.layers]:
        hex_digest = blob.digest.removeprefix("sha256:")
        assert (tmp_path / "pulled" / "blobs" / "sha256" / hex_digest).read_bytes() == (
            index.path / "blobs" / "sha256" / hex_digest
        ).read_bytes()
    tags = json.loads(
        skopeo(
            "list-tags",
            "--tls-verify=false",
            f"--creds={live_registry.admin_creds}",
            f"docker://{live_registry.host}/restart/survivor",
        )
    )
    assert tags["Tags"] == ["v1"]


def test_an_upload_begun_before_a_restart_can_be_finished_after_it(live_registry: LiveRegistry) -> None:
    first, second = os.urandom(700_000), os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(first + second).hexdigest()
    started = requests.post(
        f"{live_registry.url}/v2/restart/resumed/blobs/uploads/", auth=live_registry.admin_credentials, timeout=10
    )
    patched = requests.patch(
        started.headers["Location"],
        data=first,
        headers={"Content-Range": f"0-{len(first) - 1}", "Content-Type": "application/octet-stream"},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert patched.status_code == 202

    live_registry.restart()

    status = requests.get(patched.headers["Location"], auth=live_registry.admin_credentials, timeout=10)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{len(first) - 1}"
    # The new process has none of the running hash state; the digest must still check out.
    finished = requests.put(
        status.headers["Location"],
        params={"digest": digest},
        data=second,
        headers={"Content-Type": "application/octet-stream"},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert finished.status_code == 201, finished.text
    pulled = requests.get(
        f"{live_registry.url}/v2/restart/resumed/blobs/{digest}", auth=live_registry.admin_credentials, timeout=10
    )
    assert pulled.content == first + second
