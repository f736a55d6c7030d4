"""A project's pages: its repositories, its members and its robot accounts (tabs of one page;
the retention tab is retention.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import Membership, Project, RobotAccount
from accounts.permissions import can_see_members
from accounts.services import members, robots
from registry_ui.forms import (
    AddGroupForm,
    AddMemberForm,
    ChangeRoleForm,
    ProxyBindingForm,
    RepositoryFilterForm,
    RobotForm,
    apply_errors,
)
from registry_ui.views.access import get_project_for_user, may_manage, principal_of, readable_without_login
from v2api.services.listings import REPOSITORY_SORTS, quota_use, repository_page, with_repository_usage
from v2api.services.usage import project_usage


def project_tabs(request: HttpRequest, project: Project) -> dict[str, bool]:
    """Which tabs of the project page this user gets."""
    principal = principal_of(request)
    return {"can_see_members": can_see_members(principal, project), "can_manage": may_manage(request, project)}


@readable_without_login
def project_detail(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/`: the project's repositories, filtered, sorted and paged by keyset, with
    the disk each uses (computed for the rows on the page only) and the project's total."""
    project = get_project_for_user(request, project_name)
    form = RepositoryFilterForm(request.GET)
    query, sort, after = form.value("q").strip(), form.value("sort") or "name", form.value("after")
    page = repository_page(project.name, query, sort, after or None)
    usage = project_usage(project.name)
    return render(
        request,
        "registry_ui/project_repositories.html",
        {
            "project": project,
            "page": page,
            "rows": with_repository_usage(page.rows),
            "usage": usage,
            "quota": quota_use(project, usage),
            "form": form,
            "query": query,
            "sort": sort,
            "sorts": REPOSITORY_SORTS,
            "is_first_page": not after,
            "tab": "repositories",
            "binding_form": ProxyBindingForm(
                initial={"proxy_url": project.proxy_url, "proxy_username": project.proxy_username}
            )
            if project.is_proxy and principal_of(request).is_system_admin
            else None,
            **project_tabs(request, project),
        },
    )


@login_required
def project_members(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/members/`: members and roles; project admins also add, change and remove."""
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_see_members"]:
        raise Http404("Only members of this project see its members.")
    return render_members(request, project, tabs)


def render_members(
    request: HttpRequest,
    project: Project,
    tabs: dict[str, bool],
    form: AddMemberForm | None = None,
    group_form: AddGroupForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The members page: people with their roles, then directory groups with theirs."""
    memberships = project.memberships.select_related("user").order_by("user__username")
    group_memberships = project.group_memberships.select_related("group").order_by("group__name")
    context = {
        "project": project,
        "memberships": memberships,
        "group_memberships": group_memberships,
        "form": form or AddMemberForm(),
        "group_form": group_form or AddGroupForm(),
        "tab": "members",
        **tabs,
    }
    return render(request, "registry_ui/project_members.html", context, status=status)


def refuse_unless_manager(request: HttpRequest, project: Project) -> HttpResponse | None:
    if may_manage(request, project):
        return None
    messages.error(request, f"Only admins of project {project.name} and system administrators may do this.")
    return redirect("ui:project-detail", project_name=project.name)


@login_required
@require_POST
def add_member(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/members/add/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            membership = members.add_member(project, form.cleaned_data["username"], form.cleaned_data["role"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"{membership.user.get_username()} is now a {membership.get_role_display()} of {project.name}."
            )
            return redirect("ui:project-members", project_name=project.name)
    return render_members(request, project, project_tabs(request, project), form=form, status=400)


@login_required
@require_POST
def change_member_role(request: HttpRequest, project_name: str, username: str) -> HttpResponse:
    """POST `/projects/<name>/members/<username>/role/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
    else:
        try:
            membership = members.change_role(project, username, form.cleaned_data["role"])
        except Membership.DoesNotExist:
            messages.error(request, f"{username} is no longer a member of {project.name}.")
        else:
            messages.success(request, f"{username} is now a {membership.get_role_display()}.")
    return redirect("ui:project-members", project_name=project.name)


@login_required
@require_POST
def remove_member(request: HttpRequest, project_name: str, username: str) -> HttpResponse:
    """POST `/projects/<name>/members/<username>/remove/`."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    try:
        members.remove_member(project, username)
    except Membership.DoesNotExist:
        messages.error(request, f"{username} was already not a member of {project.name}.")
    else:
        messages.success(request, f"{username} is no longer a member of {project.name}.")
    return redirect("ui:project-members", project_name=project.name)


@login_required
def project_robots(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/robots/`: robot accounts, for project admins and system administrators."""
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_manage"]:
        raise Http404("Only project admins see its robot accounts.")
    return _render_robots(request, project, tabs, RobotForm(initial={"can_pull": True}))


def _render_robots(
    request: HttpRequest, project: Project, tabs: dict[str, bool], form: RobotForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "registry_ui/project_robots.html",
        {"project": project, "robots": project.robots.order_by("name"), "form": form, "tab": "robots", **tabs},
        status=status,
    )


@never_cache
@login_required
@require_POST
def create_robot(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/robots/create/`: the answer shows the secret, this once, never cached."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    form = RobotForm(request.POST)
    if form.is_valid():
        try:
            created = robots.create_robot(project, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return render(
                request,
                "registry_ui/robot_created.html",
                {"project": project, "robot": created.robot, "secret": created.secret, "tab": "robots"},
            )
    return _render_robots(request, project, project_tabs(request, project), form, status=400)


@login_required
@require_POST
def revoke_robot(request: HttpRequest, project_name: str, robot_name: str) -> HttpResponse:
    """POST `/projects/<name>/robots/<robot>/revoke/`: the robot can no longer log in."""
    project = get_project_for_user(request, project_name)
    if (refused := refuse_unless_manager(request, project)) is not None:
        return refused
    robot = RobotAccount.objects.filter(project=project, name=robot_name).first()
    if robot is None:
        messages.error(request, f"Project {project.name} has no robot named {robot_name}.")
    elif robots.revoke(robot):
        messages.success(request, f"{robot.username} is revoked; it can no longer log in.")
    else:
        messages.info(request, f"{robot.username} was already revoked.")
    return redirect("ui:project-robots", project_name=project.name)
