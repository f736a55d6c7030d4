"""A project's recycle bin tab: the tags and images it deleted that can still come back.

Its members read it; those who may delete in the project (maintainers, admins, system
administrators) restore a deletion or delete it permanently, and project admins set how long
deletions stay, all through v2api/services/recycle_bin.py as the API does."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from accounts.services.projects import set_project_recycle_window
from registry_ui.forms import RecycleWindowForm, apply_errors
from registry_ui.views.access import get_project_for_user, may_delete
from registry_ui.views.projects import project_tabs
from v2api.models import RecycledDeletion
from v2api.services.recycle_bin import (
    RestoreConflict,
    delete_permanently,
    recycled_bytes,
    recycled_items,
    restore,
)
from v2api.services.recycle_windows import recycle_window

GONE = "That deletion is no longer in the recycle bin: restored, deleted permanently, or its window ended."


def _project_of_member(request: HttpRequest, project_name: str) -> tuple[Project, dict[str, bool]]:
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_see_members"]:
        raise Http404("Only members see a project's recycle bin.")
    return project, tabs


def _render(
    request: HttpRequest, project: Project, tabs: dict[str, bool], form: RecycleWindowForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "registry_ui/project_recycle_bin.html",
        {
            "project": project,
            "tab": "recycle-bin",
            "items": recycled_items(project),
            "recycled_bytes": recycled_bytes(project),
            "window": recycle_window(project),
            # Deleting anywhere in the project took the delete action; undoing it takes the same.
            "may_restore": may_delete(request, f"{project.name}/"),
            "form": form,
            **tabs,
        },
        status=status,
    )


@login_required
def recycle_bin(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/recycle-bin/`."""
    project, tabs = _project_of_member(request, project_name)
    return _render(request, project, tabs, RecycleWindowForm(initial={"recycle_seconds": project.recycle_seconds}))


def _deletion_to_change(request: HttpRequest, project_name: str, deletion_id: int) -> Project:
    project, _ = _project_of_member(request, project_name)
    repository = (
        RecycledDeletion.objects.filter(project=project, id=deletion_id)
        .values_list("repository_name", flat=True)
        .first()
    )
    if not may_delete(request, repository or f"{project.name}/"):
        raise Http404("Only those who may delete in the project restore or empty its recycle bin.")
    return project


@login_required
@require_POST
def restore_deletion(request: HttpRequest, project_name: str, deletion_id: int) -> HttpResponse:
    """POST `/projects/<name>/recycle-bin/<id>/restore/`."""
    project = _deletion_to_change(request, project_name, deletion_id)
    try:
        restored = restore(project, deletion_id)
    except RecycledDeletion.DoesNotExist:
        messages.error(request, GONE)
    except RestoreConflict as conflict:
        messages.error(request, f"Nothing was restored: {conflict}")
    else:
        what = ", ".join(sorted(restored.tags)) or ", ".join(digest[:19] for digest in restored.manifests)
        messages.success(request, f"Restored in {restored.repository}: {what}.")
    return redirect("ui:project-recycle-bin", project_name=project.name)


@login_required
@require_POST
def delete_deletion(request: HttpRequest, project_name: str, deletion_id: int) -> HttpResponse:
    """POST `/projects/<name>/recycle-bin/<id>/delete/`: delete permanently."""
    project = _deletion_to_change(request, project_name, deletion_id)
    if delete_permanently(project, deletion_id):
        messages.success(request, "Deleted permanently: the next garbage collection frees what only it kept.")
    else:
        messages.error(request, GONE)
    return redirect("ui:project-recycle-bin", project_name=project.name)


@login_required
@require_POST
def set_window(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/recycle-bin/window/`: project admins set how long deletions stay."""
    project, tabs = _project_of_member(request, project_name)
    if not tabs["can_manage"]:
        raise Http404("Only project admins set how long the recycle bin keeps deletions.")
    form = RecycleWindowForm(request.POST)
    if form.is_valid():
        try:
            set_project_recycle_window(project, form.cleaned_data["recycle_seconds"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Saved: deletions from now on stay in the recycle bin for the new window.")
            return redirect("ui:project-recycle-bin", project_name=project.name)
    return _render(request, project, tabs, form, status=400)
