"""Hostile input (issue 12, item 5): requests that each answered 500, sent again as the attacker
sent them. Every one must get a 4xx with a clear error (OCI error JSON under /v2/, a message
elsewhere), never a 500. Most are a NUL or an unpaired surrogate that reached Postgres; the rest
are numbers no parser should take (`²`, 5,000 digits) and a manifest nested 1,000 deep.

The one attack that needs a real HTTP server (a chunked body with a chunk size `zz`, which only
gunicorn parses) is in tests/e2e/test_raw_http.py."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from oci import media_types
from tests.conftest import PushImage, basic_auth, digest_of, path_of

CONFIG = b'{"architecture": "amd64", "os": "linux"}'
SOME_DIGEST = "sha256:" + "a" * 64


def manifest(**extra: Any) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(CONFIG), "size": 40},
        "layers": [],
        **extra,
    }
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Attack:
    """One request: who sends it (`anonymous`, `basic` as root, `session` as root in the
    dashboard), and where it goes. `UPLOAD` in the path stands for an open upload's URL."""

    who: str
    method: str
    path: str
    body: bytes | dict[str, str] | None = None
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    # What the answer must say: the OCI code under /v2/, words of the message elsewhere.
    expect: str = ""


def nul_login(username: str, password: str = "x") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": basic_auth(username, password)}


