"""Replication from a remote that lies or rambles (tests/v2api/lying_registry.py): what it sends
is bounded and checked before anything is stored, and what it says is shown to the admin cut
short. The copies between honest registries are end to end (tests/e2e/test_replication.py)."""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import User

from accounts.models import Project
from tests.accounts.conftest import Api
from tests.v2api.lying_registry import Answer, LyingRegistry, lying_registry
from v2api.models import Blob, Job, Repository, Tag
from v2api.remote_registry import LISTING_LIMIT

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = b'{"architecture": "amd64", "os": "linux"}'
LAYER_SIZE = 4096
MIB = 1024 * 1024


def sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def run_pull(api: Api, root: User, eager: Any, remote: LyingRegistry) -> Job:
    """A pull rule from `remote`'s `app` into the project `team`, run once as a worker would."""
    created = api(
        "post",
        "replication-rules/",
        root,
        {"name": "from-liar", "direction": "pull", "remote_url": remote.url, "project": "team", "repositories": "app"},
    )
    assert created.status_code == 201, created.content
    with eager(execute=True):
        started = api("post", f"replication-rules/{created.json()['id']}/runs/", root, {})
    assert started.status_code == 202, started.content
    return Job.objects.get(id=started.json()["id"])


def image_answers(layer_digest: str, layer_size: int, layer: Answer) -> dict[str, Answer]:
    """A remote with one image, `app:v1`, whose layer is served as `layer`."""
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(CONFIG),
                "size": len(CONFIG),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}
            ],
        }
    ).encode()
    described = Answer(headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(manifest)}, body=manifest)
    return {
        "/v2/app/tags/list": Answer(body=b'{"name": "app", "tags": ["v1"]}'),
        "/v2/app/manifests/v1": described,
        f"/v2/app/manifests/{sha256(manifest)}": described,
        f"/v2/app/blobs/{sha256(CONFIG)}": Answer(body=CONFIG),
        f"/v2/app/blobs/{layer_digest}": layer,
    }


def test_a_remote_error_message_is_shown_cut_short(api: Api, root: User, team: Project, eager: Any) -> None:
    rambling = json.dumps({"errors": [{"code": "DENIED", "message": "no " * 20_000}]}).encode()
    with lying_registry({"/v2/app/tags/list": Answer(403, body=rambling)}) as remote:
        job = run_pull(api, root, eager, remote)

    assert job.state == Job.State.FAILED
    assert f"the upstream {remote.url} answered GET /v2/app/tags/list with 403 DENIED: no no" in job.error
    assert len(job.error) < 1000


def test_a_remote_listing_too_large_to_hold_is_refused(api: Api, root: User, team: Project, eager: Any) -> None:
    endless_tags = b'{"name": "app", "tags": [' + b'"v1", ' * (2 * MIB) + b'"v1"]}'
    with lying_registry({"/v2/app/tags/list": Answer(body=endless_tags)}) as remote:
        job = run_pull(api, root, eager, remote)

    assert job.state == Job.State.FAILED
    assert f"the registry {remote.url} sent a listing larger than the {LISTING_LIMIT} bytes accepted here" in job.error


