"""The client of a proxy-cache project's upstream registry (any v2 registry, Docker Hub included).

It speaks the distribution API as docker does: a request answered `401` with a `Bearer`
challenge is retried with a token from the challenge's realm (the project's upstream
credentials, if any, as HTTP Basic to the token service), a `Basic` challenge with the
credentials themselves. Tokens are kept per process until shortly before they expire. Every
request has a timeout; what goes wrong is an UpstreamError that says what the upstream answered.
"""

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from oci import media_types
from oci.names import name_in_project

# (connect, read) seconds: a dead upstream is noticed quickly, a slow layer may keep trickling.
TIMEOUT = (5, 60)
CHUNK_SIZE = 1024 * 1024
DOCKER_HUB_HOSTS = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})
# Every manifest type we store, as skopeo and docker ask for them.
MANIFEST_ACCEPT = ", ".join(sorted(media_types.IMAGE_MANIFESTS | media_types.INDEXES))
# An error answer is read this far at most, and its message shown this far.
ERROR_BODY_LIMIT = 64 * 1024
ERROR_TEXT_LIMIT = 300
_CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')
# Tokens live at least 60 s (the distribution token spec); refreshed 10 s early.
_TOKEN_MARGIN = 10
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


class UpstreamError(Exception):
    """The upstream did not give what was asked; `status` is its HTTP status, None if it did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upstream:
    base_url: str
    username: str = ""
    password: str = ""

    def repository_name(self, local_name: str) -> str:
        """The upstream name of `hub/alpine`: `alpine`, which Docker Hub knows as `library/alpine`."""
        name = name_in_project(local_name)
        if urlsplit(self.base_url).hostname in DOCKER_HUB_HOSTS and "/" not in name:
            return f"library/{name}"
        return name


@dataclass(frozen=True)
class UpstreamManifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class UpstreamBlob:
    size: int | None
    chunks: Iterator[bytes]


class UpstreamClient:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.session = requests.Session()
        # Set once the upstream asked for Basic credentials: they then go with every request,
        # as a streamed upload cannot be sent a second time after a 401.
        self._basic_authorization: str | None = None

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """`HEAD` of a manifest: its digest (Docker Hub does not count a HEAD against its rate
        limit), or None when the upstream does not say. Raises UpstreamError."""
        with self._request("HEAD", repository, f"manifests/{reference}", {"Accept": MANIFEST_ACCEPT}) as response:
            return response.headers.get("Docker-Content-Digest")

    def get_manifest(self, repository: str, reference: str, limit: int) -> UpstreamManifest:
        """`GET` of a manifest, at most `limit` bytes. Raises UpstreamError."""
        with self._request("GET", repository, f"manifests/{reference}", {"Accept": MANIFEST_ACCEPT}) as response:
            content = bytearray()
            for chunk in response.iter_content(CHUNK_SIZE):
                content += chunk
                if len(content) > limit:
                    raise UpstreamError(f"the upstream's manifest is larger than the {limit} bytes accepted here")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            return UpstreamManifest(response.headers.get("Docker-Content-Digest", ""), media_type, bytes(content))

    def blob_size(self, repository: str, digest: str) -> int:
        """`HEAD` of a blob: its size, without downloading it (Docker Hub counts GETs, not HEADs).
        Raises UpstreamError, also when the upstream does not say the size."""
        with self._request("HEAD", repository, f"blobs/{digest}", {}) as response:
            size = _content_length(response)
        if size is None:
            raise UpstreamError(f"the upstream {self.upstream.base_url} did not say the size of {digest}")
        return size

    @contextmanager
    def blob_download(self, repository: str, digest: str) -> Iterator[UpstreamBlob]:
        """`GET` of a blob: its size if the upstream says it, and its bytes as they arrive, never
        all in memory. Raises UpstreamError, also while the bytes are read."""
        with self._request("GET", repository, f"blobs/{digest}", {}) as response:
            yield UpstreamBlob(_content_length(response), self._chunks(response))

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_SIZE)
        except requests.RequestException as error:
            raise UpstreamError(f"the upstream {self.upstream.base_url} broke off: {error}") from None

    def _request(
        self, method: str, repository: str, path: str, headers: dict[str, str]
    ) -> AbstractContextManager[requests.Response]:
        url = f"{self.upstream.base_url}/v2/{repository}/{path}"
        return self.exchange(method, url, headers, (f"repository:{repository}:pull",))

    @contextmanager
    def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        scopes: tuple[str, ...],
        body: bytes | Iterable[bytes] | None = None,
    ) -> Iterator[requests.Response]:
        """One request with the token `scopes` need, answering a 401 challenge once; raises
        UpstreamError for an answer of 400 or more. A streamed `body` cannot be sent twice, so it
        goes only with a token or credentials already held (the replication client's upload starts first)."""
        response = self._send(method, url, headers, self._known_token(scopes) or self._basic_authorization, body)
        if response.status_code == 401:
            response.close()
            if body is not None and not isinstance(body, bytes):
                raise UpstreamError(f"the registry {self.upstream.base_url} refused our token mid-upload", 401)
            response = self._send(method, url, headers, self._answer_challenge(response, scopes), body)
        try:
            if response.status_code >= 400:
                raise UpstreamError(
                    f"the upstream {self.upstream.base_url} answered {method} {urlsplit(url).path} with"
                    f" {response.status_code}{_error_text(response)}",
                    status=response.status_code,
                )
            yield response
        finally:
            response.close()

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        authorization: str | None,
        body: bytes | Iterable[bytes] | None = None,
    ) -> requests.Response:
        if authorization:
            headers = {**headers, "Authorization": authorization}
        try:
            return self.session.request(method, url, headers=headers, data=body, stream=True, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise UpstreamError(f"the upstream {self.upstream.base_url} did not answer: {_reason(error)}") from None

    def _known_token(self, scopes: tuple[str, ...]) -> str | None:
        with _tokens_lock:
            token, expires = _tokens.get(self._token_key(scopes), ("", 0.0))
        return f"Bearer {token}" if token and expires > time.time() else None

    def _token_key(self, scopes: tuple[str, ...]) -> tuple[str, str, str]:
        # The password counts too, hashed: a rule or project naming the same account with another
        # password (a wrong one, an old one) must not be lent the token the right one was given.
        account = hashlib.sha256(f"{self.upstream.username}:{self.upstream.password}".encode()).hexdigest()
        return (self.upstream.base_url, account, " ".join(scopes))

    def _answer_challenge(self, response: requests.Response, scopes: tuple[str, ...]) -> str:
        """What answers the upstream's `WWW-Authenticate`: a Bearer token fetched from its realm,
        or Basic credentials."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, parameters = challenge.partition(" ")
        credentials = (self.upstream.username, self.upstream.password) if self.upstream.username else None
        if scheme.lower() == "basic" and credentials:
            self._basic_authorization = "Basic " + base64.b64encode(":".join(credentials).encode()).decode("ascii")
            return self._basic_authorization
        if scheme.lower() != "bearer":
            raise UpstreamError(f"the upstream {self.upstream.base_url} asks for credentials we cannot give", 401)
        fields = dict(_CHALLENGE_PARAMETER.findall(parameters))
        # Our scopes, not only the challenge's: a cross-repository mount needs pull on its source too.
        wanted = list(scopes)
        if fields.get("scope") and fields["scope"] not in wanted:
            wanted.append(fields["scope"])
        query: dict[str, str | list[str]] = {"service": fields.get("service", ""), "scope": wanted}
        try:
            answer = self.session.get(fields["realm"], params=query, auth=credentials, timeout=TIMEOUT)
        except KeyError:
            raise UpstreamError(
                f"the upstream {self.upstream.base_url} sent a challenge without a realm", 401
            ) from None
        except requests.RequestException as error:
            raise UpstreamError(f"the upstream's token service did not answer: {_reason(error)}") from None
        if answer.status_code != 200:
            raise UpstreamError(
                f"the upstream's token service {fields['realm']} answered {answer.status_code}{_error_text(answer)}",
                status=answer.status_code,
            )
        try:
            body = answer.json()
            token = str(body.get("token") or body["access_token"])
            lifetime = float(body.get("expires_in", 60))
        except (ValueError, KeyError, TypeError):
            raise UpstreamError("the upstream's token service sent no token") from None
        now = time.time()
        with _tokens_lock:
            # One token per upstream account and repository: the expired ones go, or a process
            # pulling from many repositories would keep them all.
            for key in [key for key, (_, expires) in _tokens.items() if expires <= now]:
                del _tokens[key]
            _tokens[self._token_key(scopes)] = (token, now + lifetime - _TOKEN_MARGIN)
        return f"Bearer {token}"


def _error_text(response: requests.Response) -> str:
    """The first OCI error of the upstream's answer, if it sent one (a HEAD has no body), cut
    short: it ends up in job results and the admin's pages, and the upstream may send anything."""
    try:
        body = bytearray()
        for chunk in response.iter_content(CHUNK_SIZE):
            body += chunk
            if len(body) > ERROR_BODY_LIMIT:
                return ""
        first = (json.loads(body).get("errors") or [])[0]
        text = f"{first.get('code', '')}: {first.get('message', '')}"
    except (ValueError, AttributeError, IndexError, TypeError, KeyError, requests.RequestException):
        return ""
    return f" {text[:ERROR_TEXT_LIMIT]}…" if len(text) > ERROR_TEXT_LIMIT else f" {text}"


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection refused or lost"
    return type(error).__name__


def _content_length(response: requests.Response) -> int | None:
    """The body's length as the upstream states it; None without one (a chunked answer), or
    when requests will decompress what it reads (the length is then not the blob's)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
