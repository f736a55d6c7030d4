"""Replication between two live Harbor-lite instances, both with token auth: a push rule copies a
project's images (an index whole, a signature with its image) to the other instance, a pull
rule copies them back; a dry run lists what the run then copies; what the remote has is not sent
again (its access log shows mounts, not uploads); an image that failed is retried by itself.

`here` runs the rules, with Celery eager so a run finishes inside the request that starts it;
the session's live registry is the remote.
"""

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from benchmarks.servers import start_reference
from tests.e2e.access_log import AccessLog
from tests.e2e.conftest import LiveRegistry, serving_registry
from tests.e2e.images import OCI_MANIFEST, OciLayout, build_image, build_index
from v2api.remote_registry import RemoteRegistry
from v2api.upstream import Upstream, UpstreamError

EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SKOPEO_COPY = ("skopeo", "copy", "--all")
MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    with serving_registry(
        tmp_path_factory.mktemp("replicating-registry"),
        f"harbor_lite_replication_e2e_{os.getpid()}",
        CELERY_TASK_ALWAYS_EAGER="true",
        REGISTRY_REPLICATION_ATTEMPTS="2",
    ) as registry:
        yield registry


def create_project(registry: LiveRegistry, name: str, **settings: Any) -> None:
    created = requests.post(
        f"{registry.url}/api/v1/projects/", json={"name": name, **settings}, auth=registry.admin_credentials, timeout=10
    )
    assert created.status_code == 201, created.text


def push(registry: LiveRegistry, image: OciLayout, name: str) -> None:
    pushed = subprocess.run(
        [
            *SKOPEO_COPY,
            "--dest-tls-verify=false",
            f"--dest-creds={registry.admin_creds}",
            image.reference,
            f"docker://{registry.host}/{name}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr


def upload(registry: LiveRegistry, repository: str, content: bytes) -> dict[str, object]:
    """A monolithic upload (POST, then PUT with the bytes); the blob's descriptor."""
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    started = requests.post(
        f"{registry.url}/v2/{repository}/blobs/uploads/", auth=registry.admin_credentials, timeout=10
    )
    assert started.status_code == 202, started.text
    finished = requests.put(
        urljoin(registry.url, started.headers["Location"]),
        params={"digest": digest},
        data=content,
        headers={"Content-Type": "application/octet-stream"},
        auth=registry.admin_credentials,
        timeout=10,
    )
    assert finished.status_code == 201, finished.text
    return {"digest": digest, "size": len(content)}


def attach_signature(registry: LiveRegistry, repository: str, subject: OciLayout, signer: str = "ci") -> str:
    """A cosign-style signature whose `subject` is the image, pushed by digest; its digest."""
    config = upload(registry, repository, b"{}")
    claim = {"critical": {"image": subject.manifest.digest}, "optional": {"signer": signer}}
    payload = upload(registry, repository, json.dumps(claim).encode())
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, **config},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **payload}],
        "subject": subject.manifest.as_json(),
    }
    content = json.dumps(document).encode()
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    pushed = requests.put(
        f"{registry.url}/v2/{repository}/manifests/{digest}",
        data=content,
        headers={"Content-Type": OCI_MANIFEST},
        auth=registry.admin_credentials,
        timeout=10,
    )
    assert pushed.status_code == 201, pushed.text
    return digest


def tag_digest(registry: LiveRegistry, repository: str, tag: str) -> str | None:
    answer = requests.head(
        f"{registry.url}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_ACCEPT},
        auth=registry.admin_credentials,
        timeout=10,
    )
    return answer.headers["Docker-Content-Digest"] if answer.status_code == 200 else None