def test_a_remote_that_sends_more_than_a_layer_holds_is_cut_off(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    sent = [0]

    def endless() -> Iterator[bytes]:
        # Stops at 256 MiB only so that a registry that reads it all still ends the test.
        for _ in range(256):
            sent[0] += MIB
            yield b"\0" * MIB

    layer_digest = sha256(b"\0" * LAYER_SIZE)
    with lying_registry(image_answers(layer_digest, LAYER_SIZE, Answer(body=endless))) as remote:
        job = run_pull(api, root, eager, remote)

    assert job.state == Job.State.FAILED
    [failure] = job.result["failed"]
    assert failure["key"] == "app:v1"
    assert f"blob {layer_digest}: the remote sent more than its {LAYER_SIZE} bytes" in failure["error"]
    # What the socket buffers held before the connection was dropped, not the whole stream.
    assert sent[0] < 64 * MIB
    assert not Blob.objects.filter(digest=layer_digest).exists()
    assert not Tag.objects.filter(repository__name="team/app").exists()


def test_a_layer_past_the_quota_is_refused_before_it_is_downloaded(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    team.quota_bytes = MIB
    team.save()
    sent = [0]

    def large_layer() -> Iterator[bytes]:
        for _ in range(64):
            sent[0] += MIB
            yield b"\0" * MIB

    layer_digest = sha256(b"\0" * 64 * MIB)
    with lying_registry(image_answers(layer_digest, 64 * MIB, Answer(body=large_layer))) as remote:
        job = run_pull(api, root, eager, remote)

    assert job.state == Job.State.FAILED
    [failure] = job.result["failed"]
    assert "quota" in failure["error"]
    # At most what the socket buffers took before the answer was dropped unread.
    assert sent[0] < 16 * MIB


def test_names_the_remote_has_and_this_registry_does_not_take_fail_alone(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    layer = b"\0" * LAYER_SIZE
    answers = image_answers(sha256(layer), LAYER_SIZE, Answer(body=layer))
    answers["/v2/app/tags/list"] = Answer(body=b'{"name": "app", "tags": ["v1", "a:b"]}')
    answers["/v2/app/manifests/a:b"] = answers["/v2/app/manifests/v1"]
    # Another registry's rules, or a liar's: a name in capitals, which no client can push here.
    for path, answer in list(answers.items()):
        if not path.endswith("tags/list"):
            answers[path.replace("/v2/app/", "/v2/App/")] = answer
    answers["/v2/App/tags/list"] = Answer(body=b'{"name": "App", "tags": ["v1"]}')
    answers["/v2/_catalog"] = Answer(body=b'{"repositories": ["App", "app"]}')
    with lying_registry(answers) as remote:
        created = api(
            "post",
            "replication-rules/",
            root,
            {"name": "from-liar", "direction": "pull", "remote_url": remote.url, "project": "team"},
        )
        with eager(execute=True):
            started = api("post", f"replication-rules/{created.json()['id']}/runs/", root, {})
    job = Job.objects.get(id=started.json()["id"])

    assert job.state == Job.State.FAILED
    assert [failure["key"] for failure in job.result["failed"]] == ["App:v1", "app:a:b"]
    assert "'team/App' is not a repository name here" in job.result["failed"][0]["error"]
    assert "invalid tag" in job.result["failed"][1]["error"]
    assert [item.split(" ")[0] for item in job.result["copied"]] == ["app:v1"]
    assert list(Tag.objects.values_list("repository__name", "name")) == [("team/app", "v1")]
    assert not Repository.objects.filter(name="team/App").exists()


def test_a_retry_lists_only_the_repositories_of_the_images_it_retries(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    # On-push runs and retries name their images: a project or remote of thousands of
    # repositories must not be listed whole for each.
    layer = b"\0" * LAYER_SIZE
    answers = image_answers(sha256(layer), LAYER_SIZE, Answer(404))
    answers["/v2/_catalog"] = Answer(body=b'{"repositories": ["app", "other", "third"]}')
    answers["/v2/other/tags/list"] = answers["/v2/third/tags/list"] = Answer(body=b'{"tags": []}')
    with lying_registry(answers) as remote:
        rule_id = api(
            "post",
            "replication-rules/",
            root,
            {"name": "from-liar", "direction": "pull", "remote_url": remote.url, "project": "team"},
        ).json()["id"]
        with eager(execute=True):
            first = api("post", f"replication-rules/{rule_id}/runs/", root, {}).json()
        remote.asked.clear()
        answers[f"/v2/app/blobs/{sha256(layer)}"] = Answer(body=layer)
        with eager(execute=True):
            retry = api("post", f"replication-rules/{rule_id}/runs/", root, {"retry_failed_of": first["id"]}).json()

    assert Job.objects.get(id=retry["id"]).result["copied"] == [
        f"app:v1 -> team/app:v1 ({answers['/v2/app/manifests/v1'].headers['Docker-Content-Digest']})"
    ]
    assert [path for method, path in remote.asked if path.endswith("/tags/list")] == ["/v2/app/tags/list"]


def test_referrers_nested_without_end_fail_their_image_not_the_run(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    layer = b"\0" * LAYER_SIZE
    answers = image_answers(sha256(layer), LAYER_SIZE, Answer(body=layer))
    empty = b"{}"
    answers[f"/v2/app/blobs/{sha256(empty)}"] = Answer(body=empty)
    subject = answers["/v2/app/manifests/v1"]
    # Each signature signed again, a thousand deep: deeper than Python's stack.
    for _ in range(1200):
        subject_digest = subject.headers["Docker-Content-Digest"]
        signature = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.signature",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
                "layers": [],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject.body)},  # type: ignore[arg-type]
            }
        ).encode()
        subject = Answer(
            headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(signature)}, body=signature
        )
        answers[f"/v2/app/manifests/{sha256(signature)}"] = subject
        answers[f"/v2/app/referrers/{subject_digest}"] = Answer(
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
            body=json.dumps({"manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(signature)}]}).encode(),
        )
    with lying_registry(answers) as remote:
        job = run_pull(api, root, eager, remote)

    assert job.state == Job.State.FAILED
    [failure] = job.result["failed"]
    assert failure["key"] == "app:v1"
    assert "nested deeper than" in failure["error"]
    assert not Tag.objects.exists()
