import io
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from rest_framework.request import Request

from accounts.scopes import PUSH, repository_scope
from oci.digests import Digest
from oci.request_edge import PROXIED_BYTES_HEADER
from v2api.auth import may
from v2api.errors import BlobUnknown
from v2api.framing import blob_head_headers
from v2api.services import blobs as blob_service
from v2api.services import proxy_blobs
from v2api.services.blobs import BlobRecord
from v2api.storage import blobstore, paths
from v2api.storage.streams import read_blob_chunks
from v2api.views.base import RegistryView, empty_response, release_database_connection

# Below this a download is over before holding the database connection costs anything.
RELEASE_CONNECTION_ABOVE = 4 * 1024 * 1024


class BlobView(RegistryView):
    def head(self, request: Request, name: str, digest: str) -> HttpResponse:
        """end-2: `HEAD /v2/<name>/blobs/<digest>`; answered from the database, no file opened
        (in a proxy project, a blob not cached yet by a HEAD upstream)."""
        blob = proxy_blobs.stat_blob(name, Digest.parse(digest))
        # The age first: asking whether the caller may push can cost a query.
        if isinstance(blob, BlobRecord) and blob.link_is_old and may(self.caller, repository_scope(name, PUSH)):
            blob_service.refresh_old_link(blob)
        return empty_response(200, blob_head_headers(blob.digest, blob.size))

    def get(self, request: Request, name: str, digest: str) -> HttpResponse | StreamingHttpResponse:
        """end-2: `GET /v2/<name>/blobs/<digest>`, whole or one byte range (206, 416), or a
        redirect to the bucket (REGISTRY_S3_REDIRECT), which answers the range itself."""
        parsed = Digest.parse(digest)
        blob = proxy_blobs.download_blob(name, parsed)
        if isinstance(blob, proxy_blobs.TeedBlob):
            return teed_response(blob)
        store = blobstore.store()
        location = store.download_url(parsed)
        if location is not None:
            return empty_response(307, {"Location": location, "Docker-Content-Digest": blob.digest})
        byte_range = parse_range(request.headers.get("Range", ""), blob.size)
        if settings.REGISTRY_ACCEL_REDIRECT_PREFIX and byte_range != UNSATISFIABLE:
            if not store.blob_exists(parsed):
                raise BlobUnknown("blob is recorded but its file is missing", detail={"digest": blob.digest})
            return proxy_download(parsed, blob.digest, blob.size, byte_range)
        if byte_range == UNSATISFIABLE:
            return empty_response(416, {"Content-Range": f"bytes */{blob.size}"})
        try:
            handle = store.open_blob(parsed, byte_range[0] if byte_range else 0)
        except FileNotFoundError:
            raise BlobUnknown("blob is recorded but its file is missing", detail={"digest": blob.digest}) from None
        if blob.size > RELEASE_CONNECTION_ABOVE:
            release_database_connection()
        response: HttpResponse | FileResponse | StreamingHttpResponse
        if byte_range is None and isinstance(handle, io.BufferedReader):
            # FileResponse lets gunicorn hand a file on disk to sendfile(2).
            response = FileResponse(handle, content_type="application/octet-stream")
            response["Content-Length"] = str(blob.size)
        elif byte_range is None:
            # A stream from a bucket, read a megabyte at a time (FileResponse would read 4 KiB).
            response = StreamingHttpResponse(
                read_blob_chunks(handle, blob.size), content_type="application/octet-stream"
            )
            response["Content-Length"] = str(blob.size)
        else:
            start, end = byte_range
            response = StreamingHttpResponse(
                read_blob_chunks(handle, end - start + 1),
                status=206,
                content_type="application/octet-stream",
            )
            response["Content-Length"] = str(end - start + 1)
            response["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
        response["Docker-Content-Digest"] = blob.digest
        response["Accept-Ranges"] = "bytes"
        return response

    def delete(self, request: Request, name: str, digest: str) -> HttpResponse:
        """end-10: `DELETE /v2/<name>/blobs/<digest>` unlinks the blob from this repository."""
        blob_service.unlink_blob(name, Digest.parse(digest))
        return empty_response(202)


UNSATISFIABLE = (-1, -1)


def teed_response(blob: proxy_blobs.TeedBlob) -> StreamingHttpResponse:
    """A proxy project's blob while it is fetched: whole (a Range is ignored, as RFC 9110 allows),
    with the upstream's length, cut short if the bytes do not match the digest."""
    response = StreamingHttpResponse(blob, content_type="application/octet-stream")
    if blob.size is not None:
        response["Content-Length"] = str(blob.size)
    response["Docker-Content-Digest"] = str(blob.digest)
    return response


def proxy_download(digest: Digest, digest_text: str, size: int, byte_range: tuple[int, int] | None) -> HttpResponse:
    """Let nginx send the file (X-Accel-Redirect to its `internal` location over the storage root).

    nginx answers a Range itself, the same way (one range, 206 and Content-Range; see max_ranges in
    deploy/nginx), so a range is handed over too; only an unsatisfiable one is answered here.
    """
    root = Path(settings.REGISTRY_STORAGE_ROOT)
    relative = paths.blob_path(root, digest).relative_to(root)
    first, last = byte_range or (0, size - 1)
    return empty_response(
        200,
        {
            "X-Accel-Redirect": f"{settings.REGISTRY_ACCEL_REDIRECT_PREFIX}/{relative.as_posix()}",
            "Docker-Content-Digest": digest_text,
            "Content-Type": "application/octet-stream",
            PROXIED_BYTES_HEADER: str(last - first + 1),
        },
    )


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=` range as (first, last), UNSATISFIABLE, or None to send the whole blob.

    Several ranges, or a header we cannot read, are ignored as RFC 9110 allows.
    """
    if not header.startswith("bytes=") or "," in header:
        return None
    first_text, _, last_text = header[len("bytes=") :].strip().partition("-")
    try:
        if first_text == "":
            suffix = int(last_text)
            if suffix <= 0:
                return UNSATISFIABLE
            return max(size - suffix, 0), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first < 0 or first >= size or last < first:
        return UNSATISFIABLE
    return first, min(last, size - 1)
