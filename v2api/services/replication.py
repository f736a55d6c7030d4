"""Replication: copy the images a rule selects from one registry to another (issue 16).

A rule names a local project, a remote registry and a direction. Its images are the tags, in
the repositories its globs select, that the destination does not have at the same digest (or
without a referrer the source has, such as a signature added since); a dry
run lists them, a run computes the same list the same way and copies each one:

- an index whole, children first; then each manifest's referrers (signatures, SBOMs), found with
  the source's referrers API; the tag last, so a client never sees a tag whose image is partial;
- a blob the destination has is not sent (HEAD); one a repository of the destination is known to
  have is mounted from there; only the rest are uploaded, streamed.

Everything is checked at the destination before it is written, so a run that stops half way, a
second delivery of its task, or a run after it copy only what is still missing. An image that
fails is tried again after the others, up to REGISTRY_REPLICATION_ATTEMPTS times; what still fails is
listed with its error in the job's result, and a later run with `only` retries just those.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.sealing import unseal
from oci.names import name_in_project, project_name_of
from v2api.errors import RegistryError
from v2api.models import ReplicationRule, RepositoryBlob
from v2api.parsing import parse_manifest
from v2api.remote_registry import RemoteRegistry
from v2api.services.globs import matches
from v2api.services.replication_ends import Destination, LocalEnd, RemoteEnd, ReplicationFailed, Source
from v2api.upstream import Upstream, UpstreamError

Progress = Callable[[str, int, int], None]
# An index's image, its signature, the signature's attestation...: real images nest a few deep.
MAX_NESTING = 16


@dataclass(frozen=True)
class ReplicationItem:
    """One tag to copy: `source:tag` on the source side to `destination:tag`, at `digest`."""

    source: str
    destination: str
    tag: str
    digest: str

    @property
    def key(self) -> str:
        return f"{self.source}:{self.tag}"

    def describe(self) -> str:
        return f"{self.source}:{self.tag} -> {self.destination}:{self.tag} ({self.digest})"


@dataclass(frozen=True)
class ReplicationPlan:
    items: list[ReplicationItem]
    up_to_date: int


def remote_name(rule: ReplicationRule, path: str) -> str:
    """The remote repository of a path inside the project: `<remote_namespace>/<path>`."""
    return f"{rule.remote_namespace}/{path}" if rule.remote_namespace else path


def ends_of(rule: ReplicationRule) -> tuple[Source, Destination]:
    """The source and destination of a rule's copies. Raises SealBroken if its password cannot be read."""
    password = unseal(rule.remote_password_sealed) if rule.remote_password_sealed else ""
    upstream = Upstream(rule.remote_url, rule.remote_username, password)
    local = LocalEnd(rule.project)
    if rule.direction == ReplicationRule.Direction.PULL:
        return RemoteEnd(RemoteRegistry(upstream, pushing=False)), local

    def known_homes(digest: str) -> list[str]:
        # Where earlier runs put a blob on the remote: the remote names of this project's
        # repositories that link it and the rule selects.
        names = RepositoryBlob.objects.filter(blob__digest=digest, repository__project=rule.project).values_list(
            "repository__name", flat=True
        )
        paths = [name_in_project(name) for name in names]
        return sorted(remote_name(rule, path) for path in paths if matches(rule.repositories, path))

    return local, RemoteEnd(RemoteRegistry(upstream, pushing=True), known_homes)


def repository_pairs(rule: ReplicationRule, source: Source, named: list[str] | None = None) -> list[tuple[str, str]]:
    """(source name, destination name) of each repository the rule selects; of those `named` only,
    when a run copies some images (after a push, or a retry), without listing all the others."""
    pairs: list[tuple[str, str]] = []
    if rule.direction == ReplicationRule.Direction.PUSH:
        for name in source.repositories() if named is None else named:
            path = name_in_project(name)
            if project_name_of(name) == rule.project.name and matches(rule.repositories, path):
                pairs.append((name, remote_name(rule, path)))
        return pairs
    prefix = f"{rule.remote_namespace}/" if rule.remote_namespace else ""
    for name in named if named is not None else _literal_names(rule.repositories, prefix) or source.repositories():
        path = name[len(prefix) :]
        if name.startswith(prefix) and path and matches(rule.repositories, path):
            pairs.append((name, f"{rule.project.name}/{path}"))
    return pairs


def _literal_names(patterns: str, prefix: str) -> list[str]:
    """The remote names a pull rule's repository patterns spell out when none is a glob: read
    without the catalog, which Docker Hub, GHCR and Quay do not serve. Empty otherwise."""
    included = [pattern for pattern in patterns.split(",") if pattern and not pattern.startswith("!")]
    if any(character in pattern for pattern in included for character in "*?["):
        return []
    return [f"{prefix}{pattern}" for pattern in included]


