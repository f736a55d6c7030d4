"""A small OCI client for replication: reads a remote registry (tags, catalog, referrers) and
pushes to it (blobs, cross-repository mounts, manifests), with the upstream client's token or
Basic auth (v2api/upstream.py).

Blobs up to MONOLITHIC_LIMIT go in one `PUT ?digest=` after the `POST`; larger ones in one
streamed `PATCH` (chunked transfer encoding), then an empty `PUT`: never whole in memory. Every
failure is an UpstreamError naming the remote's answer.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urljoin

import requests

from v2api.upstream import MANIFEST_ACCEPT, Upstream, UpstreamClient, UpstreamError

# Blobs up to this size are sent in the request that finishes the upload (as oras does).
MONOLITHIC_LIMIT = 1024 * 1024
# Listings are read in pages of this many names; the remote may answer with fewer.
PAGE_SIZE = 1000
# A page of a listing, or of referrers, larger than this is refused rather than held in memory
# (a registry that ignores `n` sends every tag at once: thousands, a few hundred KiB).
LISTING_LIMIT = 8 * 1024 * 1024
_OCTET_STREAM = {"Content-Type": "application/octet-stream"}


class RemoteRegistry(UpstreamClient):
    def __init__(self, upstream: Upstream, pushing: bool) -> None:
        super().__init__(upstream)
        # A destination gets push,pull tokens for every request, so one token serves a repository.
        self.actions = "pull,push" if pushing else "pull"

    def _scopes(self, repository: str, *also: str) -> tuple[str, ...]:
        return (f"repository:{repository}:{self.actions}", *also)

    def _url(self, repository: str, path: str) -> str:
        return f"{self.upstream.base_url}/v2/{repository}/{path}"

    def _exists(self, repository: str, path: str, headers: dict[str, str]) -> str | None:
        """HEAD: the digest the remote names, "" when it names none, None when it is not there."""
        try:
            with self.exchange("HEAD", self._url(repository, path), headers, self._scopes(repository)) as answer:
                return answer.headers.get("Docker-Content-Digest", "")
        except UpstreamError as error:
            if error.status == 404:
                return None
            raise

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """The digest a tag names on the remote, None if the remote has no such tag (or repository)."""
        return self._exists(repository, f"manifests/{tag}", {"Accept": MANIFEST_ACCEPT})

    def has_manifest(self, repository: str, digest: str) -> bool:
        return self._exists(repository, f"manifests/{digest}", {"Accept": MANIFEST_ACCEPT}) is not None

    def has_blob(self, repository: str, digest: str) -> bool:
        return self._exists(repository, f"blobs/{digest}", {}) is not None

    @contextmanager
    def blob_chunks(self, repository: str, digest: str) -> Iterator[Iterator[bytes]]:
        """end-2: the bytes of a blob as they arrive, never all in memory. Raises UpstreamError."""
        with self.exchange("GET", self._url(repository, f"blobs/{digest}"), {}, self._scopes(repository)) as answer:
            yield self._chunks(answer)

    def tags(self, repository: str) -> list[str]:
        """Every tag of a remote repository (end-8), page by page; none if it does not exist."""
        try:
            return self._listing(self._url(repository, f"tags/list?n={PAGE_SIZE}"), self._scopes(repository), "tags")
        except UpstreamError as error:
            if error.status == 404:
                return []
            raise

    def repositories(self) -> list[str]:
        """The remote's catalog (`/v2/_catalog`), page by page: the repositories our account sees."""
        url = f"{self.upstream.base_url}/v2/_catalog?n={PAGE_SIZE}"
        return self._listing(url, ("registry:catalog:*",), "repositories")

    def _listing(self, url: str, scopes: tuple[str, ...], key: str) -> list[str]:
        names: list[str] = []
        next_url: str | None = url
        while next_url:
            with self.exchange("GET", next_url, {}, scopes) as answer:
                try:
                    names += json.loads(self._bounded_body(answer, "listing")).get(key) or []
                except (ValueError, AttributeError):
                    raise UpstreamError(
                        f"the registry {self.upstream.base_url} sent a listing that is not JSON"
                    ) from None
                following = answer.links.get("next", {}).get("url")
            next_url = urljoin(next_url, following) if following else None
        return names

    def _bounded_body(self, answer: requests.Response, what: str) -> bytes:
        body = bytearray()
        for chunk in self._chunks(answer):
            body += chunk
            if len(body) > LISTING_LIMIT:
                raise UpstreamError(
                    f"the registry {self.upstream.base_url} sent a {what} larger than the {LISTING_LIMIT} bytes"
                    " accepted here"
                )
        return bytes(body)

    def referrers(self, repository: str, digest: str) -> list[str]:
        """The digests of the manifests whose `subject` is `digest` (end-12a); none where the
        remote has no referrers API (it answers 404, as distribution 2.8 does)."""
        try:
            with self.exchange(
                "GET", self._url(repository, f"referrers/{digest}"), {}, self._scopes(repository)
            ) as answer:
                manifests = json.loads(self._bounded_body(answer, "referrers listing")).get("manifests") or []
        except UpstreamError as error:
            if error.status == 404:
                return []
            raise
        except (ValueError, AttributeError):
            raise UpstreamError(f"the registry {self.upstream.base_url} sent referrers that are not JSON") from None
        return [str(descriptor["digest"]) for descriptor in manifests if "digest" in descriptor]

    def mount_blob(self, repository: str, digest: str, source: str) -> bool:
        """end-11: link a blob the remote's `source` repository holds; False if the remote
        started an upload instead (it is cancelled: the caller uploads)."""
        url = self._url(repository, f"blobs/uploads/?mount={digest}&from={source}")
        scopes = self._scopes(repository, f"repository:{source}:pull")
        with self.exchange("POST", url, {}, scopes) as answer:
            if answer.status_code == 201:
                return True
            location = answer.headers.get("Location")
        if location:
            try:
                with self.exchange("DELETE", urljoin(url, location), {}, scopes):
                    pass
            except UpstreamError:
                # An abandoned upload is the remote's to purge; it holds nothing.
                pass
        return False

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        """end-4a, then end-6 (small) or end-5 + end-6 (large): upload a blob the remote verifies."""
        scopes = self._scopes(repository)
        start = self._url(repository, "blobs/uploads/")
        with self.exchange("POST", start, {}, scopes) as answer:
            location = self._location(start, answer)
        if size > MONOLITHIC_LIMIT:
            with self.exchange("PATCH", location, _OCTET_STREAM, scopes, body=iter(chunks)) as answer:
                location = self._location(location, answer)
            body = b""
        else:
            body = b"".join(chunks)
        separator = "&" if "?" in location else "?"
        headers = {**_OCTET_STREAM, "Content-Length": str(len(body))}
        with self.exchange("PUT", f"{location}{separator}digest={digest}", headers, scopes, body=body) as answer:
            if answer.status_code != 201:
                raise UpstreamError(f"the registry {self.upstream.base_url} did not accept blob {digest}")

    def _location(self, url: str, answer: requests.Response) -> str:
        if "Location" not in answer.headers:
            raise UpstreamError(f"the registry {self.upstream.base_url} answered an upload without a Location")
        return urljoin(url, answer.headers["Location"])

    def put_manifest(self, repository: str, reference: str, content: bytes, media_type: str) -> None:
        """end-7: push a manifest, exactly these bytes, by tag or digest."""
        headers = {"Content-Type": media_type}
        with self.exchange(
            "PUT", self._url(repository, f"manifests/{reference}"), headers, self._scopes(repository), content
        ):
            pass
