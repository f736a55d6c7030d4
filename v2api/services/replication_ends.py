"""The two ends of a replication: this registry's project, or a remote registry. A push rule reads
the local end and writes the remote one, a pull rule the other way round; services/replication.py
copies between them without knowing which is which.

What goes wrong at either end is a ReplicationFailed saying what, so one image's failure is
recorded against that image and the run goes on.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from django.conf import settings

from accounts.models import Project
from oci.digests import Digest, InvalidDigest
from oci.names import InvalidName, check_repository_name
from v2api.errors import RegistryError
from v2api.models import Repository, Tag
from v2api.remote_registry import RemoteRegistry
from v2api.services import blobs as blob_service
from v2api.services import manifests as manifest_service
from v2api.services.quotas import check_quota
from v2api.services.repositories import get_or_create_repository
from v2api.services.uploads import upload_blob
from v2api.storage import blobstore
from v2api.storage.streams import READ_SIZE


class ReplicationFailed(Exception):
    """One image could not be copied; the message says which end refused what."""


class Source(Protocol):
    def repositories(self) -> list[str]: ...

    def tags(self, repository: str) -> list[str]: ...

    def tag_digest(self, repository: str, tag: str) -> str | None: ...

    def manifest(self, repository: str, digest: str) -> tuple[bytes, str]: ...

    def blob_chunks(self, repository: str, digest: str) -> AbstractContextManager[Iterable[bytes]]: ...

    def referrers(self, repository: str, digest: str) -> list[str]: ...


class Destination(Protocol):
    def tag_digest(self, repository: str, tag: str) -> str | None: ...

    def has_manifest(self, repository: str, digest: str) -> bool: ...

    def has_blob(self, repository: str, digest: str) -> bool: ...

    def mount_blob(self, repository: str, digest: str) -> bool: ...

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None: ...

    def put_manifest(self, repository: str, reference: str, content: bytes, media_type: str) -> None: ...


def _digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigest:
        raise ReplicationFailed(f"{text!r} is not a digest") from None


def _at_most(size: int, chunks: Iterable[bytes], what: str) -> Iterator[bytes]:
    """The chunks, until they hold more than `size` bytes: the digest would not match then, and a
    remote that never stops sending must not fill the disk before it is checked."""
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > size:
            raise ReplicationFailed(f"{what}: the remote sent more than its {size} bytes")
        yield chunk


def _writable(repository: str) -> str:
    """A repository name a client could push to here: a remote's catalog may name others."""
    try:
        return check_repository_name(repository)
    except InvalidName as invalid:
        raise ReplicationFailed(f"{repository!r} is not a repository name here: {invalid.detail['reason']}") from None