def referrers(registry: LiveRegistry, repository: str, digest: str) -> list[str]:
    answer = requests.get(
        f"{registry.url}/v2/{repository}/referrers/{digest}", auth=registry.admin_credentials, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return [descriptor["digest"] for descriptor in answer.json()["manifests"]]


def add_rule(registry: LiveRegistry, remote: LiveRegistry, **rule: Any) -> int:
    username, password = remote.admin_credentials
    created = requests.post(
        f"{registry.url}/api/v1/replication-rules/",
        json={"remote_url": remote.url, "remote_username": username, "remote_password": password, **rule},
        auth=registry.admin_credentials,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert "remote_password" not in created.json()
    return int(created.json()["id"])


def run(registry: LiveRegistry, rule_id: int, **body: Any) -> dict[str, Any]:
    """Start a run (eager: it ends inside the request) and return the job as the Jobs API shows it."""
    started = requests.post(
        f"{registry.url}/api/v1/replication-rules/{rule_id}/runs/",
        json=body,
        auth=registry.admin_credentials,
        timeout=120,
    )
    assert started.status_code == 202, started.text
    job = requests.get(started.headers["Location"], auth=registry.admin_credentials, timeout=10).json()
    assert job["kind"] == "replication"
    return dict(job)


def test_a_push_rule_copies_an_index_and_a_signed_image_as_its_dry_run_listed(
    here: LiveRegistry, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    create_project(here, "team")
    create_project(live_registry, "mirror")
    image = build_image(tmp_path / "image", tag="v1")
    index = build_index(tmp_path / "index", tag="v2")
    push(here, image, "team/app:v1")
    push(here, index, "team/multi:v2")
    push(here, build_image(tmp_path / "dev", tag="dev-1"), "team/app:dev-1")
    signature = attach_signature(here, "team/app", image)
    rule = add_rule(here, live_registry, name="to-mirror", direction="push", project="team", tags="*,!dev-*")
    requests.patch(
        f"{here.url}/api/v1/replication-rules/{rule}/", json={"remote_namespace": "mirror"}, auth=here.admin_credentials
    ).raise_for_status()

    dry_run = run(here, rule, dry_run=True)
    assert tag_digest(live_registry, "mirror/app", "v1") is None
    copied = run(here, rule)

    assert dry_run["state"] == "succeeded", dry_run["error"]
    assert dry_run["result"]["items"] == [
        f"team/app:v1 -> mirror/app:v1 ({image.manifest.digest})",
        f"team/multi:v2 -> mirror/multi:v2 ({index.manifest.digest})",
    ]
    assert copied["state"] == "succeeded", copied["error"]
    assert copied["result"]["copied"] == dry_run["result"]["items"]
    assert copied["result"]["failed"] == []
    assert tag_digest(live_registry, "mirror/app", "v1") == image.manifest.digest
    assert tag_digest(live_registry, "mirror/multi", "v2") == index.manifest.digest
    assert tag_digest(live_registry, "mirror/app", "dev-1") is None
    assert referrers(live_registry, "mirror/app", image.manifest.digest) == [signature]
    pulled = subprocess.run(
        [
            *SKOPEO_COPY,
            "--src-tls-verify=false",
            f"--src-creds={live_registry.admin_creds}",
            f"docker://{live_registry.host}/mirror/multi:v2",
            f"oci:{tmp_path / 'pulled'}:v2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pulled.returncode == 0, pulled.stderr

    remote_log = AccessLog(live_registry.data_dir / "server.log")
    again = run(here, rule)

    assert (again["state"], again["result"]["items"], again["result"]["up_to_date"]) == ("succeeded", [], 2)
    asked = [entry for entry in remote_log.wait_for(lambda logged: len(logged) >= 3) if entry.path.startswith("/v2/")]
    # Only HEADs of the tags and the signature (the first answered 401 before the token): nothing
    # is sent again.
    assert {entry.method for entry in asked} == {"HEAD"}
    assert sorted(entry.path for entry in asked if entry.status == 200) == [
        f"/v2/mirror/app/manifests/{signature}",
        "/v2/mirror/app/manifests/v1",
        "/v2/mirror/multi/manifests/v2",
    ]

    # Signed again after it was replicated: the image is listed and its new signature copied.
    second_signature = attach_signature(here, "team/app", image, signer="release-bot")
    listed = run(here, rule, dry_run=True)
    signed = run(here, rule)

    assert listed["result"]["items"] == [dry_run["result"]["items"][0]]
    assert signed["result"]["copied"] == listed["result"]["items"]
    assert (signed["result"]["manifests_sent"], signed["result"]["blobs_sent"]) == (1, 1)
    assert sorted(referrers(live_registry, "mirror/app", image.manifest.digest)) == sorted(
        [signature, second_signature]
    )


def test_blobs_the_remote_has_are_mounted_or_skipped_not_sent_again(
    here: LiveRegistry, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    create_project(here, "blobs")
    create_project(live_registry, "blobs-mirror")
    # A layer over a MiB goes in a streamed PATCH, the small ones with the PUT.
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(3 * 1024 * 1024, 16 * 1024))
    push(here, image, "blobs/first:v1")
    rule = add_rule(
        here, live_registry, name="blobs", direction="push", project="blobs", remote_namespace="blobs-mirror"
    )
    remote_log = AccessLog(live_registry.data_dir / "server.log")

    first = run(here, rule)

    assert first["state"] == "succeeded", first["error"]
    assert (first["result"]["blobs_sent"], first["result"]["blobs_mounted"]) == (3, 0)
    uploads = [entry for entry in remote_log.requests() if "/blobs/uploads/" in entry.path]
    # Two web workers log in either order: compared as sorted.
    assert sorted(entry.method for entry in uploads if entry.method in ("PATCH", "PUT")) == [
        "PATCH",
        "PUT",
        "PUT",
        "PUT",
    ]

    push(here, image, "blobs/second:v1")
    remote_log = AccessLog(live_registry.data_dir / "server.log")

    second = run(here, rule)

    assert second["state"] == "succeeded", second["error"]
    assert second["result"]["copied"] == [f"blobs/second:v1 -> blobs-mirror/second:v1 ({image.manifest.digest})"]
    assert (second["result"]["blobs_sent"], second["result"]["blobs_mounted"]) == (0, 3)
    sent = remote_log.wait_for(lambda logged: any(entry.method == "PUT" for entry in logged))
    # The first mount is answered 401 and sent again with a token for both repositories.
    mounts = [entry for entry in sent if entry.method == "POST" and "mount" in entry.query and entry.status != 401]
    assert [(entry.query["from"], entry.status) for entry in mounts] == [("blobs-mirror/first", 201)] * 3
    assert not [entry for entry in sent if entry.method in ("PATCH", "PUT") and "/blobs/" in entry.path]
    assert tag_digest(live_registry, "blobs-mirror/second", "v1") == image.manifest.digest


def test_a_pull_rule_copies_from_the_remote_and_retries_the_image_that_failed(
    here: LiveRegistry, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    create_project(live_registry, "source")
    image = build_image(tmp_path / "image", tag="v1", layer_sizes=(64 * 1024, 256 * 1024))
    index = build_index(tmp_path / "index", tag="v2")
    push(live_registry, image, "source/app:v1")
    push(live_registry, index, "source/multi:v2")
    signature = attach_signature(live_registry, "source/app", image)
    # Room for the index, not for the image's larger layer.
    create_project(here, "pulled", quota_bytes=200_000)
    rule = add_rule(
        here, live_registry, name="from-source", direction="pull", project="pulled", remote_namespace="source"
    )

    dry_run = run(here, rule, dry_run=True)
    first = run(here, rule)

    assert dry_run["result"]["items"] == [
        f"source/app:v1 -> pulled/app:v1 ({image.manifest.digest})",
        f"source/multi:v2 -> pulled/multi:v2 ({index.manifest.digest})",
    ]
    assert first["state"] == "failed"
    assert first["result"]["copied"] == [dry_run["result"]["items"][1]]
    [failure] = first["result"]["failed"]
    assert failure["item"] == dry_run["result"]["items"][0]
    assert "quota" in failure["error"]
    assert "1 image(s) not copied" in first["error"]
    assert tag_digest(here, "pulled/multi", "v2") == index.manifest.digest
    assert tag_digest(here, "pulled/app", "v1") is None

    requests.patch(
        f"{here.url}/api/v1/projects/pulled/", json={"quota_bytes": None}, auth=here.admin_credentials, timeout=10
    ).raise_for_status()
    retried = run(here, rule, retry_failed_of=first["id"])

    assert retried["state"] == "succeeded", retried["error"]
    assert retried["parameters"]["only"] == ["source/app:v1"]
    assert retried["result"]["copied"] == [failure["item"]]
    # The config and the small layer came in the failed run; the large one and the signature's two
    # now (its empty config may be linked from another project here, where earlier tests put it).
    result = retried["result"]
    assert (result["blobs_present"], result["blobs_sent"] + result["blobs_mounted"]) == (2, 3)
    assert tag_digest(here, "pulled/app", "v1") == image.manifest.digest
    assert referrers(here, "pulled/app", image.manifest.digest) == [signature]
    runs = requests.get(f"{here.url}/api/v1/replication-rules/{rule}/runs/", auth=here.admin_credentials, timeout=10)
    assert [job["id"] for job in runs.json()] == [retried["id"], first["id"], dry_run["id"]]


def test_an_on_push_rule_copies_the_pushed_image_and_nothing_else(
    here: LiveRegistry, live_registry: LiveRegistry, tmp_path: Path
) -> None:
    create_project(here, "live")
    create_project(live_registry, "live-mirror")
    earlier = build_image(tmp_path / "earlier", tag="v0")
    push(here, earlier, "live/app:v0")
    add_rule(
        here,
        live_registry,
        name="on-push",
        direction="push",
        project="live",
        trigger="on_push",
        remote_namespace="live-mirror",
    )
    image = build_image(tmp_path / "image", tag="v1")

    push(here, image, "live/app:v1")

    assert tag_digest(live_registry, "live-mirror/app", "v1") == image.manifest.digest
    assert tag_digest(live_registry, "live-mirror/app", "v0") is None


def test_the_reference_registry_is_a_destination_and_a_source_too(here: LiveRegistry, tmp_path: Path) -> None:
    """Debian's docker-registry, without auth and without a referrers API: images and indexes go
    there and come back, a large layer in a streamed PATCH it accepts."""
    reference = start_reference(tmp_path / "reference")
    try:
        create_project(here, "plain")
        create_project(here, "plain-back")
        image = build_image(tmp_path / "image", tag="v1", layer_sizes=(2 * 1024 * 1024,))
        index = build_index(tmp_path / "index", tag="v2")
        push(here, image, "plain/app:v1")
        push(here, index, "plain/multi:v2")
        create_project(here, "plain-named")
        rules = [
            {"name": "to-reference", "direction": "push", "project": "plain", "remote_namespace": "copies"},
            {"name": "from-reference", "direction": "pull", "project": "plain-back", "remote_namespace": "copies"},
            # Repositories named without a glob are read without the catalog (Docker Hub has none).
            {"name": "named", "direction": "pull", "project": "plain-named", "remote_namespace": "copies"}
            | {"repositories": "app"},
        ]
        there, back, named = (
            requests.post(
                f"{here.url}/api/v1/replication-rules/",
                json={"remote_url": f"http://127.0.0.1:{reference.port}", **rule},
                auth=here.admin_credentials,
                timeout=10,
            ).json()["id"]
            for rule in rules
        )

        pushed = run(here, there)
        log_start = reference.log_path.stat().st_size
        pulled_by_name = run(here, named)
        with open(reference.log_path, "rb") as log:
            log.seek(log_start)
            asked_by_name = log.read().decode(errors="replace")
        pulled = run(here, back)

        assert pushed["state"] == "succeeded", pushed["error"]
        assert len(pushed["result"]["copied"]) == 2
        assert pulled["state"] == "succeeded", pulled["error"]
        assert pulled["result"]["copied"] == [
            f"copies/app:v1 -> plain-back/app:v1 ({image.manifest.digest})",
            f"copies/multi:v2 -> plain-back/multi:v2 ({index.manifest.digest})",
        ]
        assert tag_digest(here, "plain-back/multi", "v2") == index.manifest.digest
        assert pulled_by_name["result"]["copied"] == [pulled["result"]["copied"][0].replace("-back", "-named")]
        assert "/v2/copies/app/tags/list" in asked_by_name
        assert "/v2/_catalog" not in asked_by_name
    finally:
        reference.stop()


def test_a_registry_that_asks_for_basic_auth_takes_a_large_layer(here: LiveRegistry, tmp_path: Path) -> None:
    """docker-registry with htpasswd answers every anonymous request with a Basic challenge: the
    streamed PATCH of a layer over a MiB must go with the credentials, as it cannot be sent twice."""
    passwords = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(passwords), "copier", "s3cret"], check=True, capture_output=True)
    reference = start_reference(tmp_path / "reference", htpasswd=passwords)
    try:
        create_project(here, "basic")
        image = build_image(tmp_path / "image", tag="v1", layer_sizes=(2 * 1024 * 1024,))
        push(here, image, "basic/app:v1")
        created = requests.post(
            f"{here.url}/api/v1/replication-rules/",
            json={
                "name": "to-basic",
                "direction": "push",
                "project": "basic",
                "remote_url": f"http://127.0.0.1:{reference.port}",
                "remote_username": "copier",
                "remote_password": "s3cret",
            },
            auth=here.admin_credentials,
            timeout=10,
        )
        assert created.status_code == 201, created.text

        pushed = run(here, created.json()["id"])

        assert pushed["state"] == "succeeded", pushed["error"]
        assert pushed["result"]["copied"] == [f"basic/app:v1 -> app:v1 ({image.manifest.digest})"]
        on_the_remote = requests.head(
            f"http://127.0.0.1:{reference.port}/v2/app/manifests/v1",
            headers={"Accept": MANIFEST_ACCEPT},
            auth=("copier", "s3cret"),
            timeout=10,
        )
        assert on_the_remote.headers.get("Docker-Content-Digest") == image.manifest.digest
    finally:
        reference.stop()


def test_a_token_fetched_with_one_password_is_not_lent_to_another(live_registry: LiveRegistry) -> None:
    """Tokens are kept per process: a rule (or proxy project) with the same remote and username
    but a wrong password must not be answered with the token the right one was given."""
    username, password = live_registry.admin_credentials
    rightful = RemoteRegistry(Upstream(live_registry.url, username, password), pushing=False)
    guessing = RemoteRegistry(Upstream(live_registry.url, username, "not the password"), pushing=False)

    rightful.repositories()
    with pytest.raises(UpstreamError) as refused:
        guessing.repositories()

    assert refused.value.status == 401


def test_two_registries_that_push_to_each_other_on_push_settle_after_one_round(
    here: LiveRegistry, tmp_path: Path
) -> None:
    """here's on-push rule copies a push to `there`; that copy is a push there, whose own on-push
    rule would copy it back: it finds here holding that digest already, and copies nothing, so
    the round ends instead of going back and forth."""
    with serving_registry(
        tmp_path / "there", f"harbor_lite_replication_there_{os.getpid()}", CELERY_TASK_ALWAYS_EAGER="true"
    ) as there:
        for registry, remote in ((here, there), (there, here)):
            create_project(registry, "both")
            add_rule(
                registry,
                remote,
                name="mirror",
                direction="push",
                project="both",
                trigger="on_push",
                remote_namespace="both",
            )
        image = build_image(tmp_path / "image", tag="v1")

        push(here, image, "both/app:v1")

        assert tag_digest(there, "both/app", "v1") == image.manifest.digest
        runs_there = requests.get(
            f"{there.url}/api/v1/jobs/", params={"kind": "replication"}, auth=there.admin_credentials, timeout=10
        ).json()
        runs_here = requests.get(
            f"{here.url}/api/v1/jobs/", params={"kind": "replication"}, auth=here.admin_credentials, timeout=10
        ).json()
    [back] = [job for job in runs_there["results"] if job["parameters"]["only"] == ["both/app:v1"]]
    assert (back["state"], back["result"]["items"], back["result"]["up_to_date"]) == ("succeeded", [], 1)
    assert len([job for job in runs_here["results"] if job["parameters"]["only"] == ["both/app:v1"]]) == 1