OCI = media_types.OCI_MANIFEST
ATTACKS = {
    # Credentials: a NUL in Basic credentials is a failed login, counted like any other.
    "v2 basic username with NUL": Attack(
        "anonymous", "get", "/v2/", headers=nul_login("ro\x00ot"), expect="UNAUTHORIZED"
    ),
    "v2 basic password with NUL": Attack(
        "anonymous", "get", "/v2/", headers=nul_login("root", "\x00"), expect="UNAUTHORIZED"
    ),
    "api basic username with NUL": Attack(
        "anonymous", "get", "/api/v1/users/me/", headers=nul_login("ro\x00ot"), expect="Incorrect username"
    ),
    "token basic username with NUL": Attack(
        "anonymous", "get", "/auth/token?service=harbor-lite", headers=nul_login("ro\x00ot"), expect="incorrect"
    ),
    # Cursors and filters of /v2/.
    "catalog last with NUL": Attack("basic", "get", "/v2/_catalog?last=a%00b", expect="UNSUPPORTED"),
    "tags last with NUL": Attack("basic", "get", "/v2/team/app/tags/list?last=a%00b", expect="UNSUPPORTED"),
    "referrers artifactType with NUL": Attack(
        "basic", "get", f"/v2/team/app/referrers/{SOME_DIGEST}?artifactType=a%00b", expect="UNSUPPORTED"
    ),
    # Pushed manifests.
    **{
        f"manifest {where}": Attack("basic", "put", "/v2/team/app/manifests/v1", body, OCI, expect="MANIFEST_INVALID")
        for where, body in {
            "annotation value with NUL": manifest(annotations={"a": "b\x00"}),
            "annotation key with NUL": manifest(annotations={"a\x00": "b"}),
            "artifactType with NUL": manifest(artifactType="a\x00b"),
            "annotation with a lone surrogate": manifest(annotations={"a": "\ud800"}),
            "config mediaType with NUL": manifest(
                config={"mediaType": "a\x00", "digest": digest_of(CONFIG), "size": len(CONFIG)}
            ),
            "nested 1,000 deep": b'{"schemaVersion": 2, "annotations": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        }.items()
    },
    "manifest mediaType with NUL": Attack(
        "basic",
        "put",
        "/v2/team/app/manifests/v1",
        manifest(mediaType=OCI + "\x00"),
        "application/json",
        expect="MANIFEST_INVALID",
    ),
    # Upload chunks.
    "Content-Range of 5,000 digits": Attack(
        "basic",
        "patch",
        "UPLOAD",
        b"x",
        headers={"HTTP_CONTENT_RANGE": "0-" + "9" * 5000},
        expect="BLOB_UPLOAD_INVALID",
    ),
    "Content-Range of superscripts": Attack(
        "basic", "patch", "UPLOAD", b"x", headers={"HTTP_CONTENT_RANGE": "\u00b2-\u00b3"}, expect="BLOB_UPLOAD_INVALID"
    ),
    # The dashboard: paths, cursors and forms.
    "jobs before=²": Attack("session", "get", "/jobs/?before=%C2%B2", expect="id of a job"),
    "jobs before= past bigint": Attack("session", "get", "/jobs/?before=" + "9" * 30, expect="id of a job"),
    "project path with NUL": Attack("session", "get", "/projects/te%00am/", expect="NUL"),
    "repository path with NUL": Attack("session", "get", "/repositories/te%00am/app/", expect="NUL"),
    "repository after= with NUL": Attack("session", "get", "/repositories/team/app/?after=a%00b", expect="NUL"),
    "image digest with NUL": Attack(
        "session", "get", f"/repositories/team/app/-/manifests/{SOME_DIGEST}%00/", expect="NUL"
    ),
    "member path with NUL": Attack("session", "post", "/projects/team/members/bo%00b/remove/", expect="NUL"),
    "member role path with NUL": Attack(
        "session", "post", "/projects/team/members/bo%00b/role/", {"role": "developer"}, expect="NUL"
    ),
    "robot path with NUL": Attack("session", "post", "/projects/team/robots/x%00/revoke/", expect="NUL"),
    "login form username with NUL": Attack(
        "anonymous", "post", "/login/", {"username": "a\x00b", "password": "x"}, expect="NUL"
    ),
    # The management API.
    "api project usage path with NUL": Attack("basic", "get", "/api/v1/projects/te%00am/usage/", expect="NUL"),
    "api repository usage path with NUL": Attack(
        "basic", "get", "/api/v1/repositories/te%00am/app/usage/", expect="NUL"
    ),
    "api members path with NUL": Attack("basic", "get", "/api/v1/projects/te%00am/members/", expect="NUL"),
    "api robots path with NUL": Attack("basic", "get", "/api/v1/projects/te%00am/robots/", expect="NUL"),
    "api users search with NUL": Attack("basic", "get", "/api/v1/users/?search=a%00b", expect="NUL"),
}


@pytest.fixture
def world(admin_user: User, push_image: PushImage) -> None:
    Project.objects.create(name="team", public=False)
    push_image("team/app", tag="1.0")


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_hostile_request_gets_a_clear_4xx_never_a_500(world: None, admin_user: User, attack: Attack) -> None:
    client = Client(raise_request_exception=False)
    if attack.who == "basic":
        client = Client(HTTP_AUTHORIZATION=basic_auth(admin_user.username), raise_request_exception=False)
    elif attack.who == "session":
        client.force_login(admin_user)
    path = attack.path
    if path == "UPLOAD":
        started = Client(HTTP_AUTHORIZATION=basic_auth(admin_user.username)).post("/v2/team/app/blobs/uploads/")
        path = path_of(started["Location"])
    send = getattr(client, attack.method)
    if isinstance(attack.body, bytes):
        response = send(path, data=attack.body, content_type=attack.content_type, **attack.headers)
    else:
        response = send(path, data=attack.body or {}, **attack.headers)

    assert 400 <= response.status_code < 500, response.content
    if path.startswith("/v2/"):
        assert [error["code"] for error in json.loads(response.content)["errors"]] == [attack.expect]
    else:
        assert attack.expect.encode() in response.content


def test_a_nul_in_a_basic_username_counts_as_a_failed_login(world: None, settings: Any) -> None:
    settings.REGISTRY_LOGIN_FAILURES_PER_ADDRESS = 3
    client = Client(**nul_login("ro\x00ot"))
    answers = [client.get("/v2/").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
