"""A project's directory groups, on its members page: project admins add a group of the company
directory with a role, change the role and remove the group."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import GroupMembership
from accounts.services import members
from registry_ui.forms import AddGroupForm, ChangeRoleForm, apply_errors
from registry_ui.views.access import get_project_for_user
from registry_ui.views.projects import project_tabs, refuse_unless_manager, render_members


@login_required
@require_POST
def add_group(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/groups/add/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    form = AddGroupForm(request.POST)
    if form.is_valid():
        try:
            added = members.add_group(project, form.cleaned_data["group"], form.cleaned_data["role"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"Everyone in group {added.group.name} is now a {added.get_role_display()} of {project.name}."
            )
            return redirect("ui:project-members", project_name=project.name)
    return render_members(request, project, project_tabs(request, project), group_form=form, status=400)


@login_required
@require_POST
def change_group_role(request: HttpRequest, project_name: str, group_name: str) -> HttpResponse:
    """POST `/projects/<name>/groups/<group>/role/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
    else:
        try:
            changed = members.change_group_role(project, group_name, form.cleaned_data["role"])
        except GroupMembership.DoesNotExist:
            messages.error(request, f"Group {group_name} is no longer in {project.name}.")
        else:
            messages.success(request, f"Group {group_name} is now a {changed.get_role_display()}.")
    return redirect("ui:project-members", project_name=project.name)


@login_required
@require_POST
def remove_group(request: HttpRequest, project_name: str, group_name: str) -> HttpResponse:
    """POST `/projects/<name>/groups/<group>/remove/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    try:
        members.remove_group(project, group_name)
    except GroupMembership.DoesNotExist:
        messages.error(request, f"Group {group_name} was already not in {project.name}.")
    else:
        messages.success(request, f"Group {group_name} is no longer in {project.name}.")
    return redirect("ui:project-members", project_name=project.name)
