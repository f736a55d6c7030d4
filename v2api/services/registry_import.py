"""Moving in from the plain registry: a registry:2 filesystem store's repositories, tags,
manifests and blobs, imported through the services a push uses (`manage.py importregistry`).

Each blob streams from the source into the blob store, which verifies its digest before it is
in place (stage_blob), and each manifest goes through put_manifest, which checks its digest and
that every blob and child it names is there: a corrupt blob is reported and never imported, and
nothing that needs it is. Whatever the registry already holds is skipped, so a second run (after
an interruption, or to take what was pushed to the old registry since) copies only what is new.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Project
from accounts.services.projects import create_project
from audit.context import SYSTEM, acting, on_behalf
from oci.digests import Digest, new_hasher
from oci.names import InvalidName, check_repository_name, project_name_of
from v2api.errors import Denied, DigestInvalid, ManifestInvalid, RegistryError
from v2api.models import Blob, Repository
from v2api.parsing import parse_manifest
from v2api.services import blobs as blob_service
from v2api.services import manifests as manifest_service
from v2api.services.repositories import get_or_create_repository
from v2api.services.uploads import upload_blob
from v2api.storage.distribution_layout import DistributionStore, NotAFileOfTheStore, SourceRepository
from v2api.storage.streams import check_digest


@dataclass
class ImportSummary:
    repositories: int = 0
    projects_created: list[str] = field(default_factory=list)
    blobs_copied: int = 0
    bytes_copied: int = 0
    blobs_present: int = 0
    manifests_imported: int = 0
    manifests_present: int = 0
    tags_imported: int = 0
    tags_present: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportProgress:
    repository: str
    blobs_done: int
    blobs_total: int
    bytes_copied: int


def import_registry(
    source: DistributionStore, into_project: str | None, progress: Callable[[ImportProgress], None]
) -> ImportSummary:
    """Import every repository of `source`: `<name>` becomes `<into_project>/<name>`, or, without
    `into_project`, stays `<name>` in the project named by its first component. Missing projects
    are created (private). Problems (a corrupt or missing blob, a manifest this registry cannot
    keep, a name outside the grammar) are collected in the summary; the rest goes on."""
    summary = ImportSummary()
    # The blobs whose bytes this run read from the source and found right: another repository of
    # the store that names one links it without reading it again (a base layer under them all).
    proven: set[Digest] = set()
    with acting(on_behalf(SYSTEM, "importregistry")):
        for repository in source.repositories():
            name = f"{into_project}/{repository.name}" if into_project else repository.name
            try:
                check_repository_name(name)
            except InvalidName as error:
                summary.problems.append(f"{repository.name}: not imported, {name!r} is not a valid name: {error}")
                continue
            if not _ensure_project(project_name_of(name), summary):
                continue
            summary.repositories += 1
            _import_repository(source, repository, name, summary, progress, proven)
    return summary


def _ensure_project(name: str, summary: ImportSummary) -> bool:
    project = Project.objects.filter(name=name).first()
    if project is not None:
        if project.proxy_url:
            summary.problems.append(f"project {name} is a proxy cache of {project.proxy_url}: nothing imported into it")
            return False
        return True
    try:
        create_project(name)
    except ValidationError as error:
        summary.problems.append(f"project {name} could not be created: {' '.join(error.messages)}")
        return False
    summary.projects_created.append(name)
    return True


@dataclass
class _SourceManifest:
    """What the import order needs of a manifest, without its bytes: a store may hold thousands of
    manifests as large as REGISTRY_MAX_MANIFEST_BYTES, read again (and checked again) one at a
    time when each is imported."""

    digest: Digest
    media_type: str
    blobs: list[Digest]
    children: list[Digest]


class _ChangedMeanwhile(Exception):
    """A manifest's file no longer holds the bytes of its digest when read again."""


def _import_repository(
    source: DistributionStore,
    repository: SourceRepository,
    name: str,
    summary: ImportSummary,
    progress: Callable[[ImportProgress], None],
    proven: set[Digest],
) -> None:
    for link in repository.broken_links:
        summary.problems.append(f"{repository.name}: {link} names no digest; skipped")
    manifests = _read_manifests(source, repository, summary)
    wanted = list(dict.fromkeys([*repository.layers, *(digest for m in manifests for digest in m.blobs)]))
    target = get_or_create_repository(name)
    for done, digest in enumerate(wanted, start=1):
        _import_blob(source, repository, target, digest, summary, proven)
        progress(ImportProgress(name, done, len(wanted), summary.bytes_copied))

    # An index needs its children first (an index of indexes, its own children before it).
    imported: set[Digest] = set()
    pending = manifests
    while pending:
        ready = [manifest for manifest in pending if all(child in imported for child in manifest.children)]
        # When none is ready, the rest wait for children that failed or are not in the source:
        # put_manifest says which.
        batch = ready or pending
        for manifest in batch:
            error = _import_manifest(source, name, manifest, summary)
            if error is None:
                imported.add(manifest.digest)
            else:
                summary.problems.append(f"{repository.name}@{manifest.digest}: manifest not imported: {error}")
        pending = [manifest for manifest in pending if manifest not in batch]

    by_digest = {manifest.digest: manifest for manifest in manifests}
    for tag, digest in repository.tags.items():
        if digest not in imported:
            summary.problems.append(f"{repository.name}:{tag}: not imported, its manifest {digest} was not")
            continue
        _import_tag(source, name, tag, by_digest[digest], summary)


