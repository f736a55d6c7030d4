"""Permission lookups every dashboard view starts with. Something the user may not see answers
404, as if it did not exist, so private project and repository names never leak."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from accounts.models import Project
from accounts.permissions import Principal, allowed_actions, can_manage_project, can_see_repository, visible_projects
from accounts.scopes import DELETE
from v2api.models import Job, Manifest, Repository

View = Callable[..., HttpResponse]


def readable_without_login(view: View) -> View:
    """For the read-only pages: an anonymous visitor sees the public projects, by the same rule as
    anonymous pulls (visible_projects, accounts.permissions.public_projects); what they may not see
    sends them to log in, as login_required did, so a private name neither leaks nor dead-ends."""

    @wraps(view)
    def read(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            if request.user.is_authenticated:
                raise
            return redirect_to_login(request.get_full_path())

    return read


def principal_of(request: HttpRequest) -> Principal:
    return Principal.for_user(request.user)


def get_project_for_user(request: HttpRequest, name: str) -> Project:
    """The project `name` if the user may pull from it; 404 otherwise."""
    project = visible_projects(principal_of(request)).filter(name=name).first()
    if project is None:
        raise Http404(f"There is no project {name}, or you may not see it.")
    return project


def get_repository_for_user(request: HttpRequest, name: str) -> Repository:
    """The repository `name` if it exists in a project the user may pull from; 404 otherwise."""
    repository = Repository.objects.select_related("project").filter(name=name).first()
    if repository is None or not can_see_repository(principal_of(request), name):
        raise Http404(f"There is no repository {name}, or you may not see it.")
    return repository


def get_manifest_in(repository: Repository, digest: str) -> Manifest:
    manifest = Manifest.objects.filter(repository=repository, digest=digest).first()
    if manifest is None:
        raise Http404(f"{repository.name} has no manifest {digest}; it may have been deleted.")
    return manifest


def may_manage(request: HttpRequest, project: Project) -> bool:
    return can_manage_project(principal_of(request), project)


def require_system_admin(request: HttpRequest) -> None:
    """Administration pages do not exist for anyone else."""
    if not principal_of(request).is_system_admin:
        raise Http404("There is no such page.")


def may_delete(request: HttpRequest, repository_name: str) -> bool:
    """Maintainers, project admins and system admins may delete in a repository (the `delete` action)."""
    return DELETE in allowed_actions(principal_of(request), repository_name)


def visible_jobs(request: HttpRequest) -> QuerySet[Job]:
    """System admins see every job; anyone else the jobs they requested."""
    jobs = Job.objects.select_related("requested_by")
    if principal_of(request).is_system_admin:
        return jobs
    return jobs.filter(requested_by_id=request.user.pk)


def get_job_for_user(request: HttpRequest, job_id: int) -> Job:
    job = visible_jobs(request).filter(pk=job_id).first()
    if job is None:
        raise Http404(f"There is no job {job_id}, or it is not one of yours.")
    return job
