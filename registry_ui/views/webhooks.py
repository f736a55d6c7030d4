"""A project's Webhooks tab: its webhooks, each with its delivery log, for project admins and
system administrators only (a webhook's URL may name an internal system). Every change goes
through webhooks/services/webhooks.py, as the API's do."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Project
from registry_ui.forms import apply_errors
from registry_ui.integration_forms import WebhookChangeForm, WebhookForm
from registry_ui.views.access import get_project_for_user, principal_of
from registry_ui.views.projects import project_tabs
from webhooks.models import Webhook
from webhooks.services.webhooks import (
    create_webhook,
    delete_webhook,
    send_again,
    send_test,
    update_webhook,
)

LOG_LENGTH = 50


def _managed_project(request: HttpRequest, project_name: str) -> tuple[Project, dict[str, bool]]:
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_manage"]:
        raise Http404("Only project admins see a project's webhooks.")
    return project, tabs


def _webhook(project: Project, webhook_id: int) -> Webhook:
    webhook = project.webhooks.select_related("project").filter(pk=webhook_id).first()
    if webhook is None:
        raise Http404("This project has no such webhook.")
    return webhook


def _render_list(
    request: HttpRequest, project: Project, tabs: dict[str, bool], form: WebhookForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "registry_ui/project_webhooks.html",
        {
            "project": project,
            "tab": "webhooks",
            "webhooks": list(project.webhooks.order_by("id")),
            "form": form,
            **tabs,
        },
        status=status,
    )


@login_required
def webhooks(request: HttpRequest, project_name: str) -> HttpResponse:
    """`/projects/<name>/webhooks/`."""
    project, tabs = _managed_project(request, project_name)
    return _render_list(request, project, tabs, WebhookForm())


@login_required
@require_POST
def add_webhook(request: HttpRequest, project_name: str) -> HttpResponse:
    """POST `/projects/<name>/webhooks/add/`."""
    project, tabs = _managed_project(request, project_name)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            webhook = create_webhook(project, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Webhook added: {webhook.url} gets {', '.join(webhook.events)} events.")
            return redirect("ui:project-webhook", project_name=project.name, webhook_id=webhook.pk)
    return _render_list(request, project, tabs, form, status=400)


def _render_detail(
    request: HttpRequest,
    project: Project,
    tabs: dict[str, bool],
    webhook: Webhook,
    form: WebhookChangeForm,
    status: int = 200,
) -> HttpResponse:
    deliveries = list(webhook.deliveries.order_by("-created_at", "-id")[:LOG_LENGTH])
    return render(
        request,
        "registry_ui/project_webhook.html",
        {
            "project": project,
            "tab": "webhooks",
            "webhook": webhook,
            "deliveries": deliveries,
            # A project admin chooses the URL: the answers of what it reaches are not theirs to read.
            "show_answers": principal_of(request).is_system_admin,
            "form": form,
            **tabs,
        },
        status=status,
    )


@login_required
def webhook_detail(request: HttpRequest, project_name: str, webhook_id: int) -> HttpResponse:
    """`/projects/<name>/webhooks/<id>/`: the webhook, its form and its delivery log."""
    project, tabs = _managed_project(request, project_name)
    webhook = _webhook(project, webhook_id)
    form = WebhookChangeForm(initial={"url": webhook.url, "events": webhook.events, "format": webhook.format})
    return _render_detail(request, project, tabs, webhook, form)


@login_required
@require_POST
def change_webhook(request: HttpRequest, project_name: str, webhook_id: int) -> HttpResponse:
    """POST `/projects/<name>/webhooks/<id>/change/`."""
    project, tabs = _managed_project(request, project_name)
    webhook = _webhook(project, webhook_id)
    form = WebhookChangeForm(request.POST)
    if form.is_valid():
        try:
            update_webhook(webhook, **form.service_arguments())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("ui:project-webhook", project_name=project.name, webhook_id=webhook.pk)
    return _render_detail(request, project, tabs, _webhook(project, webhook_id), form, status=400)


@login_required
@require_POST
def pause_webhook(request: HttpRequest, project_name: str, webhook_id: int) -> HttpResponse:
    """POST `/projects/<name>/webhooks/<id>/pause/`, or with `resume` set, resume it."""
    project, _ = _managed_project(request, project_name)
    resume = bool(request.POST.get("resume"))
    update_webhook(_webhook(project, webhook_id), enabled=resume)
    messages.success(
        request, "Webhook resumed: what waited is being sent." if resume else "Webhook paused: events wait for it."
    )
    return redirect("ui:project-webhook", project_name=project.name, webhook_id=webhook_id)


@login_required
@require_POST
def test_webhook(request: HttpRequest, project_name: str, webhook_id: int) -> HttpResponse:
    """POST `/projects/<name>/webhooks/<id>/test/`."""
    project, _ = _managed_project(request, project_name)
    send_test(_webhook(project, webhook_id), actor=request.user.get_username())
    messages.success(request, "Test event queued: its delivery shows below in a moment (reload).")
    return redirect("ui:project-webhook", project_name=project.name, webhook_id=webhook_id)


@login_required
@require_POST
def resend_delivery(request: HttpRequest, project_name: str, webhook_id: int, delivery_id: int) -> HttpResponse:
    """POST `/projects/<name>/webhooks/<id>/deliveries/<delivery>/resend/`."""
    project, _ = _managed_project(request, project_name)
    delivery = _webhook(project, webhook_id).deliveries.filter(pk=delivery_id).first()
    if delivery is None:
        messages.error(request, "That delivery is no longer in the log.")
    else:
        send_again(delivery)
        messages.success(request, "Sending it again.")
    return redirect("ui:project-webhook", project_name=project.name, webhook_id=webhook_id)


@login_required
@require_POST
def remove_webhook(request: HttpRequest, project_name: str, webhook_id: int) -> HttpResponse:
    """POST `/projects/<name>/webhooks/<id>/remove/`."""
    project, _ = _managed_project(request, project_name)
    delete_webhook(_webhook(project, webhook_id))
    messages.success(request, "Webhook removed, with its delivery log.")
    return redirect("ui:project-webhooks", project_name=project.name)
