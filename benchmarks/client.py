"""A lean OCI distribution client for the benchmark.

Plain http.client on keep-alive connections, bodies sent as slices of one in-memory pattern:
the client should cost as little CPU as possible, since it shares the machine with the server
it measures. Every request has a socket timeout, so no call can hang the run.

Against a registry with token auth (ours), a connection carries a TokenAuth: every request
sends `Authorization: Bearer` with a token for the scope its path needs, fetched once per scope
and reused until shortly before it expires, as docker and skopeo do. Never HTTP Basic on /v2/:
that checks a password hash on every request and would measure the hasher.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SEND_SIZE = 1024 * 1024
# Long enough for a 2 GiB body on a slow disk; short enough that a stuck server ends the run.
TIMEOUT_SECONDS = 600.0

Body = bytes | Iterable[bytes | memoryview] | None


class UnexpectedResponse(Exception):
    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:300]!r}")


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def location_path(self) -> str:
        """The Location header as path?query: registries answer absolute URLs."""
        location = urlsplit(self.headers["Location"])
        return location.path + (f"?{location.query}" if location.query else "")


# A token is fetched again when it has less than this left, so none expires in flight.
TOKEN_MARGIN_SECONDS = 60.0
CATALOG_SCOPE = "registry:catalog:*"
_REPOSITORY_ROUTE = re.compile(r"^(.+)/(?:blobs/uploads/?[^/]*|blobs/[^/]+|manifests/[^/]+|tags/list|referrers/[^/]+)$")


def scopes_for(method: str, path: str) -> tuple[str, ...]:
    """The token scopes a /v2/ request needs, as a client asks for them: pull,push on the
    repository it works on (distribution's challenge for a push asks for both), delete too for
    a DELETE, pull on the source of a mount, `registry:catalog:*` for the catalog."""
    split = urlsplit(path)
    route = split.path.removeprefix("/v2/")
    if route == "_catalog":
        return (CATALOG_SCOPE,)
    # The name may hold `blobs` or `manifests` itself: anchor on the route's end, as the server does.
    match = _REPOSITORY_ROUTE.match(route)
    if match is None:
        return ()
    name = match.group(1)
    actions = "pull,push,delete" if method == "DELETE" else "pull,push"
    scopes = [f"repository:{name}:{actions}"]
    source = parse_qs(split.query).get("from")
    if source and source[0] != name:
        scopes.append(f"repository:{source[0]}:pull")
    return tuple(scopes)


class TokenAuth:
    """Bearer tokens from a registry's token service, shared by every connection of a run.

    The password is checked once: a `grant_type=password` POST with `access_type=offline` gives
    a refresh token, and every scope's token comes from `grant_type=refresh_token`, as docker does
    with the identity token `docker login` stored. Tokens are cached per scope set and fetched
    again before they expire (or when the registry rejects one), under a lock per scope set; a
    token fetched for several scopes also serves a request that needs one of them.
    """

    def __init__(self, port: int, username: str, password: str, service: str) -> None:
        self.port = port
        self.username = username
        self.password = password
        self.service = service
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._fetch_locks: dict[tuple[str, ...], threading.Lock] = {}
        self._covering: dict[str, tuple[str, ...]] = {}
        self._refresh_token: str | None = None
        self._local = threading.local()
        self.fetched = 0

    def basic_header(self) -> str:
        """For the management API (/api/v1/), which takes HTTP Basic; never for /v2/ load."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def headers(self, method: str, path: str) -> dict[str, str]:
        scopes = scopes_for(method, path)
        return {"Authorization": f"Bearer {self.token(scopes)}"} if scopes else {}

    def token(self, scopes: tuple[str, ...]) -> str:
        with self._lock:
            cached = self._cached(scopes)
            if cached is not None:
                return cached
            fetch_lock = self._fetch_locks.setdefault(scopes, threading.Lock())
        with fetch_lock:
            with self._lock:
                cached = self._cached(scopes)
                if cached is not None:
                    return cached
            token, expires_at = self._fetch(scopes)
            with self._lock:
                self._tokens[scopes] = (token, expires_at)
                # A client keeps using a push session's token (push on the target, pull on a
                # mount's source) for the requests that need only part of it.
                for scope in scopes:
                    self._covering[scope] = scopes
                self.fetched += 1
            return token

    def _cached(self, scopes: tuple[str, ...]) -> str | None:
        """A live token for exactly these scopes, or one fetched for a set holding this one scope."""
        keys = [scopes, self._covering.get(scopes[0])] if len(scopes) == 1 else [scopes]
        for key in keys:
            cached = self._tokens.get(key) if key is not None else None
            if cached is not None and cached[1] - time.monotonic() > TOKEN_MARGIN_SECONDS:
                return cached[0]
        return None

    def forget(self, scopes: tuple[str, ...]) -> None:
        """Drop the token these scopes were served with (the registry refused it)."""
        with self._lock:
            self._tokens.pop(scopes, None)
            if len(scopes) == 1:
                covering = self._covering.pop(scopes[0], None)
                if covering is not None:
                    self._tokens.pop(covering, None)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self._local.connection = connection
        return connection

    def _post(self, form: list[tuple[str, str]]) -> dict[str, object]:
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("POST", "/auth/token", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise UnexpectedResponse("POST", "/auth/token", response.status, data)
        document: dict[str, object] = json.loads(data)
        return document

    def _fetch(self, scopes: tuple[str, ...]) -> tuple[str, float]:
        asked_at = time.monotonic()
        scope_fields = [("scope", scope) for scope in scopes]
        common = [("service", self.service), ("client_id", "harbor-lite-benchmark"), *scope_fields]
        if self._refresh_token is None:
            answer = self._post(
                [("grant_type", "password"), ("username", self.username), ("password", self.password),
                 ("access_type", "offline"), *common]
            )  # fmt: skip
            self._refresh_token = str(answer["refresh_token"])
        else:
            answer = self._post([("grant_type", "refresh_token"), ("refresh_token", self._refresh_token), *common])
        expires_in = answer.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 60.0
        return str(answer["access_token"]), asked_at + lifetime


class Connection:
    """One keep-alive connection to a registry on 127.0.0.1; use one per thread.

    With `auth`, every request carries a bearer token for the scopes its path needs; a 401
    (the token expired or lacks the scope) fetches a new one and tries once more.
    """

    def __init__(self, port: int, auth: TokenAuth | None = None) -> None:
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS, blocksize=SEND_SIZE)
        self.auth = auth

    def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Response:
        replayable = body is None or isinstance(body, bytes)
        for auth_attempt in (1, 2):
            sent = {**(self.auth.headers(method, path) if self.auth else {}), **(headers or {})}
            response, data = self._exchange(method, path, body, sent, replayable)
            if response.status == 401 and self.auth is not None and replayable and auth_attempt == 1:
                self.auth.forget(scopes_for(method, path))
                continue
            break
        if response.status not in expect:
            raise UnexpectedResponse(method, path, response.status, data)
        return Response(response.status, response.headers, data)

    def _exchange(
        self, method: str, path: str, body: Body, headers: dict[str, str], replayable: bool
    ) -> tuple[http.client.HTTPResponse, bytes]:
        # Two attempts: a server may close an idle keep-alive connection just as we reuse it.
        for attempt in (1, 2):
            try:
                self._http.request(method, path, body=body, headers=headers)
                response = self._http.getresponse()
                return response, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._http.close()
                if attempt == 2 or not replayable:
                    raise
        raise AssertionError("unreachable")

    def download(self, path: str) -> int:
        """GET a blob and count its bytes without keeping them (the digest is not re-checked: that
        would measure the client's hashing, not the server)."""
        self._http.request("GET", path, headers=self.auth.headers("GET", path) if self.auth else {})
        response = self._http.getresponse()
        if response.status != 200:
            raise UnexpectedResponse("GET", path, response.status, response.read())
        buffer = bytearray(SEND_SIZE)
        received = 0
        while count := response.readinto(buffer):
            received += count
        return received

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class Blob:
    """`size` bytes made of a random pattern repeated, ending in a unique tail.

    The tail gives every blob its own digest: a registry that already holds a digest may skip
    writing it, which would flatter a repeated push.
    """

    pattern: memoryview
    size: int
    tail: bytes
    digest: str

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[memoryview | bytes]:
        """The bytes [start, stop) as slices of the pattern; nothing is copied."""
        stop = self.size if stop is None else stop
        body_end = self.size - len(self.tail)
        position = start
        while position < min(stop, body_end):
            offset = position % len(self.pattern)
            count = min(SEND_SIZE, len(self.pattern) - offset, body_end - position, stop - position)
            yield self.pattern[offset : offset + count]
            position += count
        if stop > body_end:
            yield self.tail[max(position - body_end, 0) : stop - body_end]


class BlobMaker:
    """Makes large blobs from one random pattern, hashing the shared prefix once per size."""

    TAIL_SIZE = 32

    def __init__(self, pattern_size: int) -> None:
        self.pattern = memoryview(os.urandom(pattern_size))
        self._prefix_hashes: dict[int, hashlib._Hash] = {}

    def make(self, size: int) -> Blob:
        prefix_size = size - self.TAIL_SIZE
        if prefix_size not in self._prefix_hashes:
            hasher = hashlib.sha256()
            for chunk in Blob(self.pattern, prefix_size, b"", "").chunks():
                hasher.update(chunk)
            self._prefix_hashes[prefix_size] = hasher
        tail = os.urandom(self.TAIL_SIZE)
        hasher = self._prefix_hashes[prefix_size].copy()
        hasher.update(tail)
        return Blob(self.pattern, size, tail, f"sha256:{hasher.hexdigest()}")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def descriptor_of(content: bytes, media_type: str) -> Descriptor:
    return Descriptor(media_type, f"sha256:{hashlib.sha256(content).hexdigest()}", len(content))


def with_query(path: str, **parameters: str) -> str:
    """Add parameters to a Location that may carry its own query (the reference's `_state`)."""
    return path + ("&" if "?" in path else "?") + urlencode(parameters)


def start_upload(connection: Connection, repository: str) -> str:
    return connection.request("POST", f"/v2/{repository}/blobs/uploads/", expect=(202,)).location_path()


def push_blob_monolithic(connection: Connection, repository: str, blob: Blob) -> None:
    """POST, then PUT ?digest= carrying the whole body (oras, dxf)."""
    location = start_upload(connection, repository)
    headers = {"Content-Length": str(blob.size), "Content-Type": "application/octet-stream"}
    connection.request("PUT", with_query(location, digest=blob.digest), blob.chunks(), headers, expect=(201,))


def push_blob_chunked(connection: Connection, repository: str, blob: Blob, chunk_size: int) -> None:
    """POST, PATCHes with Content-Range (oras's form, no `bytes ` unit), then an empty PUT ?digest=."""
    location = start_upload(connection, repository)
    for start in range(0, blob.size, chunk_size):
        stop = min(start + chunk_size, blob.size)
        headers = {
            "Content-Length": str(stop - start),
            "Content-Range": f"{start}-{stop - 1}",
            "Content-Type": "application/octet-stream",
        }
        response = connection.request("PATCH", location, blob.chunks(start, stop), headers, expect=(202,))
        location = response.location_path()
    connection.request("PUT", with_query(location, digest=blob.digest), headers={"Content-Length": "0"}, expect=(201,))


def push_small_blob(connection: Connection, repository: str, content: bytes, descriptor: Descriptor) -> None:
    """As skopeo does it: HEAD (absent), POST, one PATCH with the whole blob, an empty PUT ?digest=."""
    connection.request("HEAD", f"/v2/{repository}/blobs/{descriptor.digest}", expect=(404,))
    location = start_upload(connection, repository)
    headers = {"Content-Length": str(len(content)), "Content-Type": "application/octet-stream"}
    location = connection.request("PATCH", location, content, headers, expect=(202,)).location_path()
    connection.request(
        "PUT", with_query(location, digest=descriptor.digest), headers={"Content-Length": "0"}, expect=(201,)
    )


def mount_blob(connection: Connection, repository: str, digest: str, source: str) -> None:
    """A cross-repository mount; both registries answer 201 when the source holds the blob."""
    path = f"/v2/{repository}/blobs/uploads/?{urlencode({'mount': digest, 'from': source})}"
    connection.request("POST", path, expect=(201,))


def image_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.as_json(),
        "layers": [layer.as_json() for layer in layers],
    }
    return json.dumps(document).encode()


