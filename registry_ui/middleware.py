"""Middleware that watches each request once and feeds the metrics and the access log, the one
that tells the audit log who acts, the one that believes the proxy about the client's address,
what browsers are told beyond Django's SecurityMiddleware, and the one that refuses unstorable
text or a body that never arrived."""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
    UnreadablePostError,
)

from audit import context as audit_context
from oci import request_edge as edge
from v2api import metrics
from v2api.access_log import log_registry_access
from v2api.auth import identified_caller

_UPLOAD_ROUTES = frozenset({edge.UPLOAD_START.name, edge.UPLOAD.name})
UNMATCHED_ROUTE = "unmatched"


class _CountingStream:
    """Wraps wsgi.input to count the bytes a view reads: chunked bodies carry no Content-Length."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self.stream.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self.stream.readline(size)
        self.bytes_read += len(line)
        return line


def route_name(request: HttpRequest) -> str:
    """The URL pattern's name (`v2:blob`), never the raw path: one time series per endpoint."""
    match = request.resolver_match
    return match.view_name if match is not None and match.view_name else UNMATCHED_ROUTE


class RequestObservationMiddleware:
    """Times each request, counts blob bytes in and out, and writes the registry access line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        # Decided from the path because the route is resolved only inside get_response.
        is_upload = request.method in {"POST", "PATCH", "PUT"} and "/blobs/uploads" in request.path
        counting: _CountingStream | None = None
        if is_upload and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # docker and podman stream chunked PATCH bodies, which the upload view reads from wsgi.input.
            counting = _CountingStream(request.META["wsgi.input"])
            request.META["wsgi.input"] = counting
        if is_upload:
            metrics.UPLOAD_REQUESTS_IN_PROGRESS.inc()
        try:
            response = self.get_response(request)
        finally:
            if is_upload:
                metrics.UPLOAD_REQUESTS_IN_PROGRESS.dec()

        route = route_name(request)
        method = str(request.method)
        metrics.record_request(route, method, response.status_code, time.perf_counter() - started)

        bytes_in = 0
        if route in _UPLOAD_ROUTES and response.status_code < 400:
            bytes_in = counting.bytes_read if counting is not None else _content_length(request)
            metrics.record_blob_bytes_received(bytes_in)

        served_by = "application"
        if response.has_header(edge.PROXIED_BYTES_HEADER):
            served_by = "proxy"
            bytes_out = int(response[edge.PROXIED_BYTES_HEADER])
            # Only for us: it never leaves the application.
            del response[edge.PROXIED_BYTES_HEADER]
        elif method == "HEAD" or response.status_code >= 300:
            bytes_out = 0
        else:
            bytes_out = _response_length(response)
        if route == edge.BLOB.name and method == "GET" and bytes_out:
            metrics.record_blob_bytes_sent(bytes_out, served_by)

        log_registry_access(request, response, route, bytes_in, bytes_out, served_by)
        return response


class AuditContextMiddleware:
    """Tells the audit log who acts in this request, from which address and with which client
    (audit/context.py). The actor is looked up when an event is recorded, by then the view has
    authenticated the caller: the registry's gate on /v2/, DRF or the session elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        context = audit_context.RequestContext(
            address=edge.client_address(request.META),
            user_agent=request.headers.get("User-Agent", ""),
            actor=lambda: _actor_of(request),
        )
        with audit_context.acting(context):
            return self.get_response(request)


def _actor_of(request: HttpRequest) -> audit_context.Actor:
    caller = identified_caller(request.META)
    if caller is not None:
        return audit_context.actor_for_subject(caller.subject)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return audit_context.actor_for_subject(user.get_username())
    return audit_context.ANONYMOUS


class BrowserSecurityMiddleware:
    """The dashboard's Content-Security-Policy, and, on a request that came over TLS, every cookie
    marked Secure. Django's SESSION_COOKIE_SECURE is one value for all requests, and the same
    registry may serve plain HTTP (the embedded mode on a LAN) and HTTPS (behind nginx)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.REGISTRY_CONTENT_SECURITY_POLICY)
        if request.is_secure():
            for cookie in response.cookies.values():
                cookie["secure"] = True
        return response


class ForwardedClientAddressMiddleware:
    """Settles the client's address first (oci/request_edge.py), so the per-address login
    throttle and the logs see real clients behind nginx where REGISTRY_TRUST_PROXY_HEADERS says
    the proxy is to be believed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        edge.settle_client_address(request.META, settings.REGISTRY_TRUST_PROXY_HEADERS)
        return self.get_response(request)


class StorableInputMiddleware:
    """Refuses, with a clear 400, a dashboard, token or management-API request whose path, query
    or form holds text that no name or value can hold (a NUL, a lone surrogate: see
    `edge.is_storable_text`). Views hand these values to Postgres as they are (a project in the
    path, a paging cursor, a username in a form), and Postgres refused them with a 500; one check
    here covers every page. /v2/ checks its own inputs where it reads them, in OCI error form,
    and the fast path never passes through this stack.

    A body that cannot be read whole is the client's doing too, a 400: it closed the connection,
    or sent the body slower than the web worker accepts (registry_ui/client_limits.py). Forms are
    read here; a JSON body is read by the view, whose error comes back through process_exception."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith("/v2/"):
            return self.get_response(request)
        try:
            form = request.POST if request.method == "POST" else None
        except UnreadablePostError:
            return _refusal(request, UNREADABLE_BODY)
        texts = [request.path, *_texts_of(request.GET)] + (_texts_of(form) if form is not None else [])
        if all(edge.is_storable_text(text) for text in texts):
            return self.get_response(request)
        return _refusal(
            request, "The request holds a NUL character or an unpaired surrogate, which no name or value may contain."
        )

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if isinstance(exception, UnreadablePostError) and not request.path.startswith("/v2/"):
            return _refusal(request, UNREADABLE_BODY)
        return None


UNREADABLE_BODY = "The request body did not arrive: the connection closed, or it came too slowly."


def _refusal(request: HttpRequest, message: str) -> HttpResponseBase:
    if request.path.startswith(("/api/", "/auth/")):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _texts_of(query: QueryDict) -> list[str]:
    return [text for key, values in query.lists() for text in (key, *values)]


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.headers.get("Content-Length") or 0), 0)
    except ValueError:
        return 0


def _response_length(response: HttpResponseBase) -> int:
    if response.has_header("Content-Length"):
        try:
            return int(response["Content-Length"])
        except ValueError:
            return 0
    return 0 if response.streaming else len(getattr(response, "content", b""))
