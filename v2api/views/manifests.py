from django.conf import settings
from django.http import HttpResponse
from rest_framework.request import Request

from audit.pulls import record_pull
from oci.digests import Digest
from oci.request_edge import accepted_media_types, client_address
from v2api.auth import identified_caller
from v2api.errors import ManifestUnknown
from v2api.framing import manifest_headers
from v2api.services import manifests as manifest_service
from v2api.services import proxy
from v2api.services.deletion import delete_by_reference
from v2api.views.base import RegistryView, empty_response, json_response, read_limited_body, text_parameter


class ManifestView(RegistryView):
    def head(self, request: Request, name: str, reference: str) -> HttpResponse:
        """end-3: `HEAD /v2/<name>/manifests/<reference>`; the bytes stay in the database."""
        manifest = self._acceptable(request, name, reference, with_content=False)
        return empty_response(200, _headers(manifest))

    def get(self, request: Request, name: str, reference: str) -> HttpResponse:
        """end-3: `GET /v2/<name>/manifests/<reference>`, the bytes exactly as pushed.

        The pull is audited here, at the edge, as on the fast path: the read service knows no caller,
        and a pull is only buffered (audit/pulls.py), never written in the request."""
        manifest = self._acceptable(request, name, reference, with_content=True)
        caller = identified_caller(request._request.META)
        record_pull(
            subject=caller.subject if caller is not None else "",
            address=client_address(request._request.META),
            user_agent=request.headers.get("User-Agent", ""),
            repository=name,
            reference=reference,
            digest=manifest.digest,
        )
        response = HttpResponse(bytes(manifest.content), content_type=manifest.media_type)
        for header, value in _headers(manifest).items():
            response[header] = value
        return response

    def put(self, request: Request, name: str, reference: str) -> HttpResponse:
        """end-7: `PUT /v2/<name>/manifests/<reference>` by tag or by digest."""
        parsed_reference = manifest_service.parse_reference(reference)
        content = read_limited_body(request, settings.REGISTRY_MAX_MANIFEST_BYTES)
        pushed = manifest_service.put_manifest(name, parsed_reference, content, request.headers.get("Content-Type", ""))
        headers = {"Location": f"/v2/{name}/manifests/{pushed.digest}", "Docker-Content-Digest": str(pushed.digest)}
        if pushed.subject is not None:
            # Tells the client this registry keeps the referrers index itself (OCI 1.1).
            headers["OCI-Subject"] = str(pushed.subject)
        return empty_response(201, headers)

    def delete(self, request: Request, name: str, reference: str) -> HttpResponse:
        """end-9: `DELETE` by digest removes the image and its tags; by tag, only the tag."""
        delete_by_reference(name, manifest_service.parse_reference(reference))
        return empty_response(202)

    def _acceptable(
        self, request: Request, name: str, reference: str, with_content: bool
    ) -> manifest_service.ResolvedManifest:
        manifest = proxy.resolve_manifest(name, manifest_service.reference_to_read(reference), with_content)
        accepted = accepted_media_types(request._request.META)
        if not manifest_service.accepts(manifest.media_type, accepted):
            raise ManifestUnknown(
                "the manifest exists, but not in a media type the client accepts",
                detail={"mediaType": manifest.media_type, "accepted": accepted},
            )
        return manifest


def _headers(manifest: manifest_service.ResolvedManifest) -> dict[str, str]:
    headers = manifest_headers(manifest.media_type, manifest.digest, manifest.size)
    if manifest.stale:
        # RFC 7234's stale warning: a proxy project's upstream could not confirm the tag.
        headers["Warning"] = '110 - "Response is Stale: the upstream registry could not confirm this tag"'
    return headers


class ReferrersView(RegistryView):
    def get(self, request: Request, name: str, digest: str) -> HttpResponse:
        """end-12a/12b: `GET /v2/<name>/referrers/<digest>[?artifactType=]`, an OCI index."""
        artifact_type = text_parameter(request, "artifactType") or None
        descriptors = manifest_service.list_referrers(name, Digest.parse(digest), artifact_type)
        response = json_response(
            manifest_service.referrers_index(descriptors), content_type="application/vnd.oci.image.index.v1+json"
        )
        if artifact_type:
            response["OCI-Filters-Applied"] = "artifactType"
        return response
