"""What the dashboard lists: projects with their repository counts, a project's repositories with
tag counts and last push, search across repositories, a repository's tags, and the storage
overview of the administration pages.

Read-only queries the dashboard's views call, so the views compute nothing themselves. Lists
page by keyset (`WHERE key > last ORDER BY key LIMIT n+1`), so page 200 of a project with
thousands of repositories costs what page 1 costs, and counts are computed only for the rows
on the page.
"""

import re
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count, DateTimeField, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from accounts.models import Project
from accounts.permissions import Principal, visible_projects
from oci import media_types
from oci.names import name_in_project
from v2api.models import Blob, Manifest, Repository, Tag
from v2api.services.garbage import collectable_bytes, total_size
from v2api.services.images import platforms_of_manifests
from v2api.services.quotas import QuotaUse
from v2api.services.repositories import listed_repositories
from v2api.services.usage import Usage, image_sizes, project_usages, repository_usages

PAGE_SIZE = 50
SEARCH_LIMIT = 50
# The sort orders a project's repository list offers; the first is the default.
REPOSITORY_SORTS = {"name": "Name", "recent": "Last push"}


@dataclass(frozen=True)
class ProjectSummary:
    project: Project
    repository_count: int
    usage: Usage | None = None

    @property
    def quota(self) -> QuotaUse | None:
        """Usage against the project's quota, when it has one and its usage is known."""
        return quota_use(self.project, self.usage)


def quota_use(project: Project, usage: Usage | None) -> QuotaUse | None:
    if project.quota_bytes is None or usage is None:
        return None
    return QuotaUse(used_bytes=usage.total_bytes, quota_bytes=project.quota_bytes)


def project_summaries(principal: Principal) -> list[ProjectSummary]:
    """Every project the principal can see, by name, with how many listed repositories it holds (two queries)."""
    projects = list(visible_projects(principal).order_by("name"))
    counts = dict(
        listed_repositories()
        .filter(project__in=[project.id for project in projects])
        .values("project_id")
        .annotate(count=Count("id"))
        .values_list("project_id", "count")
    )
    return [ProjectSummary(project, counts.get(project.id, 0)) for project in projects]


@dataclass(frozen=True)
class RepositoryRow:
    name: str
    tag_count: int
    last_pushed_at: datetime | None
    usage: Usage | None = None

    @property
    def name_in_project(self) -> str:
        return name_in_project(self.name)


@dataclass(frozen=True)
class RepositoryPage:
    rows: list[RepositoryRow]
    next_cursor: str | None


def _last_push() -> Coalesce:
    """When new content last arrived: the newest manifest, or the repository's creation if none."""
    newest = (
        Manifest.objects.filter(repository=OuterRef("pk"))
        .order_by()
        .values("repository")
        .annotate(newest=Max("pushed_at"))
        .values("newest")
    )
    return Coalesce(Subquery(newest, output_field=DateTimeField()), "created_at")


def repository_page(project_name: str, query: str, sort: str, cursor: str | None) -> RepositoryPage:
    """One page of a project's repositories whose name contains `query`, by name or newest push first."""
    repositories = listed_repositories().filter(project__name=project_name)
    if query:
        repositories = repositories.filter(name__icontains=query)
    if sort == "recent":
        repositories = repositories.annotate(last_push=_last_push())
        after = _parse_recent_cursor(cursor)
        if after is not None:
            pushed, name = after
            repositories = repositories.filter(Q(last_push__lt=pushed) | Q(last_push=pushed, name__gt=name))
        repositories = repositories.order_by("-last_push", "name")
    else:
        if cursor:
            repositories = repositories.filter(name__gt=cursor)
        repositories = repositories.order_by("name")
    page = list(repositories.values_list("id", "name")[: PAGE_SIZE + 1])
    rows = _rows_for([name for _, name in page[:PAGE_SIZE]])
    next_cursor = None
    if len(page) > PAGE_SIZE and rows:
        last = rows[-1]
        next_cursor = f"{last.last_pushed_at.isoformat()}|{last.name}" if sort == "recent" else last.name  # type: ignore[union-attr]
    return RepositoryPage(rows, next_cursor)


