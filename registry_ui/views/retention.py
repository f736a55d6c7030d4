"""A project's retention tab: the policy and its rules, a simulation of what they remove, and
running them now. For project admins and system administrators; anyone else gets 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from registry_ui.forms import RetentionPolicyForm, RetentionRuleForm, apply_errors
from registry_ui.views.access import get_project_for_user
from registry_ui.views.projects import project_tabs
from v2api.models import RetentionPolicy
from v2api.services.job_requests import RetentionRequest
from v2api.services.retention import plan_retention
from v2api.services.retention_settings import add_retention_rule, remove_retention_rule, update_retention_policy
from v2api.tasks import JobNotSent, request_job


def _managed_project(request: HttpRequest, project_name: str) -> tuple[Project, dict[str, bool]]:
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_manage"]:
        raise Http404("Only project admins see its retention rules.")
    return project, tabs


@login_required
def retention(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/retention/`: the policy and rules; `?simulate=1` adds what a run would remove."""
    project, tabs = _managed_project(request, project_name)
    policy = RetentionPolicy.objects.filter(project=project).first()
    policy_form = RetentionPolicyForm(
        initial={
            "enabled": policy.enabled,
            "delete_untagged": policy.delete_untagged,
            "always_keep_tags": policy.always_keep_tags,
        }
        if policy
        else None
    )
    simulation = plan_retention(project.name) if request.GET.get("simulate") else None
    return _render(request, project, tabs, policy, policy_form, RetentionRuleForm(), simulation)


def _render(
    request: HttpRequest,
    project: Project,
    tabs: dict[str, bool],
    policy: RetentionPolicy | None,
    policy_form: RetentionPolicyForm,
    rule_form: RetentionRuleForm,
    simulation: object = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "registry_ui/project_retention.html",
        {
            "project": project,
            "tab": "retention",
            "rules": list(policy.rules.order_by("id")) if policy else [],
            "policy_form": policy_form,
            "rule_form": rule_form,
            "simulation": simulation,
            **tabs,
        },
        status=status,
    )


@login_required
@require_POST
def save_policy(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/retention/policy/`."""
    project, tabs = _managed_project(request, project_name)
    form = RetentionPolicyForm(request.POST)
    if form.is_valid():
        update_retention_policy(project, **form.cleaned_data)
        messages.success(request, "Retention policy saved.")
        return redirect("ui:project-retention", project_name=project.name)
    policy = RetentionPolicy.objects.filter(project=project).first()
    return _render(request, project, tabs, policy, form, RetentionRuleForm(), status=400)


@login_required
@require_POST
def add_rule(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/retention/rules/add/`."""
    project, tabs = _managed_project(request, project_name)
    form = RetentionRuleForm(request.POST)
    if form.is_valid():
        try:
            add_retention_rule(project, **form.rule_values())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Rule added. Simulate to see what it would remove.")
            return redirect("ui:project-retention", project_name=project.name)
    policy = RetentionPolicy.objects.filter(project=project).first()
    return _render(request, project, tabs, policy, RetentionPolicyForm(), form, status=400)


@login_required
@require_POST
def remove_rule(request: HttpRequest, project_name: str, rule_id: int) -> HttpResponse:
    """POST `/projects/<name>/retention/rules/<id>/remove/`."""
    project, _ = _managed_project(request, project_name)
    if remove_retention_rule(project, rule_id):
        messages.success(request, "Rule removed.")
    else:
        messages.error(request, "That rule was already removed.")
    return redirect("ui:project-retention", project_name=project.name)


@login_required
@require_POST
def run_retention(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/retention/run/`: apply the rules now, as a retention job."""
    project, _ = _managed_project(request, project_name)
    try:
        job = request_job(RetentionRequest(project.name), requested_by=request.user)  # type: ignore[arg-type]
    except JobNotSent as unsent:
        # Kept pending: beat sends it once the queue is back; the job page shows it waiting.
        messages.warning(request, str(unsent))
        return redirect("ui:job-detail", job_id=unsent.job.pk)
    messages.success(request, f"Retention requested as job #{job.pk}.")
    return redirect("ui:job-detail", job_id=job.pk)
