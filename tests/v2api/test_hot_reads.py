"""The hot path (registry_ui/hot_reads.py) answers the plain pulls itself and gives every other
request to the full stack: either way the client gets the same answer."""

import io
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import signals
from django.db import close_old_connections, connection

from accounts.models import Project
from accounts.scopes import PULL, PUSH, repository_scope
from oci import media_types
from oci.digests import Digest
from registry_ui import hot_reads
from registry_ui.wsgi import application, registry_application
from tests.conftest import PushImage, basic_auth, bearer_auth
from v2api.services.manifests import find_manifest

PRIVATE = "team/app"
PUBLIC = "open/app"
# Headers only a browser reads, on the full stack's answers from its security middleware, and
# those that differ on every request.
NOT_COMPARED = {"Date", "X-Request-ID", "Allow", "Referrer-Policy", "Cross-Origin-Opener-Policy"}


@dataclass
class Answer:
    status: str
    headers: dict[str, str]
    body: bytes


def environ_for(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "registry.lan",
        "SERVER_PORT": "5000",
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return environ


def call(app: Any, method: str, path: str, headers: dict[str, str]) -> Answer:
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: object = None) -> None:
        captured["status"], captured["headers"] = status, dict(response_headers)

    # Django's handlers close the database connection around each request, which would end the
    # test's transaction; Django's test client holds them off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(app(environ_for(method, path, headers), start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return Answer(captured["status"], captured["headers"], body)


@dataclass(frozen=True)
class Image:
    tag_path: str
    digest_path: str
    layer_path: str
    config_path: str


@pytest.fixture
def images(admin_user: User, push_image: PushImage) -> dict[str, Image]:
    Project.objects.create(name="team")
    Project.objects.create(name="open", public=True)
    found = {}
    for name in (PRIVATE, PUBLIC):
        pushed = push_image(name, "v1", layers=[b"layer of " + name.encode()])
        found[name] = Image(
            tag_path=f"/v2/{name}/manifests/v1",
            digest_path=f"/v2/{name}/manifests/{pushed.digest}",
            layer_path=f"/v2/{name}/blobs/{pushed.layer_digests[0]}",
            config_path=f"/v2/{name}/blobs/{pushed.config_digest}",
        )
    return found


def pull_token(admin_user: User, name: str = PRIVATE) -> dict[str, str]:
    return {"Authorization": bearer_auth(admin_user, repository_scope(name, PULL))}


OCI_ACCEPT = {"Accept": media_types.OCI_MANIFEST}

# (what, method, path key, image, headers key): every plain pull, then every way to be declined.
ANSWERED = [
    ("manifest by tag", "GET", "tag_path", PRIVATE, "token"),
    ("manifest by tag, HEAD", "HEAD", "tag_path", PRIVATE, "token"),
    ("manifest by digest", "GET", "digest_path", PRIVATE, "token"),
    ("manifest, no Accept", "GET", "tag_path", PRIVATE, "token without accept"),
    ("layer HEAD", "HEAD", "layer_path", PRIVATE, "token"),
    ("config HEAD", "HEAD", "config_path", PRIVATE, "token"),
    ("anonymous manifest, public project", "GET", "tag_path", PUBLIC, "none"),
    ("anonymous layer HEAD, public project", "HEAD", "layer_path", PUBLIC, "none"),
]
DECLINED = [
    ("anonymous, private project", "GET", "tag_path", PRIVATE, "none"),
    ("anonymous blob HEAD, private project", "HEAD", "layer_path", PRIVATE, "none"),
    ("token for another repository", "GET", "tag_path", PUBLIC, "token"),
    ("push-only token", "GET", "tag_path", PRIVATE, "push token"),
    ("forged token", "GET", "tag_path", PRIVATE, "forged token"),
    ("HTTP Basic", "GET", "tag_path", PRIVATE, "basic"),
    ("empty Authorization", "GET", "tag_path", PUBLIC, "empty"),
    ("unacceptable media type", "GET", "tag_path", PRIVATE, "docker accept"),
    ("blob GET streams a file", "GET", "layer_path", PRIVATE, "token"),
    ("manifest DELETE", "DELETE", "tag_path", PRIVATE, "token"),
]


def headers_of(kind: str, admin_user: User) -> dict[str, str]:
    token = pull_token(admin_user)
    return {
        "token": {**token, **OCI_ACCEPT},
        "token without accept": token,
        "none": OCI_ACCEPT,
        "push token": {"Authorization": bearer_auth(admin_user, repository_scope(PRIVATE, PUSH)), **OCI_ACCEPT},
        "forged token": {"Authorization": token["Authorization"][:-4] + "AAAA", **OCI_ACCEPT},
        "basic": {"Authorization": basic_auth(admin_user.username), **OCI_ACCEPT},
        "empty": {"Authorization": "", **OCI_ACCEPT},
        "docker accept": {**token, "Accept": media_types.DOCKER_MANIFEST},
    }[kind]


