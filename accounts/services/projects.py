"""Projects: created on first push where the rules allow it, or by a system administrator;
made public or private; given a storage quota; a proxy cache's upstream changed; deleted once empty."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.models import Membership, Project, Role
from accounts.permissions import Principal, may_create_project
from accounts.sealing import seal, unseal
from audit import actions
from audit.recorder import record
from oci.names import InvalidName, check_repository_name, project_name_of


def ensure_project_for_push(principal: Principal, repository_name: str) -> None:
    """Create the project of `repository_name` if it is missing and `principal` may create it.

    A personal project (named after its user) is private and its user becomes its admin.
    """
    name = project_name_of(repository_name)
    if Project.objects.filter(name=name).exists() or not may_create_project(principal, name):
        return
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name)
            if principal.user is not None and name == principal.user.get_username():
                Membership.objects.create(project=project, user=principal.user, role=Role.ADMIN)
            record(actions.PROJECT_CREATE, project=name, resource=name, detail={"on_push": repository_name})
    except IntegrityError:
        # A concurrent push created it first.
        pass


PROJECT_NAME_RULE = "Use lowercase letters and digits, separated by single '.', '_', '__' or '-'; no '/'."


def check_project_name(name: str) -> None:
    """Raise ValidationError({"name": …}) unless `name` is one repository-name component, and free."""
    try:
        check_repository_name(name)
    except InvalidName:
        raise ValidationError({"name": PROJECT_NAME_RULE}) from None
    if "/" in name:
        raise ValidationError({"name": PROJECT_NAME_RULE})
    if Project.objects.filter(name=name).exists():
        raise ValidationError({"name": "A project with this name already exists."})


def create_project(
    name: str, *, public: bool = False, proxy_url: str = "", proxy_username: str = "", proxy_password: str = ""
) -> Project:
    """A system administrator makes a project, a proxy cache of `proxy_url` if one is given.

    Raises ValidationError (bad or taken name, bad upstream URL, credentials without an upstream).
    """
    check_project_name(name)
    proxy_url = normalized_proxy_url(proxy_url)
    if (proxy_username or proxy_password) and not proxy_url:
        raise ValidationError({"proxy_url": "Upstream credentials need an upstream registry (proxy_url)."})
    sealed = seal(proxy_password) if proxy_password else ""
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                public=public,
                proxy_url=proxy_url,
                proxy_username=proxy_username,
                proxy_password_sealed=sealed,
            )
            record(
                actions.PROJECT_CREATE,
                project=name,
                resource=name,
                detail={"public": public, **({"proxy_url": proxy_url} if proxy_url else {})},
            )
            return project
    except IntegrityError:
        raise ValidationError({"name": "A project with this name already exists."}) from None


def set_proxy_binding(project: Project, proxy_url: str, proxy_username: str, proxy_password: str | None) -> None:
    """A system administrator moves a proxy-cache project to another upstream or account;
    `proxy_password` None keeps the one stored, for the same upstream only. What is cached stays,
    and tags are checked with the new upstream once their TTL is over.

    Raises ValidationError: an ordinary project does not become a proxy (its pushed images would
    be mixed with fetched ones), nor a proxy an ordinary project; bad upstream URL; a new
    upstream without its password (or an empty one).
    """
    if not project.is_proxy:
        raise ValidationError(
            {"proxy_url": "Only a proxy-cache project has an upstream; create a new project to proxy a registry."}
        )
    proxy_url = normalized_proxy_url(proxy_url)
    if not proxy_url:
        raise ValidationError({"proxy_url": "A proxy-cache project needs its upstream registry."})
    if proxy_password is None and project.proxy_password_sealed and proxy_url != project.proxy_url:
        # The stored password is never shown; kept for another upstream, it would be sent to
        # that host with the first pull, to be read there.
        raise ValidationError(
            {
                "proxy_password": f"Give the password for {proxy_url} again, or pull without one:"
                f" the stored one was given for {project.proxy_url}."
            }
        )
    sealed = project.proxy_password_sealed if proxy_password is None else seal(proxy_password) if proxy_password else ""
    with transaction.atomic():
        Project.objects.filter(id=project.id).update(
            proxy_url=proxy_url, proxy_username=proxy_username, proxy_password_sealed=sealed
        )
        record(
            actions.PROJECT_UPSTREAM,
            project=project.name,
            resource=project.name,
            detail={
                "proxy_url": proxy_url,
                "previous_proxy_url": project.proxy_url,
                "proxy_username": proxy_username,
                "password_changed": proxy_password is not None,
            },
        )
    project.proxy_url, project.proxy_username, project.proxy_password_sealed = proxy_url, proxy_username, sealed


def normalized_proxy_url(url: str) -> str:
    """An upstream registry's base URL, `scheme://host[:port]`; raises ValidationError({"proxy_url": …}).

    A v2 registry answers at `/v2/` of its host, so a path is refused rather than guessed at.
    """
    if not url:
        return ""
    refusal = ValidationError(
        {"proxy_url": "Give the upstream registry as http(s)://host[:port], e.g. https://registry-1.docker.io."}
    )
    try:
        parts = urlsplit(url.strip())
        # A ValueError too when the port is no number, or out of range.
        port = parts.port
    except ValueError:
        raise refusal from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0 or parts.path.strip("/") or parts.query:
        raise refusal
    if "@" in parts.netloc:
        # The URL is no secret: the project page, the management API, the audit log and pull
        # errors all show it; the password field's is sealed.
        raise ValidationError(
            {"proxy_url": "Give the upstream's account in its own fields (username, password), not in the URL."}
        )
    return f"{parts.scheme}://{parts.netloc}"


def proxy_password(project: Project) -> str:
    """The upstream password of a proxy project, decrypted; empty when it has none.
    Raises accounts.sealing.SealBroken when SECRET_KEY changed since it was set."""
    return unseal(project.proxy_password_sealed) if project.proxy_password_sealed else ""


def set_project_public(project: Project, public: bool) -> None:
    """Public: anyone, even anonymous, may pull its repositories."""
    with transaction.atomic():
        Project.objects.filter(id=project.id).update(public=public)
        record(actions.PROJECT_VISIBILITY, project=project.name, resource=project.name, detail={"public": public})
    project.public = public


def set_project_quota(project: Project, quota_bytes: int | None) -> None:
    """A system administrator limits what the project may hold, in bytes; None lifts the limit.

    v2api/services/quotas.py enforces it on push. Lowering it below the current usage is allowed
    (as in Harbor): nothing is deleted, the next push of new bytes is refused. Raises
    ValidationError({"quota_bytes": …}) for a quota that is not a positive number of bytes.
    """
    if quota_bytes is not None and quota_bytes < 1:
        raise ValidationError({"quota_bytes": "A quota is a positive number of bytes; leave it empty for no limit."})
    with transaction.atomic():
        Project.objects.filter(id=project.id).update(quota_bytes=quota_bytes)
        record(
            actions.PROJECT_QUOTA,
            project=project.name,
            resource=project.name,
            detail={"quota_bytes": quota_bytes, "previous_quota_bytes": project.quota_bytes},
        )
    project.quota_bytes = quota_bytes


def set_project_recycle_window(project: Project, recycle_seconds: int | None) -> None:
    """How long the project's deleted tags and images stay in its recycle bin; 0 keeps none, None
    follows REGISTRY_RECYCLE_SECONDS. Deletions already in the bin keep the window they had.
    Raises ValidationError({"recycle_seconds": …}) for a negative number."""
    if recycle_seconds is not None and recycle_seconds < 0:
        raise ValidationError({"recycle_seconds": "A number of seconds, 0 for no recycle bin; empty for the default."})
    with transaction.atomic():
        Project.objects.filter(id=project.id).update(recycle_seconds=recycle_seconds)
        record(
            actions.PROJECT_RECYCLE_WINDOW,
            project=project.name,
            resource=project.name,
            detail={"recycle_seconds": recycle_seconds, "previous_recycle_seconds": project.recycle_seconds},
        )
    project.recycle_seconds = recycle_seconds


def delete_empty_project(project: Project) -> None:
    """Delete a project that holds no repositories (its members and robots go with it).

    Raises ProjectNotEmpty otherwise; deleting images is a job of its own, never a side effect.
    The registry's repositories protect their project (a PROTECT foreign key), so the database
    refuses the delete, also when a push creates a repository in it meanwhile. Deletions in its
    recycle bin (v2api's RecycledDeletion, through its reverse relation: accounts imports nothing
    of the registry) keep it too until their windows end, or they are deleted permanently: they
    were promised restorable.
    """
    try:
        with transaction.atomic():
            restorable = list(
                project.recycled_deletions.filter(expires_at__gt=timezone.now())
                .order_by("-expires_at")
                .values_list("expires_at", flat=True)
            )
            if restorable:
                count = len(restorable)
                held, pronoun = ("1 deletion", "it") if count == 1 else (f"{count} deletions", "them")
                raise ProjectNotEmpty(
                    f"Project {project.name} still holds {held} in its recycle bin, restorable until"
                    f" {restorable[0]:%Y-%m-%d %H:%M} UTC; delete {pronoun} permanently there first."
                )
            Project.objects.filter(id=project.id).delete()
            record(actions.PROJECT_DELETE, project=project.name, resource=project.name)
    except (ProtectedError, IntegrityError):
        raise ProjectNotEmpty(f"Project {project.name} still holds repositories; delete them first.") from None


class ProjectNotEmpty(Exception):
    pass
