"""The fast path: the reads every pull repeats, served without Django's request machinery.

A `docker pull` is a manifest GET by tag, then a HEAD or GET of each blob, and a CI fleet
pulling one image repeats those by the thousand. Through Django's handler, the URL resolver and
DRF's dispatch, a manifest GET cost about three times the one indexed query that answers it
(the profile in issue 6). This provider answers, straight from the WSGI environ,

- `GET` and `HEAD /v2/<name>/manifests/<reference>` (`FAST_ROUTES`),
- `HEAD /v2/<name>/blobs/<digest>`,

behind the same gate as every other request (v2api/auth.py `identify` and `authorize`), with the
same lookups as the views (the manifest and blob services) and the same framing
(v2api/framing.py). It serves only the plain success: a valid name, a bearer token or no
credentials, an allowed decision, a row found (and, for a proxy-cache project's tag, one its
upstream confirmed inside the TTL), a media type the client accepts. Anything else is
declined (`answer` returns None) and the full stack answers it, which owns every error: a bad name
or reference, a refused decision, an unknown manifest, an unacceptable media type, a database
error. HTTP Basic goes to the full stack too: a password check is slow by design and counts
toward the login throttle, so it is made once, there. tests/v2api/test_fast_reads.py walks the
route table and holds the two answers side by side.

A pusher's HEAD of a layer whose link is old refreshes the link, as the full stack's does
(services/blobs.py `refresh_old_link`): the one write it may make, after the gate allowed the
request. Its metrics and access line are the ones the full stack's middleware writes, and a
manifest GET is audited as a pull as the full stack's view audits it: buffered (audit/pulls.py),
never written in the request. It leaves the
database connection's upkeep to the full stack: a connection the full stack checked stays
checked through any number of fast reads, and a database error here declines the request to the
full stack, which replaces a broken connection before it answers.
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from accounts.scopes import PULL, PUSH, repository_scope
from audit.pulls import record_pull
from oci import request_edge as edge
from oci.digests import Digest, InvalidDigest
from oci.names import is_repository_name
from oci.request_edge import REQUEST_ID_HEADER, current_request_id, request_id_from
from v2api import auth, metrics
from v2api.access_log import access_logger, write_access_line
from v2api.errors import RegistryError
from v2api.framing import API_VERSION, API_VERSION_HEADER, blob_head_headers, manifest_headers
from v2api.services import blobs as blob_service
from v2api.services import manifests as manifest_service

# The (route, method) pairs this provider may serve; every other request goes to the full stack.
FAST_ROUTES = frozenset({(edge.MANIFEST, "GET"), (edge.MANIFEST, "HEAD"), (edge.BLOB, "HEAD")})


def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
    """The response to a fast read, or None when the full stack must answer."""
    started = time.perf_counter()
    method = environ.get("REQUEST_METHOD", "")
    if method not in ("GET", "HEAD"):
        return None
    matched = edge.match_route(environ.get("PATH_INFO", ""))
    if matched is None or (matched[0], method) not in FAST_ROUTES:
        return None
    route, arguments = matched
    name = arguments["name"]
    if not is_repository_name(name):
        return None
    credentials = edge.credentials_of(environ)
    if credentials.scheme == "basic":
        return None
    address = edge.settle_client_address(environ, settings.REGISTRY_TRUST_PROXY_HEADERS)
    try:
        caller = auth.identify(credentials, address)
        served = auth.repository_name_for(caller, name, PULL)
        if served != name and not is_repository_name(served):
            return None  # the mirror's name is too long: the full stack says so
        name = served
        if route is edge.MANIFEST:
            found = _manifest(environ, name, arguments["reference"], with_content=method == "GET")
        else:
            found = _blob(name, arguments["digest"])
        if found is None or not _allowed(caller, name, project_public=found[3]):
            return None
        blob = found[4]
        # The age first: asking whether the caller may push can cost a query.
        if blob is not None and blob.link_is_old and auth.may(caller, repository_scope(name, PUSH)):
            blob_service.refresh_old_link(blob)
    except (RegistryError, InvalidDigest, DatabaseError):
        return None
    headers, body, digest, _, _ = found

    request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
    # What the full stack's middleware adds to every answer (request ids, SecurityMiddleware).
    header_list = [*headers.items(), (API_VERSION_HEADER, API_VERSION), (REQUEST_ID_HEADER, request_id)]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        header_list.append(("X-Content-Type-Options", "nosniff"))
    start_response("200 OK", header_list)
    bytes_out = len(body) if method == "GET" else 0
    user_agent = environ.get("HTTP_USER_AGENT", "")
    if route is edge.MANIFEST and method == "GET":
        record_pull(
            subject=caller.subject,
            address=address,
            user_agent=user_agent,
            repository=name,
            reference=arguments["reference"],
            digest=digest,
        )
    metrics.record_request(route.name, method, 200, time.perf_counter() - started)
    if access_logger.isEnabledFor(logging.INFO):
        token = current_request_id.set(request_id)
        try:
            write_access_line(
                subject=caller.subject,
                method=method,
                route=route.name,
                repository=name,
                reference=arguments.get("reference") or arguments["digest"],
                digest=digest,
                status=200,
                bytes_in=0,
                bytes_out=bytes_out,
                served_by="application",
                remote_addr=address,
                user_agent=user_agent,
            )
        finally:
            current_request_id.reset(token)
    return [body]


def _allowed(caller: auth.Caller, name: str, project_public: bool) -> bool:
    return auth.authorize(caller, repository_scope(name, PULL), project_public=project_public).allowed


# Headers, body, digest, whether the project is public, and the blob's record for a blob HEAD.
_Found = tuple[dict[str, str], bytes, str, bool, blob_service.BlobRecord | None]


def _manifest(environ: dict[str, Any], name: str, reference: str, with_content: bool) -> _Found | None:
    manifest = manifest_service.find_manifest(name, manifest_service.reference_to_read(reference), with_content)
    # A proxied tag due for its upstream check goes to the full stack, which checks it.
    if manifest is None or manifest.needs_upstream_check:
        return None
    if not manifest_service.accepts(manifest.media_type, edge.accepted_media_types(environ)):
        return None
    headers = manifest_headers(manifest.media_type, manifest.digest, manifest.size)
    return headers, manifest.content, manifest.digest, manifest.project_public, None


def _blob(name: str, digest: str) -> _Found | None:
    blob = blob_service.find_blob(name, Digest.parse(digest))
    if blob is None:
        return None
    return blob_head_headers(blob.digest, blob.size), b"", blob.digest, blob.project_public, blob
