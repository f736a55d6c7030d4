"""The edge of every request: what a registry request says about itself, read once.

Both the token service (`/auth/token`, the management API) and the registry (`/v2/`, fast path
and full stack alike) ask who is calling, from where, and for which route; this module is the
one place that reads the Authorization header, the client address and the route of a path. It
works on a WSGI environ (Django's `request.META` is one) and knows nothing of Django, so every
layer may use it.
"""

import base64
import binascii
import re
import secrets
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

# On a download handed to the proxy (X-Accel-Redirect): how many bytes the proxy will send, for
# the metrics and the access log. The observation middleware reads and removes it.
PROXIED_BYTES_HEADER = "X-Registry-Proxied-Bytes"

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from outside: nginx's $request_id is 32 hex digits; tracing systems send UUIDs.
# Anything else (too long, or characters that would spoil a log line) is replaced by our own.
_ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# The id of the request this thread serves, for every log line it writes (gunicorn's gthread
# worker runs each request in one thread, and each thread has its own context).
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Where the parsed credentials are kept in the environ, so a request is parsed once however many
# layers ask (the gate, the access log, the login throttle).
_CREDENTIALS_KEY = "registry.credentials"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the Authorization header presents: a Basic username and secret, a Bearer token, or
    nothing. A header of another scheme, a Basic value that does not decode or one with an empty
    username and secret presents nothing, so its caller is anonymous, as with no header at all."""

    scheme: Literal["none", "basic", "bearer"]
    username: str = ""
    secret: str = ""
    token: str = ""


NO_CREDENTIALS = Credentials("none")


def credentials_of(environ: MutableMapping[str, Any]) -> Credentials:
    """The request's credentials, parsed on first use and remembered in the environ."""
    found = environ.get(_CREDENTIALS_KEY)
    if found is None:
        found = environ[_CREDENTIALS_KEY] = parse_authorization(environ.get("HTTP_AUTHORIZATION"))
    return found  # type: ignore[no-any-return]


def parse_authorization(header: str | None) -> Credentials:
    """`Basic <base64 user:secret>` or `Bearer <token>`; schemes are case-insensitive (RFC 7235)."""
    if header is None:
        return NO_CREDENTIALS
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return Credentials("bearer", token=value.strip())
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return NO_CREDENTIALS
        username, separator, secret = decoded.partition(":")
        # `Basic Og==` (":") is what some clients send when they have no credentials: anonymous,
        # not a failed login of an empty account that the throttle would then close to everyone.
        if separator and (username or secret):
            return Credentials("basic", username=username, secret=secret)
    return NO_CREDENTIALS


def is_storable_text(value: str) -> bool:
    """Whether `value` may go on to a query, a log line or a JSON answer: no NUL (Postgres text
    refuses it) and no lone surrogate such as a JSON `\\ud800` (it has no UTF-8 form). Either one,
    in a name, a cursor or a credential, reached Postgres and made a 500; the edge refuses it."""
    return "\x00" not in value and not _LONE_SURROGATE.search(value)


def settle_client_address(environ: MutableMapping[str, Any], trust_proxy_headers: bool) -> str:
    """Set REMOTE_ADDR to the client's address, once at the start of a request, and return it.

    Behind nginx every request comes from nginx's address; where the proxy is trusted, the address
    nginx saw (X-Real-IP, which nginx sets and a client cannot) is the client's. Untrusted, the
    header is ignored: anyone could send it. Settling twice gives the same address.
    """
    if trust_proxy_headers:
        forwarded = str(environ.get("HTTP_X_REAL_IP", "")).strip()
        if forwarded:
            environ["REMOTE_ADDR"] = forwarded
    return client_address(environ)


def client_address(environ: Mapping[str, Any]) -> str:
    """The client's address, as settled at the start of the request."""
    return str(environ.get("REMOTE_ADDR", ""))


def request_id_from(header: str | None) -> str:
    """The caller's request id (X-Request-ID) when it is a sane token, else a new one: one id
    per request, so nginx's line, gunicorn's line and the application's lines can be found
    together."""
    if header and _ACCEPTED_REQUEST_ID.match(header):
        return header
    return secrets.token_hex(16)


def accepted_media_types(environ: Mapping[str, Any]) -> list[str]:
    """The media types of every Accept header; skopeo and podman send six separate lines, which
    WSGI joins with commas."""
    header = str(environ.get("HTTP_ACCEPT", ""))
    return [item.split(";", 1)[0].strip() for item in header.split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint of the distribution API: its URL name and its path below `/v2/`."""

    name: str
    pattern: str

    @property
    def url_name(self) -> str:
        """The name within the `v2` URL namespace (`manifest` of `v2:manifest`)."""
        return self.name.removeprefix(f"{V2_NAMESPACE}:")


V2_NAMESPACE = "v2"
BASE = Route("v2:base", r"^$")
CATALOG = Route("v2:catalog", r"^_catalog$")
TAGS = Route("v2:tags", r"^(?P<name>.+)/tags/list$")
MANIFEST = Route("v2:manifest", r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
UPLOAD_START = Route("v2:upload-start", r"^(?P<name>.+)/blobs/uploads/?$")
UPLOAD = Route("v2:upload", r"^(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$")
BLOB = Route("v2:blob", r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
REFERRERS = Route("v2:referrers", r"^(?P<name>.+)/referrers/(?P<digest>[^/]+)$")
UNKNOWN = Route("v2:unknown", r"^.*$")
# In matching order: a repository name may contain slashes, so each route anchors on the keyword
# after it, and the upload routes come before the blob route (`…/blobs/uploads` is no digest).
ROUTES = (BASE, CATALOG, TAGS, MANIFEST, UPLOAD_START, UPLOAD, BLOB, REFERRERS, UNKNOWN)
# Routes that name a repository; /v2/, the catalog and unknown paths say nothing about an image.
REPOSITORY_ROUTES = frozenset(route.name for route in ROUTES if "(?P<name>" in route.pattern)

_COMPILED = tuple((route, re.compile(route.pattern)) for route in ROUTES)


def match_route(path: str) -> tuple[Route, dict[str, str]] | None:
    """The route a `/v2/…` path takes and its arguments, as Django's resolver would find them;
    None for a path outside /v2/."""
    if not path.startswith("/v2/"):
        return None
    below = path[len("/v2/") :]
    for route, pattern in _COMPILED:
        matched = pattern.match(below)
        if matched is not None:
            return route, matched.groupdict()
    return None
