"""The Logs pages: the whole audit log for system administrators, a project's for its admins.

Filters, pages and exports are audit/queries.py's, the same as the API's
(`/api/v1/audit-logs/`), so the page and the API always show the same events.
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render

from audit import queries
from registry_ui.forms import AuditFilterForm
from registry_ui.views.access import get_project_for_user, require_system_admin
from registry_ui.views.projects import project_tabs

EXPORTS = {"csv": ("text/csv; charset=utf-8", queries.export_csv), "json": ("application/json", queries.export_json)}


@login_required
def audit_log(request: HttpRequest) -> HttpResponseBase:
    """`/admin/logs/`: every event."""
    require_system_admin(request)
    return _logs(request, None, {"section": "logs"})


@login_required
def project_audit_log(request: HttpRequest, project_name: str) -> HttpResponseBase:
    """`/projects/<name>/logs/`: the project's events, for its admins (404 for anyone else)."""
    project = get_project_for_user(request, project_name)
    tabs = project_tabs(request, project)
    if not tabs["can_manage"]:
        raise Http404("Only project admins see its logs.")
    return _logs(request, project.name, {"project": project, "tab": "logs", **tabs})


def _logs(request: HttpRequest, project: str | None, context: dict[str, object]) -> HttpResponseBase:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    try:
        events = queries.EventFilter.from_query(request.GET).apply(queries.events_of(project))
        export = request.GET.get("export", "")
        if export in EXPORTS:
            content_type, write = EXPORTS[export]
            response = StreamingHttpResponse(write(events), content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="audit-log-{project or "registry"}.{export}"'
            return response
        page = queries.page(events, request.GET.get("after", ""))
    except queries.InvalidFilter as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return render(request, "registry_ui/audit_log.html", {**context, "form": form, "events": []}, status=400)
    filters = {key: value for key, value in request.GET.items() if key in form.fields and value}
    return render(
        request,
        "registry_ui/audit_log.html",
        {
            **context,
            "form": form,
            "events": page.events,
            "next_query": urlencode({**filters, "after": page.next_cursor}) if page.next_cursor else "",
            "export_query": urlencode(filters),
            "is_first_page": not request.GET.get("after"),
        },
    )