def comparable(answer: Answer) -> tuple[str, dict[str, str], bytes]:
    return answer.status, {k: v for k, v in answer.headers.items() if k not in NOT_COMPARED}, answer.body


@pytest.mark.parametrize(
    "what, method, path_key, name, kind", ANSWERED + DECLINED, ids=[c[0] for c in ANSWERED + DECLINED]
)
def test_a_request_gets_the_full_stacks_answer(
    images: dict[str, Image], admin_user: User, what: str, method: str, path_key: str, name: str, kind: str
) -> None:
    path = getattr(images[name], path_key)
    headers = headers_of(kind, admin_user)

    through_hot_path = call(application, method, path, headers)
    through_full_stack = call(registry_application, method, path, headers)

    assert comparable(through_hot_path) == comparable(through_full_stack)


@pytest.mark.parametrize("what, method, path_key, name, kind", ANSWERED, ids=[c[0] for c in ANSWERED])
def test_the_plain_pulls_are_answered_by_the_hot_path(
    images: dict[str, Image], admin_user: User, what: str, method: str, path_key: str, name: str, kind: str
) -> None:
    answer = call(hot_reads.answer, method, getattr(images[name], path_key), headers_of(kind, admin_user))

    assert answer.status == "200 OK"
    assert answer.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    if method == "GET":
        assert Digest.of_bytes(answer.body) == Digest.parse(answer.headers["Docker-Content-Digest"])
        assert len(answer.body) == int(answer.headers["Content-Length"])
    else:
        assert answer.body == b""


@pytest.mark.parametrize("what, method, path_key, name, kind", DECLINED, ids=[c[0] for c in DECLINED])
def test_everything_else_is_left_to_the_full_stack(
    images: dict[str, Image], admin_user: User, what: str, method: str, path_key: str, name: str, kind: str
) -> None:
    environ = environ_for(method, getattr(images[name], path_key), headers_of(kind, admin_user))

    assert hot_reads.answer(environ, lambda *args: None) is None


@pytest.mark.parametrize(
    "path",
    [
        "/v2/Team/App/manifests/v1",
        "/v2/team/app/manifests/bad:tag:",
        "/v2/team/app/manifests/sha256:abc",
        "/v2/team/app/manifests/v2",
        "/v2/team/app/blobs/sha256:" + "0" * 64,
        "/v2/team/app/blobs/uploads",
    ],
)
def test_bad_names_and_unknown_things_get_the_full_stacks_errors(
    images: dict[str, Image], admin_user: User, path: str
) -> None:
    headers = {**pull_token(admin_user, "team/app"), **OCI_ACCEPT}
    method = "HEAD" if "/blobs/" in path else "GET"

    assert hot_reads.answer(environ_for(method, path, headers), lambda *args: None) is None
    through_hot_path = call(application, method, path, headers)
    assert through_hot_path.status[:3] in {"400", "401", "404"}
    assert comparable(through_hot_path) == comparable(call(registry_application, method, path, headers))


def test_the_hot_path_writes_the_access_line(
    images: dict[str, Image], admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**pull_token(admin_user), **OCI_ACCEPT, "User-Agent": "containerd/1.7", "X-Request-ID": "pull-0001"}

    with caplog.at_level(logging.INFO, logger="registry.access"):
        answer = call(hot_reads.answer, "GET", images[PRIVATE].tag_path, headers)

    (record,) = [r for r in caplog.records if r.name == "registry.access"]
    assert record.getMessage() == f"root pull {PRIVATE} v1 ({len(answer.body)} bytes)"
    assert record.__dict__["digest"] == answer.headers["Docker-Content-Digest"]
    assert record.__dict__["remote_addr"] == "192.0.2.7"
    assert record.__dict__["user_agent"] == "containerd/1.7"
    assert answer.headers["X-Request-ID"] == "pull-0001"


@pytest.mark.django_db(transaction=True)
def test_a_new_database_connection_prepares_the_lookups_again(push_image: PushImage) -> None:
    pushed = push_image(PRIVATE, "v1")

    first = find_manifest(PRIVATE, "v1", with_content=False)
    connection.close()
    again = find_manifest(PRIVATE, "v1", with_content=False)

    assert first == again
    assert first is not None and first.digest == pushed.digest
    assert find_manifest(PRIVATE, "v2", with_content=False) is None
