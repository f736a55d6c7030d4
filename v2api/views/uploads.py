import re

from django.http import HttpResponse
from rest_framework.request import Request

from accounts.permissions import pullable_projects
from accounts.scopes import PULL, repository_scope
from oci.digests import Digest
from oci.names import check_repository_name
from v2api.auth import may
from v2api.errors import BlobUploadInvalid, DigestInvalid
from v2api.services import blobs as blob_service
from v2api.services import uploads as upload_service
from v2api.services.repositories import get_or_create_repository
from v2api.views.base import RegistryView, digest_parameter, empty_response, has_body, request_body

# "bytes 0-1023" per RFC 9110, or "0-1023" as oras and the distribution spec write it.
# ASCII digits only (\d also takes other scripts' digits) and at most 19, far past any blob:
# int() of thousands of digits raises, which was a 500.
_CONTENT_RANGE = re.compile(r"(?:bytes )?([0-9]{1,19})-([0-9]{1,19})")


class UploadStartView(RegistryView):
    action_by_method: dict[str, str] = {}

    def post(self, request: Request, name: str) -> HttpResponse:
        """end-4a/4b/11: start an upload, upload a whole blob with `?digest=`, or mount with `?mount=`."""
        mount = digest_parameter(request, "mount")
        if mount is not None:
            source = request.query_params.get("from")
            if source is not None:
                check_repository_name(source)
            # Without pull on the source the mount is quietly not done: the client uploads instead.
            may_mount = source is None or may(self.caller, repository_scope(source, PULL))
            readable = pullable_projects(self.caller.live_principal()) if source is None else None
            target = get_or_create_repository(name)
            if may_mount and blob_service.mount_blob(target, mount, source, readable) is not None:
                return blob_created(name, mount)
        digest = digest_parameter(request, "digest")
        if digest is not None and mount is None:
            upload_service.upload_blob(name, digest, request_body(request))
            return blob_created(name, digest)
        upload = upload_service.start_upload(name, self.caller.subject)
        return empty_response(202, upload_service.upload_range_headers(name, upload, 0))


class UploadView(RegistryView):
    # Even reading an upload's status is part of pushing.
    action_by_method: dict[str, str] = {}
    # The upload's POST created the project, if it was missing: no query for it on every chunk.
    may_create_project = False

    def get(self, request: Request, name: str, upload_id: str) -> HttpResponse:
        """end-13: `GET` an upload's status: how many bytes it holds."""
        upload = upload_service.get_upload(name, upload_id)
        size = upload_service.upload_offset(upload)
        return empty_response(204, upload_service.upload_range_headers(name, upload, size))

    def patch(self, request: Request, name: str, upload_id: str) -> HttpResponse:
        """end-5: `PATCH` a chunk; with a Content-Range it must start where the upload ends."""
        start = content_range_start(request.headers.get("Content-Range"))
        upload, size = upload_service.append_chunk(name, upload_id, request_body(request), start)
        return empty_response(202, upload_service.upload_range_headers(name, upload, size))

    def put(self, request: Request, name: str, upload_id: str) -> HttpResponse:
        """end-6: `PUT ?digest=` finishes an upload, with or without a last chunk (which, like a
        PATCH, may say where it starts with a Content-Range)."""
        digest = digest_parameter(request, "digest")
        if digest is None:
            raise DigestInvalid("the digest query parameter is required to finish an upload")
        final_chunk = request_body(request) if has_body(request) else None
        start = content_range_start(request.headers.get("Content-Range")) if final_chunk is not None else None
        upload_service.finish_upload(name, upload_id, digest, final_chunk, start)
        return blob_created(name, digest)

    def delete(self, request: Request, name: str, upload_id: str) -> HttpResponse:
        """`DELETE` an upload (Docker Registry API v2): cancel it and drop its bytes."""
        upload_service.cancel_upload(name, upload_id)
        return empty_response(204)


def blob_created(name: str, digest: Digest) -> HttpResponse:
    return empty_response(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)})


def content_range_start(header: str | None) -> int | None:
    """The first byte of a PATCH's Content-Range, or None when the client sent none."""
    if header is None:
        return None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise BlobUploadInvalid("Content-Range must be start-end", detail={"Content-Range": header})
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise BlobUploadInvalid("Content-Range ends before it starts", detail={"Content-Range": header}, status=416)
    return start