def plan_replication(
    rule: ReplicationRule, source: Source, destination: Destination, only: tuple[str, ...] | None = None
) -> ReplicationPlan:
    """The tags the rule selects whose digest the destination does not have under the same tag, or
    whose referrers it lacks (all of them, or those in `only`). A dry run shows this list; a run
    copies it."""
    items: list[ReplicationItem] = []
    up_to_date = 0
    # A key is `repository:tag`; a repository name has no colon.
    named = None if only is None else sorted({key.partition(":")[0] for key in only})
    for source_name, destination_name in repository_pairs(rule, source, named):
        for tag in source.tags(source_name):
            if not matches(rule.tags, tag) or (only is not None and f"{source_name}:{tag}" not in only):
                continue
            digest = source.tag_digest(source_name, tag)
            if digest is None:
                continue
            if destination.tag_digest(destination_name, tag) == digest and not _referrers_missing(
                source, destination, source_name, destination_name, digest
            ):
                up_to_date += 1
            else:
                items.append(ReplicationItem(source_name, destination_name, tag, digest))
    return ReplicationPlan(items, up_to_date)


def _referrers_missing(
    source: Source, destination: Destination, source_name: str, destination_name: str, digest: str
) -> bool:
    """Whether the source has a referrer of the image that the destination lacks: an image is
    often signed after it was pushed (and replicated). Asked with a HEAD of each referrer, which
    any registry answers, with a referrers API or without."""
    return any(
        not destination.has_manifest(destination_name, referrer) for referrer in source.referrers(source_name, digest)
    )


class _Copier:
    def __init__(self, source: Source, destination: Destination) -> None:
        self.source = source
        self.destination = destination
        self.counts: Counter[str] = Counter()

    def copy(self, item: ReplicationItem) -> None:
        self._copy_manifest(item.source, item.destination, item.digest, set(), 0)
        content, media_type = self.source.manifest(item.source, item.digest)
        self.destination.put_manifest(item.destination, item.tag, content, media_type)

    def _copy_manifest(
        self, source_name: str, destination_name: str, digest: str, visited: set[str], depth: int
    ) -> None:
        if digest in visited:
            return
        if depth > MAX_NESTING:
            # A remote can nest referrers without end; Python's stack cannot follow.
            raise ReplicationFailed(f"{source_name}@{digest}: children and referrers nested deeper than {MAX_NESTING}")
        visited.add(digest)
        if not self.destination.has_manifest(destination_name, digest):
            content, media_type = self.source.manifest(source_name, digest)
            try:
                parsed = parse_manifest(content, media_type)
            except RegistryError as invalid:
                raise ReplicationFailed(f"{source_name}@{digest}: {invalid.message}") from None
            for child in parsed.children:
                self._copy_manifest(source_name, destination_name, str(child.digest), visited, depth + 1)
            for blob in parsed.blobs:
                self._copy_blob(source_name, destination_name, str(blob.digest), blob.size)
            self.destination.put_manifest(destination_name, digest, content, media_type)
            self.counts["manifests_sent"] += 1
        # Asked even of a manifest the destination has: a signature may have come since.
        for referrer in self.source.referrers(source_name, digest):
            self._copy_manifest(source_name, destination_name, referrer, visited, depth + 1)

    def _copy_blob(self, source_name: str, destination_name: str, digest: str, size: int) -> None:
        if self.destination.has_blob(destination_name, digest):
            self.counts["blobs_present"] += 1
        elif self.destination.mount_blob(destination_name, digest):
            self.counts["blobs_mounted"] += 1
        else:
            with self.source.blob_chunks(source_name, digest) as chunks:
                self.destination.push_blob(destination_name, digest, size, chunks)
            self.counts["blobs_sent"] += 1
            self.counts["bytes_sent"] += size


def replicate(rule_id: int, dry_run: bool, only: tuple[str, ...] | None, progress: Progress) -> dict[str, Any]:
    """Run (or with `dry_run` only plan) a replication rule; the job's result. A listing that
    fails (the remote is down) fails the run; an image that fails is retried, then reported."""
    rule = ReplicationRule.objects.select_related("project").filter(id=rule_id).first()
    if rule is None:
        raise ReplicationFailed(f"replication rule {rule_id} was deleted before this run started")
    source, destination = ends_of(rule)
    progress("listing", 0, 1)
    plan = plan_replication(rule, source, destination, only)
    listed = {"rule": rule.name, "items": [item.describe() for item in plan.items], "up_to_date": plan.up_to_date}
    if dry_run:
        progress("listed", 1, 1)
        return listed
    copier = _Copier(source, destination)
    copied: list[ReplicationItem] = []
    errors: dict[ReplicationItem, str] = {}
    waiting = list(plan.items)
    for attempt in range(settings.REGISTRY_REPLICATION_ATTEMPTS):
        if attempt:
            # A remote that refused or dropped a request may answer a moment later.
            time.sleep(attempt)
        failed: list[ReplicationItem] = []
        for item in waiting:
            try:
                copier.copy(item)
            except (ReplicationFailed, UpstreamError) as error:
                errors[item] = str(error)
                failed.append(item)
            else:
                copied.append(item)
                errors.pop(item, None)
            progress("copying", len(copied), len(plan.items))
        waiting = failed
        if not waiting:
            break
    # In the plan's order, so a run lists its images as its dry run does.
    copied_in_order = [item.describe() for item in plan.items if item in copied]
    return {
        **listed,
        "copied": copied_in_order,
        "failed": [{"item": item.describe(), "key": item.key, "error": errors[item]} for item in waiting],
        **{
            name: copier.counts[name]
            for name in ("manifests_sent", "blobs_sent", "bytes_sent", "blobs_mounted", "blobs_present")
        },
    }
