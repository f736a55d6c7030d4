"""The fast path (v2api/fast_reads.py) is a provider behind the one gate: for every route and
method of the route table it either declines, or gives the full stack's answer.

The cases are generated from oci/request_edge.py's route table and the fast path's own list of
what it serves, so a new route, a newly served method or a new caller kind is covered without
anyone writing a case for it; and a rule added to the gate (v2api/auth.py `authorize`) is seen
to hold on the fast path as on the full stack.
"""

import io
import itertools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import signals
from django.db import close_old_connections, connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Project
from accounts.scopes import PULL, PUSH, Scope, repository_scope
from oci import media_types
from oci import request_edge as edge
from oci.digests import Digest
from registry_ui.wsgi import application, registry_application
from tests.conftest import PushImage, basic_auth, bearer_auth
from v2api import auth, fast_reads
from v2api.errors import Denied
from v2api.models import Tag
from v2api.services.manifests import find_manifest

PRIVATE = "team/app"
PUBLIC = "open/app"
# Headers only a browser reads, on the full stack's answers from its security middleware, and
# those that differ on every request.
NOT_COMPARED = {"Date", "X-Request-ID", "Allow", "Referrer-Policy", "Cross-Origin-Opener-Policy"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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


def fast_answer(method: str, path: str, headers: dict[str, str]) -> Answer | None:
    """The fast path's own answer, or None where it declines."""
    captured: dict[str, Any] = {}
    body = fast_reads.answer(
        environ_for(method, path, headers), lambda status, response_headers: captured.update(status=status)
    )
    return None if body is None else Answer(captured["status"], {}, b"".join(body))


def comparable(answer: Answer) -> tuple[str, dict[str, str], bytes]:
    return answer.status, {k: v for k, v in answer.headers.items() if k not in NOT_COMPARED}, answer.body


@pytest.fixture
def images(admin_user: User, push_image: PushImage) -> dict[str, dict[str, str]]:
    """For a private and a public repository, the value each path argument of a route takes."""
    Project.objects.create(name="team")
    Project.objects.create(name="open", public=True)
    arguments = {}
    for name in (PRIVATE, PUBLIC):
        pushed = push_image(name, "v1", layers=[b"layer of " + name.encode()])
        arguments[name] = {
            "tag": "v1",
            "manifest digest": pushed.digest,
            "unknown tag": "v2",
            "bad reference": "bad:tag:",
            # The OCI conformance suite's name: no tag, so no manifest (404 MANIFEST_UNKNOWN).
            "invalid tag": ".INVALID_MANIFEST_NAME",
            "layer": pushed.layer_digests[0],
            "config": pushed.config_digest,
            "unknown digest": "sha256:" + "0" * 64,
            "bad digest": "sha256:abc",
        }
    return arguments


# Every way a client presents itself; `caller_headers` builds each for a repository.
CALLERS = (
    "anonymous",
    "empty Authorization",
    "pull token",
    "pull token for another repository",
    "push-only token",
    "forged token",
    "password",
    "wrong password",
)


def caller_headers(caller: str, admin_user: User, name: str) -> dict[str, str]:
    other = PUBLIC if name == PRIVATE else PRIVATE
    token = bearer_auth(admin_user, repository_scope(name, PULL))
    authorization = {
        "anonymous": None,
        "empty Authorization": "",
        "pull token": token,
        "pull token for another repository": bearer_auth(admin_user, repository_scope(other, PULL)),
        "push-only token": bearer_auth(admin_user, repository_scope(name, PUSH)),
        "forged token": token[:-4] + "AAAA",
        "password": basic_auth(admin_user.username),
        "wrong password": basic_auth(admin_user.username, "not the password"),
    }[caller]
    return {} if authorization is None else {"Authorization": authorization}


# What each path argument of a route takes in the cases: every kind of value the route accepts.
ARGUMENT_KINDS = {
    "reference": ("tag", "manifest digest", "unknown tag", "bad reference", "invalid tag"),
    "digest": ("layer", "config", "unknown digest", "bad digest"),
}
ACCEPTS = {"OCI": media_types.OCI_MANIFEST, "Docker": media_types.DOCKER_MANIFEST, "none": ""}
# Names no image lives under, each tried with the arguments of the private repository's image.
UNSERVED_NAMES = ("Team/App", "team/unknown", "nowhere/app")


def path_arguments(route: edge.Route) -> list[str]:
    return re.findall(r"\(\?P<(\w+)>", route.pattern)


def fast_cases() -> list[Any]:
    """Every served (route, method), for each repository, caller, argument kind and Accept header,
    and for names that are invalid, of no repository or of no project."""
    cases = []
    served = sorted(fast_reads.FAST_ROUTES, key=lambda pair: (pair[0].name, pair[1]))
    for (route, method), name, caller in itertools.product(served, (PRIVATE, PUBLIC, *UNSERVED_NAMES), CALLERS):
        (argument,) = [a for a in path_arguments(route) if a != "name"]
        kinds = ARGUMENT_KINDS[argument] if name in (PRIVATE, PUBLIC) else ARGUMENT_KINDS[argument][:1]
        for kind in kinds:
            # The Accept header matters once a manifest is found; one found is enough to vary it on.
            accepts = tuple(ACCEPTS) if route is edge.MANIFEST and kind == "tag" else ("OCI",)
            for accept in accepts:
                case_id = f"{method} {route.name} {name} {caller} {kind} {accept}"
                cases.append(pytest.param(route, method, name, caller, argument, kind, accept, id=case_id))
    return cases


def other_cases() -> list[Any]:
    """Every (route, method) the fast path does not serve."""
    return [
        pytest.param(route, method, id=f"{method} {route.name}")
        for route, method in itertools.product(edge.ROUTES, METHODS)
        if (route, method) not in fast_reads.FAST_ROUTES
    ]


def test_the_cases_reach_every_route_and_method() -> None:
    covered = {(case.values[0], case.values[1]) for case in fast_cases() + other_cases()}

    assert covered == set(itertools.product(edge.ROUTES, METHODS))


def path_for(route: edge.Route, arguments: dict[str, str]) -> str:
    return reverse(f"{edge.V2_NAMESPACE}:{route.url_name}", kwargs=arguments)


@pytest.mark.parametrize("route, method, name, caller, argument, kind, accept", fast_cases())
def test_a_fast_route_answers_as_the_full_stack_or_declines(
    images: dict[str, dict[str, str]],
    admin_user: User,
    route: edge.Route,
    method: str,
    name: str,
    caller: str,
    argument: str,
    kind: str,
    accept: str,
) -> None:
    path = path_for(route, {"name": name, argument: images.get(name, images[PRIVATE])[kind]})
    headers = caller_headers(caller, admin_user, name)
    if ACCEPTS[accept]:
        headers["Accept"] = ACCEPTS[accept]

    through_fast_path = call(application, method, path, headers)
    through_full_stack = call(registry_application, method, path, headers)

    assert comparable(through_fast_path) == comparable(through_full_stack)


# The plain pulls the fast path exists for; it must serve them itself, or it serves nothing.
SERVED = [
    pytest.param(method, name, caller, kind, id=f"{method} {name} {caller} {kind}")
    for method, name, caller, kind in [
        ("GET", PRIVATE, "pull token", "tag"),
        ("HEAD", PRIVATE, "pull token", "tag"),
        ("GET", PRIVATE, "pull token", "manifest digest"),
        ("GET", PUBLIC, "anonymous", "tag"),
        ("GET", PUBLIC, "empty Authorization", "tag"),
        ("HEAD", PRIVATE, "pull token", "layer"),
        ("HEAD", PRIVATE, "pull token", "config"),
        ("HEAD", PUBLIC, "anonymous", "layer"),
    ]
]


@pytest.mark.parametrize("method, name, caller, kind", SERVED)
def test_the_plain_pulls_are_served_by_the_fast_path(
    images: dict[str, dict[str, str]], admin_user: User, method: str, name: str, caller: str, kind: str
) -> None:
    route, argument = (edge.BLOB, "digest") if kind in ("layer", "config") else (edge.MANIFEST, "reference")
    headers = {**caller_headers(caller, admin_user, name), "Accept": media_types.OCI_MANIFEST}
    captured: dict[str, Any] = {}

    served = fast_reads.answer(
        environ_for(method, path_for(route, {"name": name, argument: images[name][kind]}), headers),
        lambda status, response_headers: captured.update(status=status, headers=dict(response_headers)),
    )

    assert served is not None
    body = b"".join(served)
    assert captured["status"] == "200 OK"
    assert captured["headers"]["Docker-Distribution-API-Version"] == "registry/2.0"
    assert captured["headers"]["X-Content-Type-Options"] == "nosniff"
    if method == "GET":
        assert Digest.of_bytes(body) == Digest.parse(captured["headers"]["Docker-Content-Digest"])
        assert len(body) == int(captured["headers"]["Content-Length"])
    else:
        assert body == b""


@pytest.mark.parametrize("route, method", other_cases())
def test_every_other_route_and_method_is_left_to_the_full_stack(
    images: dict[str, dict[str, str]], admin_user: User, route: edge.Route, method: str
) -> None:
    values = {
        "name": PRIVATE,
        "reference": "v1",
        "digest": images[PRIVATE]["layer"],
        "upload_id": str(uuid.uuid4()),
    }
    arguments = {argument: values[argument] for argument in path_arguments(route)}
    path = path_for(route, arguments) if route is not edge.UNKNOWN else "/v2/team/app/unknown/thing"
    headers = {"Authorization": bearer_auth(admin_user, repository_scope(PRIVATE, PULL, PUSH, "delete"))}

    assert fast_answer(method, path, headers) is None


def test_a_rule_added_to_the_gate_holds_on_the_fast_path(
    images: dict[str, dict[str, str]], admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Say an archived project is refused: the fast path, which would have served the pull, now
    gives the refusal the full stack gives."""
    gate: Callable[..., auth.Decision] = auth.authorize

    def refusing_archived_projects(caller: auth.Caller, scope: Scope, project_public: bool | None = None) -> Any:
        if scope.name.startswith("team/"):
            return auth.Decision(scope, refusal=lambda: Denied("project team is archived"))
        return gate(caller, scope, project_public)

    monkeypatch.setattr(auth, "authorize", refusing_archived_projects)
    path = path_for(edge.MANIFEST, {"name": PRIVATE, "reference": "v1"})
    headers = {**caller_headers("pull token", admin_user, PRIVATE), "Accept": media_types.OCI_MANIFEST}

    assert fast_answer("GET", path, headers) is None
    answer = call(application, "GET", path, headers)
    assert answer.status == "403 Forbidden"
    assert b"project team is archived" in answer.body


def test_the_fast_path_writes_the_access_line(
    images: dict[str, dict[str, str]], admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {
        **caller_headers("pull token", admin_user, PRIVATE),
        "Accept": media_types.OCI_MANIFEST,
        "User-Agent": "containerd/1.7",
        "X-Request-ID": "pull-0001",
    }
    captured: dict[str, Any] = {}

    with caplog.at_level(logging.INFO, logger="registry.access"):
        served = fast_reads.answer(
            environ_for("GET", f"/v2/{PRIVATE}/manifests/v1", headers),
            lambda status, response_headers: captured.update(headers=dict(response_headers)),
        )

    assert served is not None
    body = b"".join(served)
    (record,) = [r for r in caplog.records if r.name == "registry.access"]
    assert record.getMessage() == f"root pull {PRIVATE} v1 ({len(body)} bytes)"
    assert record.__dict__["digest"] == captured["headers"]["Docker-Content-Digest"]
    assert record.__dict__["remote_addr"] == "192.0.2.7"
    assert record.__dict__["user_agent"] == "containerd/1.7"
    assert captured["headers"]["X-Request-ID"] == "pull-0001"


@pytest.mark.django_db(transaction=True)
def test_a_new_database_connection_prepares_the_lookups_again(push_image: PushImage) -> None:
    pushed = push_image(PRIVATE, "v1")

    first = find_manifest(PRIVATE, "v1", with_content=False)
    connection.close()
    again = find_manifest(PRIVATE, "v1", with_content=False)

    assert first == again
    assert first is not None and first.digest == pushed.digest
    assert find_manifest(PRIVATE, "v2", with_content=False) is None


@pytest.mark.django_db
def test_a_proxied_tag_is_left_to_the_full_stack_until_its_upstream_confirmed_it(
    admin_user: User, push_image: PushImage, settings: Any
) -> None:
    settings.REGISTRY_PROXY_MANIFEST_TTL = 300
    Project.objects.create(name="hub")
    pushed = push_image("hub/alpine", "3", layers=[b"a layer"])
    Project.objects.filter(name="hub").update(proxy_url="http://upstream.invalid")
    headers = {"Authorization": bearer_auth(admin_user, repository_scope("hub/alpine", PULL))}
    by_tag = path_for(edge.MANIFEST, {"name": "hub/alpine", "reference": "3"})

    never_checked = fast_answer("GET", by_tag, headers)
    by_digest = fast_answer("GET", path_for(edge.MANIFEST, {"name": "hub/alpine", "reference": pushed.digest}), headers)
    Tag.objects.filter(name="3").update(upstream_checked_at=timezone.now())
    just_checked = fast_answer("GET", by_tag, headers)
    Tag.objects.filter(name="3").update(upstream_checked_at=timezone.now() - timedelta(seconds=301))
    checked_long_ago = fast_answer("GET", by_tag, headers)

    assert never_checked is None
    assert by_digest is not None
    assert just_checked is not None
    assert checked_long_ago is None