def _read_manifests(
    source: DistributionStore, repository: SourceRepository, summary: ImportSummary
) -> list[_SourceManifest]:
    found = []
    for digest in dict.fromkeys([*repository.manifests, *repository.tags.values()]):
        where = f"{repository.name}@{digest}"
        try:
            content = _read_manifest(source, digest)
        except FileNotFoundError:
            summary.problems.append(
                f"{where}: manifest missing from the source (or no file of its own), or larger than allowed; skipped"
            )
            continue
        except _ChangedMeanwhile:
            summary.problems.append(f"{where}: corrupt manifest, its bytes do not match its digest; skipped")
            continue
        try:
            parsed = parse_manifest(content, "")
        except ManifestInvalid as error:
            summary.problems.append(f"{where}: manifest not imported: {error.message} {error.detail or ''}".rstrip())
            continue
        blobs = [descriptor.digest for descriptor in parsed.blobs]
        children = [descriptor.digest for descriptor in parsed.children]
        found.append(_SourceManifest(digest, parsed.media_type, blobs, children))
    return found


def _read_manifest(source: DistributionStore, digest: Digest) -> bytes:
    """The manifest's bytes from the source, checked against its digest. Raises FileNotFoundError
    (missing, no file of the store, or too large) or _ChangedMeanwhile."""
    content = source.read_small_blob(digest, settings.REGISTRY_MAX_MANIFEST_BYTES)
    if content is None:
        raise FileNotFoundError(str(digest))
    if Digest.of_bytes(content, digest.algorithm) != digest:
        raise _ChangedMeanwhile(str(digest))
    return content


def _import_blob(
    source: DistributionStore,
    repository: SourceRepository,
    target: Repository,
    digest: Digest,
    summary: ImportSummary,
    proven: set[Digest],
) -> None:
    if blob_service.find_blob(target.name, digest) is not None:
        summary.blobs_present += 1
        return
    try:
        size = source.blob_size(digest)
    except NotAFileOfTheStore as refused:
        summary.problems.append(f"{repository.name}: blob {digest} not imported: {refused}")
        return
    if size is None:
        summary.problems.append(f"{repository.name}: blob {digest} is missing from the source; skipped")
        return
    try:
        # In the store already (another repository has it): linked, as a mount would, once the
        # source's own bytes hash to it. A digest is no secret (every manifest using the layer
        # names it): a store naming one must not bring another project's private layer here.
        if Blob.objects.filter(digest=str(digest)).exists():
            if digest not in proven:
                _check_source_bytes(source, digest)
                proven.add(digest)
            if blob_service.mount_blob(target, digest, None, None) is not None:
                summary.blobs_present += 1
                return
        upload_blob(target.name, digest, source.blob_chunks(digest))
        proven.add(digest)
    except DigestInvalid as error:
        summary.problems.append(
            f"{repository.name}: corrupt blob {digest} ({source.blob_path(digest)} hashes to "
            f"{error.detail['actual']}); not imported"
        )
        return
    except Denied as refused:
        # The project's quota: the rest may still fit.
        summary.problems.append(f"{repository.name}: blob {digest} not imported: {refused.message}")
        return
    summary.blobs_copied += 1
    summary.bytes_copied += size


def _check_source_bytes(source: DistributionStore, digest: Digest) -> None:
    """Raises DigestInvalid unless the source's file of the blob hashes to its digest."""
    hasher = new_hasher(digest.algorithm)
    for chunk in source.blob_chunks(digest):
        hasher.update(chunk)
    check_digest(hasher, digest)


def _import_manifest(
    source: DistributionStore, name: str, manifest: _SourceManifest, summary: ImportSummary
) -> str | None:
    """Import one manifest by digest; the error's message if the registry refuses it."""
    if manifest_service.find_manifest(name, manifest.digest, with_content=False) is not None:
        summary.manifests_present += 1
        return None
    try:
        content = _read_manifest(source, manifest.digest)
        manifest_service.put_manifest(name, manifest.digest, content, manifest.media_type)
    except (FileNotFoundError, _ChangedMeanwhile):
        return "its file in the source changed during the import"
    except RegistryError as error:
        return _describe(error)
    summary.manifests_imported += 1
    return None


def _import_tag(
    source: DistributionStore, name: str, tag: str, manifest: _SourceManifest, summary: ImportSummary
) -> None:
    found = manifest_service.find_manifest(name, tag, with_content=False)
    if found is not None and found.digest == str(manifest.digest):
        summary.tags_present += 1
        return
    try:
        reference = manifest_service.parse_reference(tag)
        # Checked against the digest again: a push by tag has no digest to be checked against.
        content = _read_manifest(source, manifest.digest)
        manifest_service.put_manifest(name, reference, content, manifest.media_type)
    except (FileNotFoundError, _ChangedMeanwhile):
        summary.problems.append(f"{name}:{tag}: tag not imported: its manifest's file in the source changed")
        return
    except RegistryError as error:
        summary.problems.append(f"{name}:{tag}: tag not imported: {_describe(error)}")
        return
    summary.tags_imported += 1


def _describe(error: RegistryError) -> str:
    errors = getattr(error, "errors", [error])
    return "; ".join(f"{each.code} {each.message} {each.detail or ''}".rstrip() for each in errors)
