"""The OCI distribution error codes: one table, one exception class per code, one renderer.

Every error under /v2/ leaves as `{"errors": [{"code", "message", "detail"}]}` with the status
the table gives (distribution spec, "Error Codes"; modelled on distribution's errcode registry).
"""

import errno
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from rest_framework import exceptions as drf_exceptions

from oci.digests import InvalidDigest
from oci.names import InvalidName

logger = logging.getLogger(__name__)

# code -> (HTTP status, default message)
ERROR_TABLE: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    # Not in the OCI table; distribution's code for a bad `n`, which clients already know.
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    # Not in the OCI table: distribution's code for a backend that is down (its errcode
    # ErrorCodeUnavailable), which a client shows as a message to try again.
    "UNAVAILABLE": (503, "service unavailable"),
    # Not in any table: the storage is full. WebDAV's 507 says so, and the message names it for a
    # client that only prints the body (docker, skopeo, podman show code and message).
    "INSUFFICIENT_STORAGE": (507, "the registry's storage is full"),
}
# What a client is told to wait after a database outage: a restart or failover takes seconds.
DATABASE_RETRY_AFTER_SECONDS = 10


class RegistryError(Exception):
    """An error a client sees as OCI error JSON. Subclasses name their code."""

    code: str = ""

    def __init__(
        self,
        message: str | None = None,
        detail: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = ERROR_TABLE[self.code]
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class BlobUnknown(RegistryError):
    code = "BLOB_UNKNOWN"


class BlobUploadInvalid(RegistryError):
    code = "BLOB_UPLOAD_INVALID"


class BlobUploadUnknown(RegistryError):
    code = "BLOB_UPLOAD_UNKNOWN"


class DigestInvalid(RegistryError):
    code = "DIGEST_INVALID"


class ManifestBlobUnknown(RegistryError):
    code = "MANIFEST_BLOB_UNKNOWN"


class ManifestInvalid(RegistryError):
    code = "MANIFEST_INVALID"


class ManifestUnknown(RegistryError):
    code = "MANIFEST_UNKNOWN"


class NameInvalid(RegistryError):
    code = "NAME_INVALID"


class NameUnknown(RegistryError):
    code = "NAME_UNKNOWN"


class PaginationNumberInvalid(RegistryError):
    code = "PAGINATION_NUMBER_INVALID"


class SizeInvalid(RegistryError):
    code = "SIZE_INVALID"


@dataclass(frozen=True)
class Challenge:
    """What a `WWW-Authenticate: Bearer` challenge names besides the token service: the scope to
    ask for and why the last token failed. The view renders it, since the realm is the URL the
    client reached (v2api/auth.py `challenge_header`)."""

    scope: str | None = None
    error: str | None = None


class Unauthorized(RegistryError):
    code = "UNAUTHORIZED"

    def __init__(self, message: str | None = None, detail: Any = None, challenge: Challenge | None = None) -> None:
        super().__init__(message, detail)
        self.challenge = challenge


class Denied(RegistryError):
    code = "DENIED"


class Unsupported(RegistryError):
    code = "UNSUPPORTED"


class TooManyRequests(RegistryError):
    code = "TOOMANYREQUESTS"


class Unavailable(RegistryError):
    code = "UNAVAILABLE"


class InsufficientStorage(RegistryError):
    code = "INSUFFICIENT_STORAGE"


def error_response(*errors: RegistryError) -> HttpResponse:
    """Render one or more errors as a single OCI error body; the first one sets status and headers."""
    first = errors[0]
    response = HttpResponse(
        json.dumps({"errors": [error.as_dict() for error in errors]}),
        status=first.status,
        content_type="application/json",
    )
    for name, value in first.headers.items():
        response[name] = value
    return response


class MultipleErrors(RegistryError):
    """Several errors reported at once, e.g. every digest a manifest names that the repository lacks."""

    def __init__(self, errors: list[RegistryError]) -> None:
        self.errors = errors
        self.code = errors[0].code
        super().__init__(errors[0].message, errors[0].detail, errors[0].status, errors[0].headers)


def _translate_foreign_error(exc: Exception) -> RegistryError | None:
    """The OCI error for an exception of the protocol grammar (oci) or of DRF; None for any other."""
    if isinstance(exc, InvalidName):
        return NameInvalid(detail=exc.detail)
    if isinstance(exc, InvalidDigest):
        return DigestInvalid(detail=exc.detail)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return Unsupported(str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return Unauthorized(str(exc.detail))
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return Denied(str(exc.detail))
    if isinstance(exc, drf_exceptions.Throttled):
        wait = int(getattr(exc, "wait", None) or 1)
        return TooManyRequests(str(exc.detail), headers={"Retry-After": str(wait)})
    if isinstance(exc, drf_exceptions.NotFound):
        return Unsupported("no such endpoint", status=404)
    # The database went away (restart, failover, a cut network): not a bug, and over soon.
    if isinstance(exc, OperationalError | InterfaceError) and _is_lost_connection(exc):
        logger.warning("database unavailable: %s", exc)
        return Unavailable(
            "the registry's database is unavailable; try again shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        logger.error("storage full: %s", exc)
        return InsufficientStorage()
    return None


# SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01-57P03 (the
# server shutting down or not yet accepting), 53300 (too many connections). A deadlock or a
# statement timeout is a bug or a load to see in the logs: a 500.
_LOST_CONNECTION_CODES = ("08", "57P01", "57P02", "57P03", "53300")


def _is_lost_connection(exc: Exception) -> bool:
    # psycopg2 gives no SQLSTATE for a connection that broke on the client's side.
    code = getattr(exc.__cause__, "pgcode", None)
    return code is None or code.startswith(_LOST_CONNECTION_CODES)


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """DRF exception handler for every /v2/ view."""
    if isinstance(exc, MultipleErrors):
        return error_response(*exc.errors)
    if isinstance(exc, RegistryError):
        return error_response(exc)
    translated = _translate_foreign_error(exc)
    if translated is not None:
        return error_response(translated)
    view = context.get("view")
    logger.exception("unexpected error in %s", type(view).__name__ if view else "a /v2/ view")
    return HttpResponse(
        json.dumps({"errors": [{"code": "UNKNOWN", "message": "internal server error", "detail": None}]}),
        status=500,
        content_type="application/json",
    )
