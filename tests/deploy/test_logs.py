"""Request ids, JSON log lines and the access line that says who pulled or pushed what."""

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.scopes import Scope
from registry_ui.logs import JsonFormatter, RequestIdFilter
from tests.conftest import PushBlob, basic_auth, bearer_auth

pytestmark = pytest.mark.django_db


def test_a_request_id_from_the_proxy_is_kept_and_echoed(anonymous_client: Client) -> None:
    response = anonymous_client.get("/health/live", headers={"X-Request-ID": "3f2a9c0e6b7d41a8a1b2c3d4e5f60718"})

    assert response["X-Request-ID"] == "3f2a9c0e6b7d41a8a1b2c3d4e5f60718"


@pytest.mark.parametrize("sent", ["", "short", "x" * 200, 'evil"\ninjected: yes'])
def test_a_missing_or_unusable_request_id_is_replaced_by_a_new_one(anonymous_client: Client, sent: str) -> None:
    response = anonymous_client.get("/health/live", HTTP_X_REQUEST_ID=sent)

    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def json_access_log() -> Iterator[io.StringIO]:
    """The registry.access lines as settings.LOGGING writes them with LOG_FORMAT=json."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("registry.access")
    access.addHandler(handler)
    try:
        yield output
    finally:
        access.removeHandler(handler)


def test_the_access_line_names_the_token_subject_the_repository_the_digest_and_the_bytes(
    admin_user: User, anonymous_client: Client, push_blob: PushBlob, json_access_log: io.StringIO
) -> None:
    digest = push_blob("library/alpine", b"a layer of 21 bytes!!")
    token = bearer_auth(admin_user, Scope("repository", "library/alpine", frozenset({"pull"})))
    json_access_log.truncate(0)
    json_access_log.seek(0)

    response = anonymous_client.get(
        f"/v2/library/alpine/blobs/{digest}", headers={"Authorization": token, "X-Request-ID": "r" * 16}
    )

    assert response.status_code == 200
    [line] = json_access_log.getvalue().splitlines()
    fields = json.loads(line)
    assert {key: fields[key] for key in ("subject", "action", "repository", "reference", "digest", "bytes_out")} == {
        "subject": admin_user.username,
        "action": "pull",
        "repository": "library/alpine",
        "reference": digest,
        "digest": digest,
        "bytes_out": 21,
    }
    assert fields["request_id"] == "r" * 16
    assert fields["served_by"] == "application"


def test_a_push_is_logged_with_the_basic_username_and_bytes_in(
    admin_user: User, push_blob: PushBlob, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="registry.access"):
        digest = push_blob("library/alpine", b"twelve bytes")

    finished = [record for record in caplog.records if getattr(record, "digest", "") == digest]
    assert [(r.subject, r.action, r.method, r.bytes_in) for r in finished] == [  # type: ignore[attr-defined]
        (admin_user.username, "push", "PUT", 12)
    ]


def test_a_forged_token_names_nobody_in_the_access_log(
    anonymous_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="registry.access"):
        response = anonymous_client.get(
            "/v2/library/alpine/manifests/latest", headers={"Authorization": "Bearer not.a.token"}
        )

    assert response.status_code == 401
    assert [record.subject for record in caplog.records if record.name == "registry.access"] == [""]  # type: ignore[attr-defined]


def test_a_refused_request_names_the_user_whose_password_checked_out_but_not_an_unchecked_one(
    admin_user: User, anonymous_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="registry.access"):
        unknown = anonymous_client.get(
            "/v2/library/alpine/manifests/latest", headers={"Authorization": basic_auth(admin_user.username)}
        )
        bad_name = anonymous_client.get(
            "/v2/Library/Alpine/manifests/latest", headers={"Authorization": basic_auth(admin_user.username)}
        )

    assert (unknown.status_code, bad_name.status_code) == (404, 400)
    # The 400 came before the gate checked the password: the header's username is only a claim.
    subjects = [record.subject for record in caplog.records if record.name == "registry.access"]  # type: ignore[attr-defined]
    assert subjects == [admin_user.username, ""]


def test_a_json_line_carries_extra_fields_and_the_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        record.exc_info = sys.exc_info()
    record.repository = "team/app"

    fields = json.loads(JsonFormatter().format(_filtered(record)))

    assert fields["message"] == "failed here"
    assert fields["level"] == "ERROR"
    assert fields["repository"] == "team/app"
    assert "ValueError: boom" in fields["exception"]


def test_gunicorn_access_atoms_become_named_fields() -> None:
    atoms = {"h": "127.0.0.1", "m": "GET", "U": "/v2/", "q": "", "s": "401", "B": 0, "D": 1500, "a": "docker/28"}
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s", (), None)
    record.args = {**atoms, "{x-request-id}o": "abc"}

    fields = json.loads(JsonFormatter().format(record))

    assert fields["status"] == 401 and fields["body_bytes"] == 0 and fields["duration_ms"] == 1.5
    assert fields["request_id"] == "abc" and fields["path"] == "/v2/"


def _filtered(record: logging.LogRecord) -> logging.LogRecord:
    RequestIdFilter().filter(record)
    return record
