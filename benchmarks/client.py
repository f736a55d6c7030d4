"""A lean OCI distribution client for the benchmark.

Plain http.client on keep-alive connections, bodies sent as slices of one in-memory pattern:
the client should cost as little CPU as possible, since it shares the machine with the server
it measures. Every request has a socket timeout, so no call can hang the run.
"""

import hashlib
import http.client
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

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


class Connection:
    """One keep-alive connection to a registry on 127.0.0.1; use one per thread."""

    def __init__(self, port: int) -> None:
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS, blocksize=SEND_SIZE)

    def request(
        self,
        method: str,
        path: str,
        body: Body = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Response:
        replayable = body is None or isinstance(body, bytes)
        # Two attempts: a server may close an idle keep-alive connection just as we reuse it.
        for attempt in (1, 2):
            try:
                self._http.request(method, path, body=body, headers=headers or {})
                response = self._http.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._http.close()
                if attempt == 2 or not replayable:
                    raise
        if response.status not in expect:
            raise UnexpectedResponse(method, path, response.status, data)
        return Response(response.status, response.headers, data)

    def download(self, path: str) -> int:
        """GET a blob and count its bytes without keeping them (the digest is not re-checked: that
        would measure the client's hashing, not the server)."""
        self._http.request("GET", path)
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
