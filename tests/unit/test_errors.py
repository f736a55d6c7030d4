"""The OCI error table: each code's class, status and JSON shape, and the handler's translations."""

import json
import logging

import pytest
from django.db import OperationalError
from rest_framework import exceptions as drf_exceptions

from oci.digests import Digest
from oci.names import check_repository_name
from v2api import errors
from v2api.errors import ERROR_TABLE, RegistryError, error_response, exception_handler

# The distribution spec's "Error Codes" table, plus distribution's PAGINATION_NUMBER_INVALID and
# UNAVAILABLE, and INSUFFICIENT_STORAGE for a full disk.
SPEC_TABLE = [
    ("BLOB_UNKNOWN", errors.BlobUnknown, 404),
    ("BLOB_UPLOAD_INVALID", errors.BlobUploadInvalid, 400),
    ("BLOB_UPLOAD_UNKNOWN", errors.BlobUploadUnknown, 404),
    ("DIGEST_INVALID", errors.DigestInvalid, 400),
    ("MANIFEST_BLOB_UNKNOWN", errors.ManifestBlobUnknown, 400),
    ("MANIFEST_INVALID", errors.ManifestInvalid, 400),
    ("MANIFEST_UNKNOWN", errors.ManifestUnknown, 404),
    ("NAME_INVALID", errors.NameInvalid, 400),
    ("NAME_UNKNOWN", errors.NameUnknown, 404),
    ("PAGINATION_NUMBER_INVALID", errors.PaginationNumberInvalid, 400),
    ("SIZE_INVALID", errors.SizeInvalid, 400),
    ("UNAUTHORIZED", errors.Unauthorized, 401),
    ("DENIED", errors.Denied, 403),
    ("UNSUPPORTED", errors.Unsupported, 405),
    ("TOOMANYREQUESTS", errors.TooManyRequests, 429),
    ("UNAVAILABLE", errors.Unavailable, 503),
    ("INSUFFICIENT_STORAGE", errors.InsufficientStorage, 507),
]


def body(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(response.content)


def test_the_table_holds_exactly_the_spec_codes() -> None:
    assert set(ERROR_TABLE) == {code for code, _, _ in SPEC_TABLE}


@pytest.mark.parametrize(("code", "error_class", "status"), SPEC_TABLE)
def test_each_code_has_its_class_and_status(code: str, error_class: type[RegistryError], status: int) -> None:
    error = error_class()

    assert error.code == code
    assert error.status == status
    assert error.message == ERROR_TABLE[code][1]


@pytest.mark.parametrize(("code", "error_class", "status"), SPEC_TABLE)
def test_each_code_renders_as_one_oci_error_body(code: str, error_class: type[RegistryError], status: int) -> None:
    response = error_response(error_class(detail={"why": "a test"}))

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert body(response) == {"errors": [{"code": code, "message": ERROR_TABLE[code][1], "detail": {"why": "a test"}}]}


def test_each_code_has_exactly_one_class() -> None:
    classes = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, RegistryError)]
    codes = [cls.code for cls in classes if cls.code]

    assert sorted(codes) == sorted(ERROR_TABLE)


def test_an_error_may_carry_its_own_message_and_status() -> None:
    response = error_response(errors.BlobUploadInvalid("chunk out of order", status=416, headers={"Range": "0-9"}))

    assert response.status_code == 416
    assert response["Range"] == "0-9"
    assert body(response)["errors"][0]["message"] == "chunk out of order"


def test_several_errors_render_as_several_entries_with_the_first_ones_status() -> None:
    response = exception_handler(
        errors.MultipleErrors(
            [errors.ManifestBlobUnknown(detail={"digest": "one"}), errors.ManifestBlobUnknown(detail={"digest": "two"})]
        ),
        {},
    )

    assert response.status_code == 400
    assert [(entry["code"], entry["detail"]) for entry in body(response)["errors"]] == [
        ("MANIFEST_BLOB_UNKNOWN", {"digest": "one"}),
        ("MANIFEST_BLOB_UNKNOWN", {"digest": "two"}),
    ]


@pytest.mark.parametrize(
    ("exception", "code", "status"),
    [
        (drf_exceptions.MethodNotAllowed("PATCH"), "UNSUPPORTED", 405),
        (drf_exceptions.NotAuthenticated(), "UNAUTHORIZED", 401),
        (drf_exceptions.AuthenticationFailed(), "UNAUTHORIZED", 401),
        (drf_exceptions.PermissionDenied(), "DENIED", 403),
        (drf_exceptions.Throttled(wait=7), "TOOMANYREQUESTS", 429),
    ],
)
def test_framework_errors_become_oci_errors(exception: Exception, code: str, status: int) -> None:
    response = exception_handler(exception, {})

    assert response.status_code == status
    assert [entry["code"] for entry in body(response)["errors"]] == [code]


@pytest.mark.parametrize(
    ("parse", "text", "code"),
    [
        (check_repository_name, "Team/App", "NAME_INVALID"),
        (Digest.parse, "sha256:short", "DIGEST_INVALID"),
    ],
)
def test_protocol_grammar_errors_become_oci_errors_with_their_detail(parse, text: str, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as raised:
        parse(text)

    response = exception_handler(raised.value, {})

    assert response.status_code == 400
    assert body(response) == {
        "errors": [{"code": code, "message": ERROR_TABLE[code][1], "detail": raised.value.detail}]  # type: ignore[attr-defined]
    }
    assert body(response)["errors"][0]["detail"]["reason"]


def test_too_many_requests_says_when_to_retry() -> None:
    response = exception_handler(drf_exceptions.Throttled(wait=7), {})

    assert response["Retry-After"] == "7"


def test_an_unexpected_exception_is_logged_and_answered_500_without_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DRF calls the handler inside its `except` block, as here.
    with caplog.at_level(logging.ERROR, logger="v2api.errors"):
        try:
            raise RuntimeError("secret internals")
        except RuntimeError as error:
            response = exception_handler(error, {})

    assert response.status_code == 500
    assert body(response) == {"errors": [{"code": "UNKNOWN", "message": "internal server error", "detail": None}]}
    assert "secret internals" in caplog.text


class _DatabaseFailure(Exception):
    """Stands for psycopg2's error under Django's, with the SQLSTATE the server sent (if any)."""

    def __init__(self, pgcode: str | None) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


@pytest.mark.parametrize(
    "pgcode, status",
    [(None, 503), ("08006", 503), ("57P01", 503), ("53300", 503), ("40P01", 500), ("57014", 500)],
    ids=[
        "broken client-side",
        "connection failure",
        "admin shutdown",
        "too many connections",
        "deadlock",
        "statement timeout",
    ],
)
def test_only_a_lost_database_connection_is_answered_unavailable(pgcode: str | None, status: int) -> None:
    error = OperationalError("database error")
    error.__cause__ = _DatabaseFailure(pgcode)

    assert exception_handler(error, {}).status_code == status
