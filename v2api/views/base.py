"""What every /v2/ view shares: OCI errors, the API version header, raw request bodies."""

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from gunicorn.http.errors import ParseException
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.scopes import DELETE, PULL, PUSH, Scope, repository_scope
from oci.digests import Digest
from oci.names import check_repository_name
from oci.request_edge import client_address, credentials_of, is_storable_text
from v2api import auth
from v2api.errors import (
    BlobUploadInvalid,
    Challenge,
    PaginationNumberInvalid,
    SizeInvalid,
    Unauthorized,
    Unsupported,
    exception_handler,
)
from v2api.framing import API_VERSION, API_VERSION_HEADER

READ_SIZE = 1024 * 1024


class RegistryView(APIView):
    """Base of every /v2/ endpoint: bytes in, bytes out, errors as OCI JSON."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: list[Any] = []
    renderer_classes: list[Any] = []

    def get_exception_handler(self) -> Callable[..., HttpResponse]:
        return exception_handler

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Responses are built by hand with their own media types; DRF has nothing to render.
        return None, None

    # The repository action each method needs; a view that is all push (uploads) empties it.
    action_by_method: dict[str, str] = {"GET": PULL, "HEAD": PULL, "DELETE": DELETE}
    # Whether a push here may be the first into its project, which then creates the project.
    may_create_project = True
    caller: auth.Caller

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if "name" in kwargs:
            check_repository_name(kwargs["name"])
        if request.method == "OPTIONS":
            return
        environ = request._request.META
        self.caller = auth.identify(credentials_of(environ), client_address(environ))
        auth.remember_caller(environ, self.caller)
        if "name" in kwargs:
            action = self.action_by_method.get(str(request.method), PUSH)
            served = auth.repository_name_for(self.caller, kwargs["name"], action)
            if served != kwargs["name"]:
                # DRF passes this same dict (self.kwargs) on to the handler, which then serves
                # the mirror's repository.
                self.kwargs["name"] = kwargs["name"] = check_repository_name(served)
        scope = self.required_scope(request, kwargs)
        if scope is not None:
            decision = auth.authorize(self.caller, scope)
            decision.enforce()
            if self.may_create_project:
                auth.create_project_on_push(self.caller, decision)
        elif not self.caller.presented_credentials:
            # `GET /v2/` without credentials: the challenge tells docker login where to get a token.
            raise Unauthorized(challenge=Challenge())

    def handle_exception(self, exc: Exception) -> Any:
        # The gate decides without the request; the challenge's realm is the URL this client
        # reached, which only the request knows.
        if isinstance(exc, Unauthorized) and exc.challenge is not None:
            exc.headers["WWW-Authenticate"] = auth.challenge_header(self.request._request, exc.challenge)
        return super().handle_exception(exc)

    def required_scope(self, request: Request, kwargs: dict[str, Any]) -> Scope | None:
        """What the request needs: by default an action on the repository in the path."""
        action = self.action_by_method.get(str(request.method), PUSH)
        return repository_scope(kwargs["name"], action)

    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        """OPTIONS names the methods a path takes. DRF's own answer is rendered metadata, and these
        views have no renderer: it would be a 500."""
        return empty_response(200, {"Allow": ", ".join(self.allowed_methods)})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response[API_VERSION_HEADER] = API_VERSION
        if not response.streaming and not response.has_header("Content-Length"):
            # Every answer says its length: the API's stack has no CommonMiddleware to add it.
            response["Content-Length"] = str(len(response.content))
        if request.method == "HEAD" and not response.streaming and response.content:
            # An error answered to HEAD keeps its status and headers but carries no body.
            response.content = b""
        location = response.get("Location")
        if location and location.startswith("/"):
            response["Location"] = absolute_url(request._request, location)
        return response


class ApiVersionView(RegistryView):
    def required_scope(self, request: Request, kwargs: dict[str, Any]) -> Scope | None:
        # Any identity will do, even an anonymous token; only no credentials at all is challenged.
        return None

    def get(self, request: Request) -> HttpResponse:
        """end-1: `GET /v2/` says this is a registry speaking API v2."""
        return json_response({})


class UnknownEndpointView(RegistryView):
    """Any other path under /v2/, whatever the method: a 404 in OCI form rather than an HTML page."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise Unsupported("no such endpoint", detail={"path": request.path}, status=404)


def absolute_url(request: HttpRequest, path: str) -> str:
    """Registries answer with absolute Locations; REGISTRY_PUBLIC_URL wins over the request's Host."""
    if settings.REGISTRY_PUBLIC_URL:
        return settings.REGISTRY_PUBLIC_URL + path
    return request.build_absolute_uri(path)


