"""A project's immutable tags tab: the rules naming tags that never move nor go. Its members read
them (a refused push or delete names its rule); project admins and system administrators add and
remove them through v2api/services/immutability.py, as the API does."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from registry_ui.forms import ImmutableTagRuleForm, apply_errors
from registry_ui.views.access import get_project_for_user
from registry_ui.views.projects import project_tabs
from v2api.services.immutability import add_immutable_tag_rule, remove_immutable_tag_rule


def _project_of_member(request: HttpRequest, project_name: str) -> tuple[Project, dict[str, bool]]:
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_see_members"]:
        raise Http404("Only members see a project's immutability rules.")
    return project, tabs


def _render(
    request: HttpRequest, project: Project, tabs: dict[str, bool], form: ImmutableTagRuleForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "registry_ui/project_immutable_tags.html",
        {
            "project": project,
            "tab": "immutable-tags",
            "rules": list(project.immutable_tag_rules.order_by("id")),
            "form": form,
            **tabs,
        },
        status=status,
    )


@login_required
def immutable_tags(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/immutable-tags/`."""
    project, tabs = _project_of_member(request, project_name)
    return _render(request, project, tabs, ImmutableTagRuleForm())


def _managed_project(request: HttpRequest, project_name: str) -> tuple[Project, dict[str, bool]]:
    project, tabs = _project_of_member(request, project_name)
    if not tabs["can_manage"]:
        raise Http404("Only project admins change a project's immutability rules.")
    return project, tabs


@login_required
@require_POST
def add_rule(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/immutable-tags/add/`."""
    project, tabs = _managed_project(request, project_name)
    form = ImmutableTagRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = add_immutable_tag_rule(project, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Tags {rule.tags} are immutable from now on.")
            return redirect("ui:project-immutable-tags", project_name=project.name)
    return _render(request, project, tabs, form, status=400)


@login_required
@require_POST
def remove_rule(request: HttpRequest, project_name: str, rule_id: int) -> HttpResponse:
    """POST `/projects/<name>/immutable-tags/<id>/remove/`."""
    project, _ = _managed_project(request, project_name)
    if remove_immutable_tag_rule(project, rule_id):
        messages.success(request, "Rule removed: the tags it named may move and be deleted again.")
    else:
        messages.error(request, "That rule was already removed.")
    return redirect("ui:project-immutable-tags", project_name=project.name)
