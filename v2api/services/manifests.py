"""Manifests: push, resolve, and the referrers of a subject (end-3, end-7, end-12); deleting is
services/deletion.py."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import connection, transaction

from accounts.models import Project
from audit import actions
from audit.recorder import record
from oci import media_types
from oci.digests import Digest
from oci.names import is_tag, project_name_of
from v2api.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    MultipleErrors,
    RegistryError,
    SizeInvalid,
)
from v2api.models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag
from v2api.parsing import Descriptor, ParsedManifest, parse_manifest
from v2api.services.immutability import refuse_moving_immutable_tag
from v2api.services.prepared import PreparedQuery, sql_now, unix_time
from v2api.services.quotas import QuotaExceeded, check_image_quota
from v2api.services.repositories import get_or_create_repository

# Called with the repository and tag once a push by tag commits: on-push replication (added in
# v2api/apps.py, as the job it starts is sent from the tasks module, which sits above the services).
after_tag_push: list[Callable[[str, str], None]] = []


@dataclass(frozen=True)
class PushedManifest:
    digest: Digest
    subject: Digest | None


def parse_reference(reference: str) -> Digest | str:
    """A manifest reference is a digest or a tag; raise ManifestInvalid if it is neither."""
    if ":" in reference:
        return Digest.parse(reference)
    if not is_tag(reference):
        raise ManifestInvalid("invalid tag", detail={"tag": reference})
    return reference


def reference_to_read(reference: str) -> Digest | str:
    """The reference of a manifest GET or HEAD: a text that is neither a digest nor a tag names
    no manifest, so it is ManifestUnknown (404), as the OCI conformance suite checks
    (`.INVALID_MANIFEST_NAME`); only a push or delete is told its tag is invalid."""
    try:
        return parse_reference(reference)
    except ManifestInvalid:
        raise ManifestUnknown(detail={"reference": reference}) from None


@dataclass(frozen=True)
class ResolvedManifest:
    digest: str
    media_type: str
    size: int
    content: bytes
    # Whether the repository's project lets anyone pull: the fast path (v2api/fast_reads.py)
    # hands it to the gate with the row, so an anonymous pull costs no query of its own.
    project_public: bool
    # Found by tag in a proxy-cache project: when the upstream last confirmed the tag (Unix time,
    # None: never). Found by digest, or elsewhere: nothing to confirm, `proxied_tag` is False.
    proxied_tag: bool = False
    upstream_checked_at: float | None = None
    # Served from a proxy project's cache although the upstream could not confirm it.
    stale: bool = False

    @property
    def needs_upstream_check(self) -> bool:
        """A proxied tag older than REGISTRY_PROXY_MANIFEST_TTL is checked with the upstream
        (services/proxy.py) before it is served again."""
        if not self.proxied_tag:
            return False
        checked = self.upstream_checked_at
        return checked is None or time.time() - checked >= settings.REGISTRY_PROXY_MANIFEST_TTL


def resolve_manifest(repository_name: str, reference: Digest | str, with_content: bool) -> ResolvedManifest:
    """end-3: the manifest a tag or digest names in this repository; raises ManifestUnknown."""
    manifest = find_manifest(repository_name, reference, with_content)
    if manifest is None:
        raise ManifestUnknown(detail={"reference": str(reference)})
    return manifest


def find_manifest(repository_name: str, reference: Digest | str, with_content: bool) -> ResolvedManifest | None:
    """The manifest a tag or digest names in this repository, in one indexed query, or None.

    This is the registry's hottest path (every pull starts here), so the query is written out
    and prepared rather than built by the ORM for each request: building it, then planning it,
    each cost more than running it.
    `with_content=False` (HEAD) leaves the bytes in the database.
    """
    row = _RESOLVE_QUERIES[(isinstance(reference, Digest), with_content)].fetchone([repository_name, str(reference)])
    if row is None:
        return None
    content = bytes(row[6]) if with_content else b""
    checked_at = float(row[5]) if row[5] is not None else None
    return ResolvedManifest(
        row[0],
        row[1],
        row[2],
        content,
        project_public=bool(row[3]),
        proxied_tag=bool(row[4]),
        upstream_checked_at=checked_at,
    )


def _resolve_sql(by_digest: bool, with_content: bool) -> str:
    manifest, repository, tag = Manifest._meta.db_table, Repository._meta.db_table, Tag._meta.db_table
    # By tag, also whether the project is a proxy cache and when the upstream last confirmed the tag.
    proxied = "false, NULL" if by_digest else f"p.proxy_url <> '', {unix_time('t.upstream_checked_at')}"
    columns = f"m.digest, m.media_type, m.size, p.public, {proxied}" + (", m.content" if with_content else "")
    project = f"JOIN {Project._meta.db_table} p ON p.id = r.project_id"
    if by_digest:
        return (
            f"SELECT {columns} FROM {manifest} m JOIN {repository} r ON r.id = m.repository_id {project} "
            "WHERE r.name = %s AND m.digest = %s"
        )
    return (
        f"SELECT {columns} FROM {manifest} m JOIN {repository} r ON r.id = m.repository_id "
        f"JOIN {tag} t ON t.manifest_id = m.id {project} WHERE r.name = %s AND t.name = %s"
    )


_RESOLVE_QUERIES = {
    (by_digest, content): PreparedQuery(
        f"resolve_manifest_by_{'digest' if by_digest else 'tag'}{'_with_content' if content else ''}",
        _resolve_sql(by_digest, content),
        ("text", "text"),
    )
    for by_digest in (True, False)
    for content in (True, False)
}


def accepts(media_type: str, accepted: list[str]) -> bool:
    """Whether a client's Accept list admits a stored manifest's media type.

    No Accept header, or a wildcard, takes anything: curl and old clients send none.
    """
    if not accepted:
        return True
    return any(item in ("*/*", "application/*", media_type) for item in accepted)


def put_manifest(
    repository_name: str,
    reference: Digest | str,
    content: bytes,
    content_type: str,
    *,
    children_may_be_missing: bool = False,
    blobs_may_be_missing: bool = False,
) -> PushedManifest:
    """end-7: store a manifest exactly as sent and point the tag (if any) at it.

    Every blob and child manifest it names must already be in the repository; all that are
    missing are reported at once (MANIFEST_BLOB_UNKNOWN). Raises ManifestInvalid, DigestInvalid,
    SizeInvalid, and Denied for a move of an immutable tag. A proxy-cache project stores an index
    before its children (`children_may_be_missing`) and an image before its blobs
    (`blobs_may_be_missing`): they are fetched when a client asks for them, not every platform,
    and a layer streams to the client while it is stored (services/proxy_blobs.py).
    """
    if len(content) > settings.REGISTRY_MAX_MANIFEST_BYTES:
        raise SizeInvalid(
            f"manifest is larger than the {settings.REGISTRY_MAX_MANIFEST_BYTES} bytes this registry accepts",
            status=413,
        )
    algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
    digest = Digest.of_bytes(content, algorithm)
    if isinstance(reference, Digest) and reference != digest:
        raise DigestInvalid(detail={"expected": str(reference), "actual": str(digest)})
    parsed = parse_manifest(content, content_type)

    try:
        with transaction.atomic():
            blobs = _blobs_in_repository(repository_name, parsed.blobs)
            children = _children_in_repository(repository_name, parsed.children)
            missing: list[RegistryError] = [
                ManifestBlobUnknown(detail={"digest": str(descriptor.digest)})
                for descriptor in ([] if blobs_may_be_missing else parsed.blobs)
                + ([] if children_may_be_missing else parsed.children)
                if str(descriptor.digest) not in blobs and str(descriptor.digest) not in children
            ]
            if missing:
                raise MultipleErrors(missing)
            # Only now: a refused push leaves no empty repository behind in the catalog.
            repository = get_or_create_repository(repository_name)
            if not blobs_may_be_missing:  # a proxy project checks its images before it fetches them
                check_image_quota(repository, parsed.blobs)
            manifest = _get_or_create_manifest(repository, digest, content, parsed, blobs, children)
            if isinstance(reference, str):
                point_tag(repository, reference, manifest)
                for hook in after_tag_push:
                    # robust: the push has committed, so a hook that fails is logged, not the push's answer.
                    transaction.on_commit(partial(hook, repository_name, reference), robust=True)
            record(
                actions.PUSH,
                project=project_name_of(repository_name),
                resource=f"{repository_name}:{reference}"
                if isinstance(reference, str)
                else f"{repository_name}@{digest}",
                detail={"digest": str(digest), "media_type": parsed.media_type},
            )
    except QuotaExceeded as refusal:
        # Checked inside the push's transaction, recorded once it has rolled back.
        refusal.record()
        raise
    return PushedManifest(digest=digest, subject=parsed.subject)


def restore_manifest(
    repository: Repository, digest: Digest, content: bytes, media_type: str, blobs: dict[str, Blob]
) -> Manifest:
    """Store again a manifest this registry accepted before (services/recycle_bin.py), its
    children first: `blobs` are the blobs it references, by digest, linked into the repository."""
    parsed = parse_manifest(content, media_type)
    children = _children_in_repository(repository.name, parsed.children)
    referenced = {str(descriptor.digest) for descriptor in parsed.blobs}
    blobs = {digest: blob for digest, blob in blobs.items() if digest in referenced}
    return _get_or_create_manifest(repository, digest, content, parsed, blobs, children)


def list_referrers(repository_name: str, subject: Digest, artifact_type: str | None) -> list[dict[str, object]]:
    """end-12: descriptors of the manifests in this repository whose `subject` is `subject`."""
    manifests = Manifest.objects.filter(repository__name=repository_name, subject_digest=str(subject))
    if artifact_type:
        manifests = manifests.filter(artifact_type=artifact_type)
    descriptors: list[dict[str, object]] = []
    for manifest in manifests.order_by("pushed_at", "id").only(
        "media_type", "digest", "size", "artifact_type", "annotations"
    ):
        descriptor: dict[str, object] = {
            "mediaType": manifest.media_type,
            "digest": manifest.digest,
            "size": manifest.size,
        }
        if manifest.artifact_type:
            descriptor["artifactType"] = manifest.artifact_type
        if manifest.annotations:
            descriptor["annotations"] = manifest.annotations
        descriptors.append(descriptor)
    return descriptors


def referrers_index(descriptors: list[dict[str, object]]) -> dict[str, object]:
    return {"schemaVersion": 2, "mediaType": media_types.OCI_INDEX, "manifests": descriptors}


def _blobs_in_repository(repository_name: str, descriptors: list[Descriptor]) -> dict[str, Blob]:
    digests = {str(descriptor.digest) for descriptor in descriptors}
    if not digests:
        return {}
    # Locking the links (in id order, against deadlocks between pushes) keeps the collector from
    # unlinking a blob between this check and the references this push is about to insert.
    links = (
        RepositoryBlob.objects.select_for_update(no_key=True, of=("self",))
        .filter(repository__name=repository_name, blob__digest__in=digests)
        .select_related("blob")
        .order_by("id")
    )
    found = {link.blob.digest: link.blob for link in links}
    for descriptor in descriptors:
        blob = found.get(str(descriptor.digest))
        if blob is not None and blob.size != descriptor.size:
            raise ManifestInvalid(
                "a descriptor's size does not match the blob",
                detail={"digest": blob.digest, "descriptor_size": descriptor.size, "blob_size": blob.size},
            )
    return found


def _children_in_repository(repository_name: str, descriptors: list[Descriptor]) -> dict[str, Manifest]:
    digests = {str(descriptor.digest) for descriptor in descriptors}
    if not digests:
        return {}
    # Locked for the same reason as blob links: the collector's untagged cleanup must not take a
    # child this index is about to reference.
    children = (
        Manifest.objects.select_for_update(no_key=True, of=("self",))
        .filter(repository__name=repository_name, digest__in=digests)
        .only("id", "digest")
        .order_by("id")
    )
    return {manifest.digest: manifest for manifest in children}


def _get_or_create_manifest(
    repository: Repository,
    digest: Digest,
    content: bytes,
    parsed: ParsedManifest,
    blobs: dict[str, Blob],
    children: dict[str, Manifest],
) -> Manifest:
    """The manifest's row, inserted, or locked `FOR NO KEY UPDATE` if it exists (the lock a DO
    UPDATE of a column no key holds takes), so no deletion takes it before the tag points at it.

    One statement where get_or_create cost four (a SELECT, and an INSERT in a savepoint).
    """
    pushed_at = sql_now()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_MANIFEST_SQL,
            [
                repository.id,
                str(digest),
                parsed.media_type,
                content,
                len(content),
                parsed.artifact_type,
                str(parsed.subject) if parsed.subject else "",
                json.dumps(parsed.annotations),
                pushed_at,
                pushed_at,
            ],
        )
        manifest_id, created = cursor.fetchone()
    manifest = Manifest(id=manifest_id, repository=repository, digest=str(digest))
    references: list[tuple[int, int | None, int | None]] = [(manifest_id, blob.id, None) for blob in blobs.values()]
    references += [(manifest_id, None, child.id) for child in children.values()]
    if not created:
        return manifest
    # Written out: bulk_create built a model instance per reference first (py-spy, issue 18). In
    # batches, as bulk_create did: SQLite takes at most 32766 parameters a statement.
    with connection.cursor() as cursor:
        for start in range(0, len(references), REFERENCES_PER_INSERT):
            batch = references[start : start + REFERENCES_PER_INSERT]
            cursor.execute(
                f"INSERT INTO {ManifestReference._meta.db_table} (manifest_id, blob_id, child_id) VALUES "
                + ", ".join(["(%s, %s, %s)"] * len(batch)),
                [value for reference in batch for value in reference],
            )
    return manifest


REFERENCES_PER_INSERT = 1000


# Whether the row is new: its pushed_at is the one this statement wrote (an existing row keeps its
# own), which reads the same on SQLite as on Postgres.
_INSERT_MANIFEST_SQL = (
    f"INSERT INTO {Manifest._meta.db_table} (repository_id, digest, media_type, content, size, artifact_type,"
    " subject_digest, annotations, pushed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    f" ON CONFLICT (repository_id, digest) DO UPDATE SET size = {Manifest._meta.db_table}.size"
    " RETURNING id, pushed_at = %s"
)


def point_tag(repository: Repository, name: str, manifest: Manifest) -> None:
    """Create the tag on this manifest, or move it there; raises Denied for a move of an immutable tag.

    One statement for a new tag and for the same manifest pushed again (updated_at is when the tag
    was last pushed, retention's "most recent"): the upsert updates a row that names this manifest
    already, and locks the row either way. A row naming another manifest is left as it is and
    nothing returned: a move, checked against the immutability rules under that lock, then made.
    Of two first pushes of a new tag, the later one's insert waits for the earlier one's to commit
    and meets its row: a move like any other, refused if the tag is immutable.
    """
    now = sql_now()
    with connection.cursor() as cursor:
        cursor.execute(_POINT_TAG_SQL, [repository.id, name, manifest.id, now])
        if cursor.fetchone() is not None:
            return
        refuse_moving_immutable_tag(repository.name, name)
        cursor.execute(_MOVE_TAG_SQL, [manifest.id, now, repository.id, name])


_POINT_TAG_SQL = (
    f"INSERT INTO {Tag._meta.db_table} (repository_id, name, manifest_id, updated_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (repository_id, name) DO UPDATE SET updated_at = excluded.updated_at"
    f" WHERE {Tag._meta.db_table}.manifest_id = excluded.manifest_id RETURNING id"
)
_MOVE_TAG_SQL = (
    f"UPDATE {Tag._meta.db_table} SET manifest_id = %s, updated_at = %s WHERE repository_id = %s AND name = %s"
)
