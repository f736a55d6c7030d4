"""Administration for system administrators: users and projects. For anyone else these pages
do not exist (404)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import Project
from accounts.services import projects as project_services
from accounts.services import users as user_services
from accounts.services.last_seen import users_with_last_seen
from registry_ui.forms import (
    CreateProjectForm,
    CreateUserForm,
    ProxyBindingForm,
    QuotaForm,
    ResetPasswordForm,
    apply_errors,
)
from registry_ui.templatetags.sizes import binary_size
from registry_ui.views.access import principal_of, require_system_admin
from v2api.services.listings import project_summaries, storage_overview, with_project_usage


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    """`/admin/users/`: every user, with a form to create one."""
    require_system_admin(request)
    return _render_users(request, CreateUserForm())


def _render_users(request: HttpRequest, form: CreateUserForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "registry_ui/admin_users.html",
        {"users": users_with_last_seen().order_by("username"), "form": form, "section": "users"},
        status=status,
    )


@sensitive_post_parameters("password")
@login_required
@require_POST
def create_user(request: HttpRequest) -> HttpResponse:
    """POST `/admin/users/create/`."""
    require_system_admin(request)
    form = CreateUserForm(request.POST)
    if form.is_valid():
        try:
            user = user_services.create_user(**form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"User {user.get_username()} created.")
            return redirect("ui:admin-users")
    return _render_users(request, form, status=400)


def _user_or_message(request: HttpRequest, user_id: int) -> User | None:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        messages.error(request, "That user no longer exists.")
    return user


@login_required
@require_POST
def set_user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    """POST `/admin/users/<id>/active/` with `active=1|0`: (de)activate a user."""
    require_system_admin(request)
    user = _user_or_message(request, user_id)
    if user is not None:
        active = request.POST.get("active") == "1"
        try:
            user_services.set_user_active(request.user, user, active)  # type: ignore[arg-type]
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{user.get_username()} is {'active' if active else 'deactivated'}.")
    return redirect("ui:admin-users")


@login_required
@require_POST
def set_user_admin(request: HttpRequest, user_id: int) -> HttpResponse:
    """POST `/admin/users/<id>/admin/` with `admin=1|0`: make or unmake a system administrator."""
    require_system_admin(request)
    user = _user_or_message(request, user_id)
    if user is not None:
        admin = request.POST.get("admin") == "1"
        try:
            user_services.set_user_admin(request.user, user, admin)  # type: ignore[arg-type]
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            verb = "is now" if admin else "is no longer"
            messages.success(request, f"{user.get_username()} {verb} a system administrator.")
    return redirect("ui:admin-users")


@sensitive_post_parameters("password")
@login_required
def reset_password(request: HttpRequest, user_id: int) -> HttpResponse:
    """`/admin/users/<id>/password/`: set a new password for a user."""
    require_system_admin(request)
    user = _user_or_message(request, user_id)
    if user is None:
        return redirect("ui:admin-users")
    form = ResetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_services.reset_password(user, form.cleaned_data["password"])
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"The password of {user.get_username()} has been reset.")
            return redirect("ui:admin-users")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "registry_ui/admin_reset_password.html",
        {"target": user, "form": form, "section": "users"},
        status=status,
    )


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """`/admin/projects/`: every project with its visibility, and a form to create one."""
    require_system_admin(request)
    return _render_projects(request, CreateProjectForm())


def _render_projects(request: HttpRequest, form: CreateProjectForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "registry_ui/admin_projects.html",
        {
            "projects": with_project_usage(project_summaries(principal_of(request))),
            "form": form,
            "section": "projects",
        },
        status=status,
    )


@sensitive_post_parameters("proxy_password")
@login_required
@require_POST
def create_project(request: HttpRequest) -> HttpResponse:
    """POST `/admin/projects/create/`."""
    require_system_admin(request)
    form = CreateProjectForm(request.POST)
    if form.is_valid():
        try:
            project = project_services.create_project(**form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Project {project.name} created.")
            return redirect("ui:admin-projects")
    return _render_projects(request, form, status=400)


@login_required
@require_POST
def set_project_public(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/admin/projects/<name>/public/` with `public=1|0`."""
    require_system_admin(request)
    project = Project.objects.filter(name=project_name).first()
    if project is None:
        messages.error(request, f"Project {project_name} no longer exists.")
    else:
        public = request.POST.get("public") == "1"
        project_services.set_project_public(project, public)
        messages.success(request, f"Project {project.name} is now {'public' if public else 'private'}.")
    return redirect("ui:admin-projects")


@login_required
@require_POST
def set_project_quota(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/admin/projects/<name>/quota/` with `quota` ("10 GiB", bytes, or empty for none)."""
    require_system_admin(request)
    project = Project.objects.filter(name=project_name).first()
    form = QuotaForm(request.POST)
    if project is None:
        messages.error(request, f"Project {project_name} no longer exists.")
    elif not form.is_valid():
        messages.error(
            request, f"Quota of {project.name}: {' '.join(str(message) for message in form.errors['quota'])}"
        )
    else:
        try:
            project_services.set_project_quota(project, form.cleaned_data["quota"])
        except ValidationError as error:
            messages.error(request, f"Quota of {project.name}: {' '.join(error.messages)}")
        else:
            quota = project.quota_bytes
            limit = f"limited to {binary_size(quota)}" if quota is not None else "unlimited"
            messages.success(request, f"Project {project.name} is now {limit}.")
    return redirect("ui:admin-projects")


@login_required
@require_POST
def delete_project(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/admin/projects/<name>/delete/`: only an empty project can go."""
    require_system_admin(request)
    project = Project.objects.filter(name=project_name).first()
    if project is None:
        messages.error(request, f"Project {project_name} was already deleted.")
    else:
        try:
            project_services.delete_empty_project(project)
        except project_services.ProjectNotEmpty as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Project {project_name} deleted.")
    return redirect("ui:admin-projects")


@login_required
def storage(request: HttpRequest) -> HttpResponse:
    """`/admin/storage/`: disk used per project (a shared layer counted once) as a bar chart."""
    require_system_admin(request)
    overview = storage_overview(with_project_usage(project_summaries(principal_of(request))))
    return render(request, "registry_ui/admin_storage.html", {"overview": overview, "section": "storage"})


@sensitive_post_parameters("proxy_password")
@login_required
@require_POST
def set_proxy_binding(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/admin/projects/<name>/upstream/`: a proxy-cache project's upstream and account."""
    require_system_admin(request)
    project = Project.objects.filter(name=project_name).first()
    if project is None:
        messages.error(request, f"Project {project_name} no longer exists.")
        return redirect("ui:admin-projects")
    form = ProxyBindingForm(request.POST)
    if form.is_valid():
        try:
            project_services.set_proxy_binding(
                project, form.cleaned_data["proxy_url"], form.cleaned_data["proxy_username"], form.new_password()
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Project {project.name} now proxies {project.proxy_url}.")
            return redirect("ui:project-detail", project.name)
    for errors in form.errors.values():
        messages.error(request, f"Upstream of {project.name}: {' '.join(str(message) for message in errors)}")
    return redirect("ui:project-detail", project.name)