class LocalEnd:
    """A project of this registry, read and written through the services a client's pull and push use."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def repositories(self) -> list[str]:
        return sorted(Repository.objects.filter(project=self.project).values_list("name", flat=True))

    def tags(self, repository: str) -> list[str]:
        return sorted(Tag.objects.filter(repository__name=repository).values_list("name", flat=True))

    def tag_digest(self, repository: str, tag: str) -> str | None:
        found = manifest_service.find_manifest(repository, tag, with_content=False)
        return found.digest if found else None

    def has_manifest(self, repository: str, digest: str) -> bool:
        return manifest_service.find_manifest(repository, _digest(digest), with_content=False) is not None

    def manifest(self, repository: str, digest: str) -> tuple[bytes, str]:
        found = manifest_service.find_manifest(repository, _digest(digest), with_content=True)
        if found is None:
            raise ReplicationFailed(f"{repository}@{digest} is gone from this registry")
        return found.content, found.media_type

    @contextmanager
    def blob_chunks(self, repository: str, digest: str) -> Iterator[Iterable[bytes]]:
        if blob_service.find_blob(repository, _digest(digest)) is None:
            raise ReplicationFailed(f"blob {digest} is gone from {repository}")
        handle = blobstore.store().open_blob(_digest(digest))
        try:
            yield iter(lambda: handle.read(READ_SIZE), b"")
        finally:
            handle.close()

    def referrers(self, repository: str, digest: str) -> list[str]:
        return [
            str(referrer["digest"]) for referrer in manifest_service.list_referrers(repository, _digest(digest), None)
        ]

    def has_blob(self, repository: str, digest: str) -> bool:
        return blob_service.find_blob(repository, _digest(digest)) is not None

    def mount_blob(self, repository: str, digest: str) -> bool:
        # Any repository's copy will do: the bytes of a digest are the same wherever they are linked.
        try:
            linked = blob_service.mount_blob(
                get_or_create_repository(_writable(repository)), _digest(digest), None, None
            )
        except RegistryError as refused:
            raise ReplicationFailed(f"{repository}: {refused.message}") from None
        return linked is not None

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        try:
            # Before a byte is read: a layer past the quota is not downloaded only to be refused.
            check_quota(get_or_create_repository(_writable(repository)), _digest(digest), size)
            upload_blob(repository, _digest(digest), _at_most(size, chunks, f"{repository}: blob {digest}"))
        except RegistryError as refused:
            raise ReplicationFailed(f"{repository}: blob {digest}: {refused.message}") from None

    def put_manifest(self, repository: str, reference: str, content: bytes, media_type: str) -> None:
        try:
            parsed_reference = manifest_service.parse_reference(reference)
            manifest_service.put_manifest(_writable(repository), parsed_reference, content, media_type)
        except InvalidDigest:
            # A remote's tag with a colon: neither a tag nor a digest.
            raise ReplicationFailed(f"{repository}:{reference}: invalid tag") from None
        except RegistryError as refused:
            raise ReplicationFailed(f"{repository}:{reference}: {refused.message}") from None


class RemoteEnd:
    """Another registry, through v2api/remote_registry.py; its errors become ReplicationFailed."""

    def __init__(self, client: RemoteRegistry, known_homes: Callable[[str], list[str]] = lambda digest: []) -> None:
        self.client = client
        # Where a blob was last seen on the remote in this run, else where earlier runs put it
        # (`known_homes`): the source of a cross-repository mount.
        self.blob_homes: dict[str, str] = {}
        self.known_homes = known_homes

    def repositories(self) -> list[str]:
        return sorted(self.client.repositories())

    def tags(self, repository: str) -> list[str]:
        return sorted(self.client.tags(repository))

    def tag_digest(self, repository: str, tag: str) -> str | None:
        digest = self.client.tag_digest(repository, tag)
        if digest == "":
            # A registry that names no digest on HEAD: the digest of what it serves.
            fetched = self.client.get_manifest(repository, tag, settings.REGISTRY_MAX_MANIFEST_BYTES)
            return str(Digest.of_bytes(fetched.content))
        return digest

    def has_manifest(self, repository: str, digest: str) -> bool:
        return self.client.has_manifest(repository, digest)

    def manifest(self, repository: str, digest: str) -> tuple[bytes, str]:
        fetched = self.client.get_manifest(repository, digest, settings.REGISTRY_MAX_MANIFEST_BYTES)
        expected = _digest(digest)
        if Digest.of_bytes(fetched.content, expected.algorithm) != expected:
            raise ReplicationFailed(f"the remote sent a manifest for {repository}@{digest} that is not that digest")
        return fetched.content, fetched.media_type

    def blob_chunks(self, repository: str, digest: str) -> AbstractContextManager[Iterable[bytes]]:
        # The local end's upload_blob checks the digest of what arrives.
        return self.client.blob_chunks(repository, digest)

    def referrers(self, repository: str, digest: str) -> list[str]:
        return self.client.referrers(repository, digest)

    def has_blob(self, repository: str, digest: str) -> bool:
        found = self.client.has_blob(repository, digest)
        if found:
            self.blob_homes[digest] = repository
        return found

    def mount_blob(self, repository: str, digest: str) -> bool:
        seen = self.blob_homes.get(digest)
        sources = [home for home in ([seen] if seen else []) + self.known_homes(digest) if home != repository]
        # One try: a wrong guess costs the remote an upload it starts and we cancel.
        if not sources or not self.client.mount_blob(repository, digest, sources[0]):
            return False
        self.blob_homes[digest] = repository
        return True

    def push_blob(self, repository: str, digest: str, size: int, chunks: Iterable[bytes]) -> None:
        self.client.push_blob(repository, digest, size, chunks)
        self.blob_homes[digest] = repository

    def put_manifest(self, repository: str, reference: str, content: bytes, media_type: str) -> None:
        self.client.put_manifest(repository, reference, content, media_type)
