"""The Replication page (system administrators): the rules with their last run, a form to add
one, each rule's page to edit it and read its runs, and starting a run or a dry run. Rules are
saved through v2api/services/replication_rules.py, as the API saves them; runs are jobs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from registry_ui.forms import apply_errors
from registry_ui.integration_forms import ReplicationRuleForm
from registry_ui.views.access import require_system_admin
from v2api.models import Job, ReplicationRule
from v2api.services import replication_rules
from v2api.services.job_requests import ReplicationRequest
from v2api.services.replication_rules import RuleSettings, save_replication_rule, settings_of
from v2api.tasks import JobNotSent, request_job

RUNS_SHOWN = 20


def _form(data: QueryDict | None = None, initial: dict[str, object] | None = None) -> ReplicationRuleForm:
    names = list(Project.objects.order_by("name").values_list("name", flat=True))
    return ReplicationRuleForm(data, initial=initial, project_names=names)


def _runs(rule: ReplicationRule) -> list[Job]:
    jobs = Job.objects.filter(kind=Job.Kind.REPLICATION, parameters__rule=rule.id).select_related("requested_by")
    return list(jobs.order_by("-id")[:RUNS_SHOWN])


def _rule(rule_id: int) -> ReplicationRule:
    rule = ReplicationRule.objects.select_related("project").filter(id=rule_id).first()
    if rule is None:
        raise Http404("There is no such replication rule.")
    return rule


def _render_list(request: HttpRequest, form: ReplicationRuleForm, status: int = 200) -> HttpResponse:
    rules = list(ReplicationRule.objects.select_related("project").order_by("name"))
    return render(
        request,
        "registry_ui/replication.html",
        {"rows": [(rule, next(iter(_runs(rule)), None)) for rule in rules], "form": form},
        status=status,
    )


def _save(rule: ReplicationRule | None, form: ReplicationRuleForm) -> ReplicationRule | None:
    """The rule saved from a valid form, or None with the service's errors put on the form."""
    if not form.is_valid():
        return None
    values = dict(form.cleaned_data)
    values["project"] = Project.objects.get(name=values["project"])
    if values.pop("remove_password"):
        values["remote_password"] = None
    try:
        return save_replication_rule(rule, RuleSettings(**values))
    except ValidationError as error:
        apply_errors(form, error)
        return None


@login_required
def replication(request: HttpRequest) -> HttpResponse:
    """`/admin/replication/`: the rules and their last runs; POST adds a rule."""
    require_system_admin(request)
    if request.method != "POST":
        return _render_list(request, _form())
    form = _form(request.POST)
    rule = _save(None, form)
    if rule is None:
        return _render_list(request, form, status=400)
    messages.success(request, f"Replication rule {rule.name} saved. A dry run shows what it would copy.")
    return redirect("ui:replication-rule", rule_id=rule.id)


@login_required
def replication_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    """`/admin/replication/<id>/`: edit the rule (a blank password keeps the saved one), read its runs."""
    require_system_admin(request)
    rule = _rule(rule_id)
    if request.method == "POST":
        form = _form(request.POST)
        if _save(rule, form) is not None:
            messages.success(request, f"Replication rule {rule.name} saved.")
            return redirect("ui:replication-rule", rule_id=rule.id)
        status = 400
    else:
        current = settings_of(rule)
        form = _form(initial={**current.__dict__, "project": rule.project.name, "remote_password": ""})
        status = 200
    return render(
        request, "registry_ui/replication_rule.html", {"rule": rule, "form": form, "runs": _runs(rule)}, status=status
    )


@login_required
@require_POST
def run_replication(request: HttpRequest, rule_id: int) -> HttpResponse:
    """POST `/admin/replication/<id>/run/`: a run or (`dry_run`) a listing of what it would copy."""
    require_system_admin(request)
    rule = _rule(rule_id)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        job = request_job(ReplicationRequest(rule.id), dry_run=dry_run, requested_by=request.user)  # type: ignore[arg-type]
    except JobNotSent as unsent:
        messages.warning(request, str(unsent))
        return redirect("ui:job-detail", job_id=unsent.job.pk)
    messages.success(request, f"Replication {rule.name}{' (dry run)' if dry_run else ''} requested as job #{job.pk}.")
    return redirect("ui:job-detail", job_id=job.pk)


@login_required
@require_POST
def delete_replication_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    """POST `/admin/replication/<id>/delete/`: the rule goes, its runs stay on the Jobs page."""
    require_system_admin(request)
    rule = _rule(rule_id)
    replication_rules.delete_replication_rule(rule)
    messages.success(request, f"Replication rule {rule.name} deleted; its runs stay on the Jobs page.")
    return redirect("ui:replication")
