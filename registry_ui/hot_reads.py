"""The reads every pull repeats, answered without Django's request machinery.

A `docker pull` is a manifest GET by tag, then a HEAD or GET of each blob, and a CI fleet
pulling one image repeats those by the thousand. Through Django's handler, the URL resolver and
DRF's dispatch, a manifest GET cost about three times the one indexed query that answers it
(the profile in issue 6). This module answers, straight from the WSGI environ:

- `GET` and `HEAD /v2/<name>/manifests/<reference>`,
- `HEAD /v2/<name>/blobs/<digest>`,

but only their plain success: a valid name, a bearer token that grants pull on the repository
(or no credentials at all on a repository of a public project), a row found, a media type the
client accepts. Anything else is declined (`answer` returns None) and the full stack handles
it, which owns every error: a bad name or reference, Basic auth, a token that does not cover
the scope, an unknown manifest, an unacceptable media type, a database error. So a request gets
the same answer either way, and tests/v2api/test_hot_reads.py holds the two side by side.

Its metrics and access line are the ones the full stack's middleware writes. It leaves the
database connection's upkeep to the full stack: a connection the full stack checked stays
checked through any number of hot reads, and a database error here declines the request to
the full stack, which replaces a broken connection before it answers.
"""

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from accounts.scopes import PULL, repository_scope
from accounts.tokens import InvalidToken, granted_scopes, verify_access_token
from oci.digests import Digest, InvalidDigest
from oci.names import is_repository_name
from registry_ui import metrics
from registry_ui.access_log import access_logger, write_access_line
from registry_ui.middleware import client_address_from
from registry_ui.request_ids import REQUEST_ID_HEADER, current_request_id, request_id_from
from v2api.auth import covers
from v2api.errors import RegistryError
from v2api.services import blobs as blob_service
from v2api.services import manifests as manifest_service
from v2api.views.manifests import parse_accept

# The same routes as v2api/urls.py: a path that ends in /manifests/<x> is never one of the
# routes listed before the manifest route there, and one ending in /blobs/<x> only when <x> is
# "uploads", which is no digest.
_MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
_BLOB_PATH = re.compile(r"^/v2/(.+)/blobs/([^/]+)$")
MANIFEST_ROUTE = "v2:manifest"
BLOB_ROUTE = "v2:blob"


def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
    """The response to a hot read, or None when the full stack must answer."""
    started = time.perf_counter()
    method = environ.get("REQUEST_METHOD", "")
    if method not in ("GET", "HEAD"):
        return None
    path = environ.get("PATH_INFO", "")
    match = _MANIFEST_PATH.match(path)
    route = MANIFEST_ROUTE
    if match is None and method == "HEAD":
        match = _BLOB_PATH.match(path)
        route = BLOB_ROUTE
    if match is None:
        return None
    name, reference = match.groups()
    if not is_repository_name(name):
        return None
    anonymous = "HTTP_AUTHORIZATION" not in environ
    subject = "" if anonymous else _token_subject(environ["HTTP_AUTHORIZATION"], name)
    if subject is None:
        return None
    try:
        if route == MANIFEST_ROUTE:
            found = _manifest(environ, name, reference, with_content=method == "GET")
        else:
            found = _blob(name, reference)
    except (RegistryError, InvalidDigest, DatabaseError):
        return None
    if found is None:
        return None
    headers, body, digest, public = found
    if anonymous and not public:
        return None

    request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
    headers += [
        ("Docker-Distribution-API-Version", "registry/2.0"),
        (REQUEST_ID_HEADER, request_id),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    start_response("200 OK", headers)
    bytes_out = len(body) if method == "GET" else 0
    metrics.record_request(route, method, 200, time.perf_counter() - started)
    if access_logger.isEnabledFor(logging.INFO):
        token = current_request_id.set(request_id)
        try:
            write_access_line(
                subject=subject,
                method=method,
                route=route,
                repository=name,
                reference=reference,
                digest=digest,
                status=200,
                bytes_in=0,
                bytes_out=bytes_out,
                served_by="application",
                remote_addr=client_address_from(environ),
                user_agent=environ.get("HTTP_USER_AGENT", ""),
            )
        finally:
            current_request_id.reset(token)
    return [body]


def _token_subject(authorization: str, name: str) -> str | None:
    """The subject of a bearer token that grants pull on `name`; None for anything else."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        claims = verify_access_token(token.strip())
    except InvalidToken:
        return None
    if not covers(granted_scopes(claims), repository_scope(name, PULL)):
        return None
    return str(claims["sub"])


_Found = tuple[list[tuple[str, str]], bytes, str, bool]


def _manifest(environ: dict[str, Any], name: str, reference: str, with_content: bool) -> _Found | None:
    manifest = manifest_service.find_manifest(name, manifest_service.parse_reference(reference), with_content)
    if manifest is None:
        return None
    if not manifest_service.accepts(manifest.media_type, parse_accept(environ.get("HTTP_ACCEPT", ""))):
        return None
    headers = [
        ("Content-Type", manifest.media_type),
        ("Docker-Content-Digest", manifest.digest),
        ("Content-Length", str(manifest.size)),
    ]
    return headers, manifest.content, manifest.digest, manifest.project_public


def _blob(name: str, digest: str) -> _Found | None:
    blob = blob_service.find_blob(name, Digest.parse(digest))
    if blob is None:
        return None
    headers = [
        ("Content-Length", str(blob.size)),
        ("Docker-Content-Digest", blob.digest),
        ("Content-Type", "application/octet-stream"),
        ("Accept-Ranges", "bytes"),
    ]
    return headers, b"", blob.digest, blob.project_public
