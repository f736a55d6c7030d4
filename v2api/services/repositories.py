"""Repositories and the catalog."""

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Project
from oci.names import project_name_of
from v2api.errors import Denied
from v2api.models import Manifest, Repository
from v2api.services.pagination import Page, keyset_page
from v2api.services.prepared import PreparedQuery

# One statement, as the plain INSERT was, so a push costs no query more: the project row is
# looked up inside it. ON CONFLICT instead of catching IntegrityError: no savepoint either.
_FIELDS = Repository._meta.concrete_fields
_CREATE_REPOSITORY_SQL = (
    f"INSERT INTO {Repository._meta.db_table} (name, project_id, created_at) "
    f"SELECT %s, p.id, %s FROM {Project._meta.db_table} p WHERE p.name = %s "
    f"ON CONFLICT (name) DO NOTHING RETURNING {', '.join(str(field.column) for field in _FIELDS)}"
)


def get_or_create_repository(name: str) -> Repository:
    """A repository comes into being with its first upload, mount or manifest, in its project.

    The project exists by then: authorising the push created it where the caller may. Raises
    Denied if it does not (deleted since the caller's token was issued, or meanwhile).
    """
    repository = _find_repository(name)
    if repository is not None:
        return repository
    project_name = project_name_of(name)
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_REPOSITORY_SQL, [name, timezone.now(), project_name])
        row = cursor.fetchone()
    if row is not None:
        return Repository.from_db(connection.alias, [field.attname for field in _FIELDS], row)
    # Another request created it between our read and our insert, or the project is missing.
    repository = Repository.objects.filter(name=name).first()
    if repository is None:
        raise Denied(
            f"project {project_name!r} does not exist; a system administrator can create it.",
            detail={"name": name},
        )
    return repository


def _find_repository(name: str) -> Repository | None:
    """The repository with its project's id, name and quota (what a push's quota check reads; any
    other field loads if asked), or None."""
    row = _FIND_REPOSITORY.fetchone([name])
    if row is None:
        return None
    repository_id, project_id, project_name, quota_bytes = row
    repository = Repository.from_db(connection.alias, ["id", "name", "project_id"], [repository_id, name, project_id])
    repository.project = Project.from_db(
        connection.alias, ["id", "name", "quota_bytes"], [project_id, project_name, quota_bytes]
    )
    return repository


# Prepared rather than built by the ORM: every upload's POST and every manifest PUT asks it.
_FIND_REPOSITORY = PreparedQuery(
    "find_repository",
    f"SELECT r.id, p.id, p.name, p.quota_bytes FROM {Repository._meta.db_table} r "
    f"JOIN {Project._meta.db_table} p ON p.id = r.project_id WHERE r.name = %s",
    ("text",),
)


def project_proxy_url(repository_name: str) -> str | None:
    """The upstream URL of the repository's project, empty unless it is a proxy cache, None when
    there is no such project."""
    row = _PROJECT_PROXY_URL.fetchone([project_name_of(repository_name)])
    return None if row is None else str(row[0])


# Prepared, as the pulls' lookups are (services/prepared.py): the gate asks it on every push
# request and a blob HEAD that finds nothing asks it too; built by the ORM it cost a tenth of a
# pushing web worker's CPU, for one indexed read.
_PROJECT_PROXY_URL = PreparedQuery(
    "project_proxy_url", f"SELECT proxy_url FROM {Project._meta.db_table} WHERE name = %s", ("text",)
)


def listed_repositories() -> QuerySet[Repository]:
    """The repositories the catalog, the dashboard's lists and the repository counts show: those
    holding a manifest. One emptied by deletes, or made only by a blob mount or an upload, keeps its
    row (its blob links and uploads serve a push under way, and the collector frees them) but is
    listed nowhere until a manifest arrives."""
    return Repository.objects.filter(Exists(Manifest.objects.filter(repository=OuterRef("pk"))))


def list_repositories(last: str | None, limit: int | None, readable_projects: QuerySet[Project] | None) -> Page:
    """`GET /v2/_catalog` (Docker Registry API v2): the names of listed repositories in lexical
    order after `last`, only in `readable_projects` (None: all)."""
    repositories = listed_repositories()
    if readable_projects is not None:
        repositories = repositories.filter(project__in=readable_projects)
    return keyset_page(repositories, "name", last, limit)