def image_config(layer_count: int) -> bytes:
    """A config that parses as an image config; the registries do not check it against the layers."""
    diff_ids = [f"sha256:{hashlib.sha256(os.urandom(16)).hexdigest()}" for _ in range(layer_count)]
    return json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()


def put_manifest(connection: Connection, repository: str, tag: str, manifest: bytes) -> None:
    headers = {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(manifest))}
    connection.request("PUT", f"/v2/{repository}/manifests/{tag}", manifest, headers, expect=(201,))


def push_blob_whole(connection: Connection, repository: str, content: bytes, digest: str, single_post: bool) -> None:
    """A small blob in as few requests as the registry allows: the spec's single `POST ?digest=`
    where it is taken (ours), otherwise `POST` then `PUT ?digest=` with the body (the reference
    answers a `POST ?digest=` with 202 and no blob)."""
    headers = {"Content-Length": str(len(content)), "Content-Type": "application/octet-stream"}
    if single_post:
        path = f"/v2/{repository}/blobs/uploads/?{urlencode({'digest': digest})}"
        connection.request("POST", path, content, headers, expect=(201,))
        return
    location = start_upload(connection, repository)
    connection.request("PUT", with_query(location, digest=digest), content, headers, expect=(201,))


def delete_manifest(connection: Connection, repository: str, digest: str) -> None:
    connection.request("DELETE", f"/v2/{repository}/manifests/{digest}", expect=(202,))
