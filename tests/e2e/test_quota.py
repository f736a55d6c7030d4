"""A project quota as a skopeo user meets it: the push is refused with a message saying what the
project uses, its quota and what the layer needs; once an administrator raises the quota
(through the management API) the same push goes through."""

import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import LiveRegistry
from tests.e2e.images import build_image
from v2api.services.quotas import human_size

KIB = 1024


def set_quota(live_registry: LiveRegistry, project: str, quota_bytes: int | None) -> None:
    response = requests.patch(
        f"{live_registry.url}/api/v1/projects/{project}/",
        json={"quota_bytes": quota_bytes},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def skopeo_push(live_registry: LiveRegistry, source: str, destination: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "skopeo",
            "copy",
            "--retry-times=0",
            "--dest-tls-verify=false",
            f"--dest-creds={live_registry.admin_creds}",
            source,
            destination,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_push_past_the_quota_is_refused_with_a_message_and_goes_through_once_it_is_raised(
    live_registry: LiveRegistry, tmp_path: Path
) -> None:
    created = requests.post(
        f"{live_registry.url}/api/v1/projects/",
        json={"name": "quota-e2e", "quota_bytes": 128 * KIB},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    # Random data: gzip cannot shrink the 256 KiB layer below the 128 KiB quota.
    image = build_image(tmp_path / "big", tag="v1", layer_sizes=(256 * KIB,))
    destination = f"docker://{live_registry.host}/quota-e2e/app:v1"
    [layer] = image.layers

    refused = skopeo_push(live_registry, image.reference, destination)

    assert refused.returncode != 0
    # skopeo streams the layer in one PATCH: the bytes are refused as they arrive.
    expected = (
        "quota exceeded: project quota-e2e uses 0 bytes of 128 KiB;"
        f" this chunk of an upload needs {human_size(layer.size)}"
    )
    assert expected in refused.stderr, refused.stderr
    assert "denied" in refused.stderr
    tags = requests.get(
        f"{live_registry.url}/v2/quota-e2e/app/tags/list", auth=live_registry.admin_credentials, timeout=10
    )
    assert not tags.json().get("tags")

    set_quota(live_registry, "quota-e2e", 10 * 1024 * KIB)
    accepted = skopeo_push(live_registry, image.reference, destination)

    assert accepted.returncode == 0, accepted.stderr
    usage = requests.get(
        f"{live_registry.url}/api/v1/projects/quota-e2e/usage/", auth=live_registry.admin_credentials, timeout=10
    ).json()
    assert layer.size < usage["total_bytes"] <= 10 * 1024 * KIB