def json_response(body: object, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type=content_type)


def empty_response(status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Content-Length"] = "0"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def request_body(request: Request) -> Iterator[bytes]:
    """The raw request body, a buffer at a time.

    docker and podman send PATCH bodies with `Transfer-Encoding: chunked` and no
    Content-Length; Django reads those as empty, so they are read from the WSGI input
    (gunicorn de-chunks it) until it ends. A body shorter than its Content-Length, or a chunked
    body cut off before its last chunk, means the client went away: that raises, and the caller
    keeps nothing of it.
    """
    django_request = request._request
    meta = django_request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        stream = meta["wsgi.input"]
        while True:
            chunk = _read_body(stream.read, READ_SIZE)
            if not chunk:
                return
            yield chunk
    remaining = content_length(request)
    while remaining > 0:
        chunk = _read_body(django_request.read, min(READ_SIZE, remaining))
        if not chunk:
            raise BlobUploadInvalid("request body ended before its Content-Length", detail={"missing": remaining})
        remaining -= len(chunk)
        yield chunk


def _read_body(read: Callable[[int], bytes], size: int) -> bytes:
    """One read of the body; what goes wrong there is the client's doing, a 400, not a 500:
    gunicorn raises NoMoreData (an OSError) when the connection closes mid-body (a docker push
    interrupted), and a ParseException for a malformed chunked body (a chunk size `zz`)."""
    try:
        return read(size)
    except OSError as error:
        # The web worker cuts off a body slower than its minimum rate (Django wraps that error).
        if isinstance(error, TimeoutError) or isinstance(error.__cause__, TimeoutError):
            raise BlobUploadInvalid("the request body arrived too slowly", detail={"reason": str(error)}) from None
        raise BlobUploadInvalid("the connection closed before the request body ended") from None
    except ParseException as error:
        raise BlobUploadInvalid("request body is malformed", detail={"reason": str(error)}) from None


def has_body(request: Request) -> bool:
    meta = request._request.META
    return content_length(request) > 0 or "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()


def content_length(request: Request) -> int:
    value = request._request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(value)
    except ValueError:
        raise SizeInvalid("Content-Length is not a number", detail={"Content-Length": value}) from None
    if length < 0:
        raise SizeInvalid("Content-Length is negative", detail={"Content-Length": value})
    return length


def read_limited_body(request: Request, limit: int) -> bytes:
    """A small body read whole (manifests); raises SizeInvalid (413) past `limit` bytes."""
    parts: list[bytes] = []
    received = 0
    for chunk in request_body(request):
        received += len(chunk)
        if received > limit:
            raise SizeInvalid(f"body is larger than the {limit} bytes accepted here", status=413)
        parts.append(chunk)
    return b"".join(parts)


def digest_parameter(request: Request, name: str = "digest") -> Digest | None:
    value = request.query_params.get(name)
    return Digest.parse(value) if value is not None else None


def text_parameter(request: Request, name: str) -> str | None:
    """A query parameter that goes on to a query (a cursor, a filter); raises Unsupported (400,
    the spec's code for an invalid parameter) for text no name or value can hold."""
    value = request.query_params.get(name)
    if value is not None and not is_storable_text(value):
        raise Unsupported(
            f"the {name} parameter holds a NUL or an unpaired surrogate", detail={"parameter": name}, status=400
        )
    return value


def page_parameters(request: Request) -> tuple[str | None, int | None]:
    """`last` and `n` of a paginated list; raises PaginationNumberInvalid for a bad `n`."""
    last = text_parameter(request, "last") or None
    raw_limit = request.query_params.get("n")
    if raw_limit is None or raw_limit == "":
        return last, None
    try:
        limit = int(raw_limit)
    except ValueError:
        raise PaginationNumberInvalid(detail={"n": raw_limit}) from None
    if limit < 0:
        raise PaginationNumberInvalid(detail={"n": raw_limit})
    return last, limit


def next_page_link(path: str, last: str, limit: int | None) -> str:
    query = {"last": last} if limit is None else {"n": str(limit), "last": last}
    return f'<{path}?{urlencode(query)}>; rel="next"'


def release_database_connection() -> None:
    """Give the database connection back before a long download streams.

    The response is streamed after the view returns and the connection would otherwise stay
    held until the last byte leaves; inside a transaction (tests) there is nothing to release.
    """
    if not connection.in_atomic_block:
        connection.close()
