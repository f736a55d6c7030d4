"""The recycle bin with skopeo against a registry of its own (a collection there frees only what
these tests deleted): a deleted tag is restored and pulled with the same digest and bytes, and the
collection after the window ends frees exactly what the deletion plan promised."""

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LiveRegistry, serving_registry
from tests.e2e.images import build_image
from tests.e2e.test_skopeo import layout_blob, push, registry_options, skopeo
from tests.tasks.conftest import bytes_on_disk


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    with serving_registry(tmp_path_factory.mktemp("recycling"), f"harbor_lite_e2e_recycle_{os.getpid()}") as live:
        yield live


def api(registry: LiveRegistry, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{registry.url}/api/v1/{path}", json=body, auth=registry.admin_credentials, timeout=10
    )


def collect(registry: LiveRegistry) -> dict[str, Any]:
    output = registry.manage("collectgarbage", "--grace-seconds", "0")
    result: dict[str, Any] = json.loads(output[output.index("{") :])
    return result


def test_a_tag_deleted_with_skopeo_is_restored_and_pulled_with_the_same_digest(
    registry: LiveRegistry, tmp_path: Path
) -> None:
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(200_000, 30_000))
    push(registry, image, f"docker://{registry.host}/bin/app:v1")
    assert api(registry, "patch", "projects/bin/", {"recycle_seconds": 3600}).status_code == 200
    on_disk = bytes_on_disk(registry.storage_root)

    skopeo("delete", *registry_options(registry), f"docker://{registry.host}/bin/app:v1")
    collection = collect(registry)
    gone = skopeo_fails("inspect", *registry_options(registry), f"docker://{registry.host}/bin/app:v1")
    (item,) = api(registry, "get", "projects/bin/recycle-bin/").json()
    restored = api(registry, "post", f"projects/bin/recycle-bin/{item['id']}/restore/")
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"--src-creds={registry.admin_creds}",
        f"docker://{registry.host}/bin/app:v1",
        f"oci:{tmp_path / 'pulled'}:pulled",
    )

    assert "manifest unknown" in gone
    assert item["tags"] == {"v1": image.manifest.digest}
    assert (collection["bytes_freed"], collection["bytes_in_recycle_bin"]) == (0, item["bytes_to_free"])
    assert item["bytes_to_free"] > 230_000
    assert bytes_on_disk(registry.storage_root) == on_disk
    assert restored.status_code == 200, restored.text
    pulled_index = json.loads((tmp_path / "pulled" / "index.json").read_text())
    assert pulled_index["manifests"][0]["digest"] == image.manifest.digest
    for descriptor in image.layers:
        assert layout_blob(tmp_path / "pulled", descriptor.digest) == layout_blob(image.path, descriptor.digest)


def test_the_collection_after_the_window_frees_exactly_what_the_plan_promised(
    registry: LiveRegistry, tmp_path: Path
) -> None:
    kept = build_image(tmp_path / "kept", tag="kept", layer_sizes=(100_000,))
    doomed = build_image(tmp_path / "doomed", tag="doomed", layer_sizes=(300_000, 20_000))
    for layout in (kept, doomed):
        push(registry, layout, f"docker://{registry.host}/bin/gc:{layout.tag}")
    # Long enough for a collection (a manage.py start) to run inside it.
    assert api(registry, "patch", "projects/bin/", {"recycle_seconds": 15}).status_code == 200
    plan = api(registry, "post", "repositories/bin/gc/deletion-plan/", {"digests": [doomed.manifest.digest]}).json()
    before = bytes_on_disk(registry.storage_root)

    skopeo("delete", *registry_options(registry), f"docker://{registry.host}/bin/gc:doomed")
    (item,) = api(registry, "get", "projects/bin/recycle-bin/").json()
    within = collect(registry)
    time.sleep(max(0.0, datetime.fromisoformat(item["expires_at"]).timestamp() - time.time()) + 0.5)
    after = collect(registry)

    assert plan["restorable_until"] is not None
    assert item["bytes_to_free"] == plan["bytes_to_free"]
    assert within["bytes_freed"] == 0
    assert after["recycled_deletions_expired"] == 1
    assert after["bytes_freed"] == plan["bytes_to_free"] == before - bytes_on_disk(registry.storage_root)
    assert plan["bytes_to_free"] > 320_000
    assert api(registry, "get", "projects/bin/recycle-bin/").json() == []
    skopeo("inspect", *registry_options(registry), f"docker://{registry.host}/bin/gc:kept")


def skopeo_fails(*arguments: str) -> str:
    """skopeo's error output for a command that must fail."""
    completed = subprocess.run(["skopeo", *arguments], capture_output=True, text=True, timeout=120)
    assert completed.returncode != 0, completed.stdout
    return completed.stderr


def test_an_image_the_collector_deletes_untagged_waits_in_the_bin_and_is_restored_by_digest(
    registry: LiveRegistry, tmp_path: Path
) -> None:
    old = build_image(tmp_path / "old", tag="v1", layer_sizes=(150_000,))
    new = build_image(tmp_path / "new", tag="v1", layer_sizes=(60_000,))
    push(registry, old, f"docker://{registry.host}/untag/app:v1")
    push(registry, new, f"docker://{registry.host}/untag/app:v1")
    assert api(registry, "patch", "projects/untag/", {"recycle_seconds": 3600}).status_code == 200
    policy = api(registry, "put", "projects/untag/retention/", {"delete_untagged": True, "rules": []})
    assert policy.status_code == 200, policy.text
    on_disk = bytes_on_disk(registry.storage_root)

    dry_run = json.loads(
        (output := registry.manage("collectgarbage", "--grace-seconds", "0", "--dry-run"))[output.index("{") :]
    )
    collection = collect(registry)
    (item,) = api(registry, "get", "projects/untag/recycle-bin/").json()
    gone = skopeo_fails(
        "inspect", *registry_options(registry), f"docker://{registry.host}/untag/app@{old.manifest.digest}"
    )
    restored = api(registry, "post", f"projects/untag/recycle-bin/{item['id']}/restore/")
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"--src-creds={registry.admin_creds}",
        f"docker://{registry.host}/untag/app@{old.manifest.digest}",
        f"oci:{tmp_path / 'pulled'}:pulled",
    )

    assert (item["action"], item["tags"], item["manifests"]) == ("gc.untagged", {}, [old.manifest.digest])
    assert item["bytes_to_free"] > 150_000
    assert (dry_run["manifests_deleted"], dry_run["bytes_freed"]) == (collection["manifests_deleted"], 0) == (1, 0)
    assert dry_run["bytes_in_recycle_bin"] == collection["bytes_in_recycle_bin"] >= item["bytes_to_free"]
    assert bytes_on_disk(registry.storage_root) == on_disk
    assert "manifest unknown" in gone
    assert restored.status_code == 200, restored.text
    assert restored.json()["tags"] == {}
    for descriptor in old.layers:
        assert layout_blob(tmp_path / "pulled", descriptor.digest) == layout_blob(old.path, descriptor.digest)