def with_repository_usage(rows: list[RepositoryRow]) -> list[RepositoryRow]:
    """The rows, each with its repository's disk usage: one query for the rows shown, whatever their number."""
    usages = repository_usages(row.name for row in rows)
    return [replace(row, usage=usages[row.name]) for row in rows]


def with_project_usage(summaries: list[ProjectSummary]) -> list[ProjectSummary]:
    """The summaries, each with its project's disk usage: one query for all of them."""
    usages = project_usages(summary.project.name for summary in summaries)
    return [replace(summary, usage=usages[summary.project.name]) for summary in summaries]


def search_repositories(principal: Principal, query: str) -> list[RepositoryRow]:
    """Repositories the principal may pull whose name contains `query`, the first SEARCH_LIMIT by name."""
    # The repository pages' rule (can_see_repository): a repository is found where its project is visible.
    repositories = listed_repositories().filter(name__icontains=query, project__in=visible_projects(principal))
    return _rows_for(list(repositories.order_by("name").values_list("name", flat=True)[:SEARCH_LIMIT]))


@dataclass(frozen=True)
class ImageHit:
    """A tag or an image a search found: where it is and what it points at."""

    repository: str
    digest: str
    tag: str = ""

    @property
    def short_digest(self) -> str:
        return short_digest(self.digest)


# A digest prefix is searched from this many hex digits on: fewer would match most images.
DIGEST_PREFIX_MIN = 6
_DIGEST_PREFIX = re.compile(rf"^(?:sha256:|sha512:)?([0-9a-f]{{{DIGEST_PREFIX_MIN},128}})$")


def search_tags(principal: Principal, query: str) -> list[ImageHit]:
    """Tags whose name contains `query`, in listed repositories the principal may pull, by repository and name."""
    tags = Tag.objects.filter(
        name__icontains=query, repository__in=listed_repositories(), repository__project__in=visible_projects(principal)
    )
    rows = tags.order_by("repository__name", "name").values_list("repository__name", "manifest__digest", "name")
    return [ImageHit(repository, digest, tag) for repository, digest, tag in rows[:SEARCH_LIMIT]]


def search_digests(principal: Principal, query: str) -> list[ImageHit]:
    """Images whose digest starts with `query` (`sha256:` optional, at least DIGEST_PREFIX_MIN hex
    digits), in repositories the principal may pull: `docker images` shows 12 digits, and a
    scanner's report a whole digest."""
    match = _DIGEST_PREFIX.match(query.strip().lower())
    if match is None:
        return []
    algorithm = query.split(":", 1)[0].lower() if ":" in query else "sha256"
    manifests = Manifest.objects.filter(
        digest__startswith=f"{algorithm}:{match.group(1)}", repository__project__in=visible_projects(principal)
    )
    rows = manifests.order_by("repository__name", "digest").values_list("repository__name", "digest")
    return [ImageHit(repository, digest) for repository, digest in rows[:SEARCH_LIMIT]]


def _rows_for(names: list[str]) -> list[RepositoryRow]:
    """Tag counts and last pushes for just these repositories, in their order (one query)."""
    if not names:
        return []
    tag_counts = Tag.objects.filter(repository=OuterRef("pk")).order_by().values("repository")
    found = {
        name: (tag_count, last_push)
        for name, tag_count, last_push in Repository.objects.filter(name__in=names)
        .annotate(
            tag_count=Coalesce(Subquery(tag_counts.annotate(n=Count("id")).values("n")), 0),
            last_push=_last_push(),
        )
        .values_list("name", "tag_count", "last_push")
    }
    return [RepositoryRow(name, *found[name]) for name in names if name in found]


