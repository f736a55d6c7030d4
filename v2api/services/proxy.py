"""Proxy-cache projects: pulls that miss are fetched from the project's upstream registry, kept
as ordinary content, and served (issue 16).

A project with a `proxy_url` answers pulls from what it holds; what it lacks is fetched, stored
through the same services a push uses (so digests are verified, blobs streamed to disk, quotas
counted) and then served as if it had been pushed. A tag is checked with a HEAD upstream once it
is older than REGISTRY_PROXY_MANIFEST_TTL; a digest never changes, so it is never checked. When
the upstream fails, what is cached is served, marked stale (in the log, and with a `Warning`
header on a manifest); what is not gets a 404 whose message names the upstream's answer. Pushes
never reach here: the gate (v2api/auth.py) refuses them.

A manifest is stored as soon as it is fetched, before what it names: an image's config and
layers are fetched when a client asks for them, streamed to it while they are stored
(services/proxy_blobs.py), then referenced by the manifest; an index's children are fetched as
clients ask for their platform, then linked to it. Either way the result is what a push of both
together would have stored, and the first pull is not kept waiting for layers it has not asked for.
"""

import dataclasses
import logging

from django.conf import settings
from django.utils import timezone

from accounts.models import Project
from accounts.sealing import SealBroken
from accounts.services.projects import proxy_password
from oci import media_types
from oci.digests import Digest, InvalidDigest
from oci.names import project_name_of
from v2api.errors import (
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    MultipleErrors,
    RegistryError,
    Unavailable,
)
from v2api.models import Manifest, ManifestReference, Repository, Tag
from v2api.parsing import ParsedManifest, parse_manifest
from v2api.services import manifests as manifest_service
from v2api.services.quotas import QuotaExceeded, check_image_quota
from v2api.services.repositories import project_proxy_url
from v2api.upstream import Upstream, UpstreamClient, UpstreamError, UpstreamManifest

logger = logging.getLogger(__name__)


def upstream_of(repository_name: str) -> Upstream | None:
    """The upstream registry of the repository's project, None unless it is a proxy cache."""
    # The prepared check first: every blob HEAD that finds nothing asks, mostly of projects that
    # are no proxy cache (a push HEADs each layer before uploading it).
    if not project_proxy_url(repository_name):
        return None
    project = Project.objects.filter(name=project_name_of(repository_name)).exclude(proxy_url="").first()
    if project is None:
        return None
    try:
        password = proxy_password(project)
    except SealBroken as error:
        raise Unavailable(f"project {project.name!r} cannot reach its upstream: {error}") from None
    return Upstream(project.proxy_url, project.proxy_username, password)


def resolve_manifest(
    repository_name: str, reference: Digest | str, with_content: bool
) -> manifest_service.ResolvedManifest:
    """end-3 in any project: the manifest a tag or digest names, fetched from a proxy project's
    upstream when it is missing or its tag is due for a check. Raises ManifestUnknown (also when
    the upstream fails and nothing is cached)."""
    cached = manifest_service.find_manifest(repository_name, reference, with_content)
    if cached is not None and not cached.needs_upstream_check:
        return cached
    upstream = upstream_of(repository_name)
    if upstream is None:
        if cached is None:
            raise ManifestUnknown(detail={"reference": str(reference)})
        return cached
    client = UpstreamClient(upstream)
    upstream_name = upstream.repository_name(repository_name)
    try:
        if cached is not None and client.manifest_digest(upstream_name, str(reference)) == cached.digest:
            _confirm_tag(repository_name, str(reference))
            return cached
        fetched = client.get_manifest(upstream_name, str(reference), settings.REGISTRY_MAX_MANIFEST_BYTES)
        _store_manifest(client, repository_name, reference, fetched)
    except UpstreamError as error:
        if cached is not None:
            logger.warning("serving %s:%s stale from the cache: %s", repository_name, reference, error)
            return dataclasses.replace(cached, stale=True)
        raise not_cached(error, ManifestUnknown, {"reference": str(reference)}) from None
    return manifest_service.resolve_manifest(repository_name, reference, with_content)


def _store_manifest(
    client: UpstreamClient,
    repository_name: str,
    reference: Digest | str,
    fetched: UpstreamManifest,
) -> None:
    """Store a fetched manifest (the blobs of an image first) and, by tag, note the check.

    What the upstream sent wrong (bytes that are not its digest, a manifest we cannot keep) is an
    UpstreamError like a failed request: the cache answers if it can, the client learns why if not.
    """
    expected = reference if isinstance(reference, Digest) else _digest_or_none(fetched.digest)
    if expected is not None and expected != Digest.of_bytes(fetched.content, expected.algorithm):
        raise UpstreamError(f"the upstream {client.upstream.base_url} sent a manifest that is not {expected}")
    try:
        _check_quota_for_blobs(repository_name, parse_manifest(fetched.content, fetched.media_type))
        manifest_service.put_manifest(
            repository_name,
            reference,
            fetched.content,
            fetched.media_type,
            children_may_be_missing=True,
            blobs_may_be_missing=True,
        )
    except (ManifestInvalid, ManifestBlobUnknown, MultipleErrors) as refused:
        raise UpstreamError(
            f"the upstream {client.upstream.base_url} sent a manifest this registry cannot keep: {refused}"
        ) from None
    if isinstance(reference, str):
        _confirm_tag(repository_name, reference)
    else:
        _link_into_indexes(repository_name, reference)


def _check_quota_for_blobs(repository_name: str, parsed: ParsedManifest) -> None:
    """Refuse an image whose blobs would take the project past its quota before storing it:
    the manifest's refusal is a message clients print, where a layer's is only a status."""
    project = Project.objects.get(name=project_name_of(repository_name))
    try:
        # Unsaved: a refused image leaves no empty repository behind.
        check_image_quota(Repository(name=repository_name, project=project), parsed.blobs)
    except QuotaExceeded as refusal:
        refusal.record()  # outside any transaction here
        raise


def _link_into_indexes(repository_name: str, digest: Digest) -> None:
    """A child fetched after its index becomes the index's reference, as if both were pushed
    together: the collector's cleanup of untagged manifests keeps it while the index stays."""
    child = Manifest.objects.filter(repository__name=repository_name, digest=str(digest)).only("id").first()
    if child is None:
        return
    indexes = (
        Manifest.objects.filter(repository__name=repository_name, media_type__in=media_types.INDEXES)
        .exclude(references__child=child)
        .only("id", "media_type", "content")
    )
    for index in indexes:
        children = parse_manifest(bytes(index.content), index.media_type).children
        if any(descriptor.digest == digest for descriptor in children):
            ManifestReference.objects.create(manifest=index, child=child)


def _confirm_tag(repository_name: str, tag: str) -> None:
    Tag.objects.filter(repository__name=repository_name, name=tag).update(upstream_checked_at=timezone.now())


def not_cached(error: UpstreamError, missing: type[RegistryError], detail: dict[str, str]) -> RegistryError:
    """What the client sees for what is not cached: MANIFEST_UNKNOWN or BLOB_UNKNOWN, whatever
    the upstream did (refused, rate-limited, did not answer), because clients show the message of
    a 4xx answer and only the status of a 5xx (skopeo: "received unexpected HTTP status: 503")."""
    return missing(f"not in the cache, and {error}", detail={**detail, "upstream_status": error.status})


def _digest_or_none(text: str) -> Digest | None:
    try:
        return Digest.parse(text) if text else None
    except InvalidDigest:
        return None