def _parse_recent_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A cursor someone edited by hand starts again at the first page instead of failing."""
    if not cursor or "|" not in cursor:
        return None
    pushed_text, name = cursor.split("|", 1)
    try:
        pushed = parse_datetime(pushed_text)
    except ValueError:
        return None
    return (pushed, name) if pushed is not None else None


@dataclass(frozen=True)
class TagRow:
    name: str
    digest: str
    media_type: str
    pushed_at: datetime
    platforms: list[str]
    size: int = 0
    # A cosign or notation signature refers to the image (signed_digests).
    signed: bool = False
    # What an artifact is (SBOM, signature…; media_types.artifact_kind); empty for an image.
    artifact_kind: str = ""
    # From the audit log's pull batches (services/pull_times.py); None: never pulled, or pull
    # auditing is off.
    last_pulled_at: datetime | None = None

    @property
    def short_digest(self) -> str:
        return short_digest(self.digest)


@dataclass(frozen=True)
class TagPage:
    rows: list[TagRow]
    next_cursor: str | None
    total: int


def tag_page(repository: Repository, cursor: str | None) -> TagPage:
    """One page of a repository's tags by name, each with its manifest and platforms."""
    tags = Tag.objects.filter(repository=repository)
    total = tags.count()
    if cursor:
        tags = tags.filter(name__gt=cursor)
    page = list(
        tags.select_related("manifest")
        .only(
            "name",
            "updated_at",
            "last_pulled_at",
            "manifest__digest",
            "manifest__media_type",
            "manifest__content",
            "manifest__artifact_type",
        )
        .order_by("name")[: PAGE_SIZE + 1]
    )
    shown = page[:PAGE_SIZE]
    platforms = platforms_of_manifests([tag.manifest for tag in shown])
    sizes = image_sizes([tag.manifest_id for tag in shown])
    signed = signed_digests(repository, [tag.manifest.digest for tag in shown])
    rows = [
        TagRow(
            name=tag.name,
            digest=tag.manifest.digest,
            media_type=tag.manifest.media_type,
            pushed_at=tag.updated_at,
            platforms=platforms.get(tag.manifest.digest, []),
            size=sizes.get(tag.manifest_id, 0),
            signed=tag.manifest.digest in signed,
            artifact_kind=media_types.artifact_kind(tag.manifest.artifact_type),
            last_pulled_at=tag.last_pulled_at,
        )
        for tag in shown
    ]
    return TagPage(rows, shown[-1].name if len(page) > PAGE_SIZE else None, total)


def signed_digests(repository: Repository, digests: list[str]) -> set[str]:
    """Which of these images a signature refers to: a referrer whose artifactType is cosign's or
    notation's (OCI 1.1 referrers), or cosign's older tag `sha256-<hex>.sig` in the repository."""
    referred = Manifest.objects.filter(
        repository=repository, subject_digest__in=digests, artifact_type__in=media_types.SIGNATURES
    ).values_list("subject_digest", flat=True)
    cosign_tags = {f"{digest.replace(':', '-', 1)}.sig": digest for digest in digests}
    tagged = Tag.objects.filter(repository=repository, name__in=list(cosign_tags)).values_list("name", flat=True)
    return set(referred) | {cosign_tags[name] for name in tagged}


def short_digest(digest: str) -> str:
    """`sha256:0123456789ab`: the algorithm and 12 hex digits, as docker prints image ids."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}"


@dataclass(frozen=True)
class StorageOverview:
    """The administrator's view of the disk: every blob stored, and what the next garbage
    collection frees once everything is older than the grace window (garbage.collectable_bytes)."""

    projects: list[ProjectSummary]
    stored_bytes: int
    collectable_bytes: int

    @property
    def largest_project_bytes(self) -> int:
        return max((summary.usage.total_bytes for summary in self.projects if summary.usage), default=0)


def storage_overview(projects: list[ProjectSummary]) -> StorageOverview:
    """Projects (with their usage) from largest to smallest, and the totals of the blob store."""
    return StorageOverview(
        projects=sorted(projects, key=lambda summary: -(summary.usage.total_bytes if summary.usage else 0)),
        stored_bytes=total_size(Blob.objects.all()),
        collectable_bytes=collectable_bytes(),
    )
