"""`/api/v1/audit-logs/` (system administrators) and `/api/v1/projects/<name>/audit-logs/`
(the project's admins and system administrators): the audit log, filtered, in keyset pages, or
exported whole as CSV or JSON (`?export=csv|json`, streamed).

The filter, the page and the exports are audit/queries.py's, the ones the Logs page uses.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, ManagementView, ProjectScopedView
from accounts.api.permissions import SystemAdmin
from audit import queries
from audit.models import ActorKind, AuditEvent, Outcome

EXPORTS = {"csv": ("text/csv; charset=utf-8", queries.export_csv), "json": ("application/json", queries.export_json)}

FILTER_PARAMETERS = [
    OpenApiParameter("user", str, description="The actor's name, exactly (a user, or `robot$<project>+<name>`)."),
    OpenApiParameter("action", str, description="An action (`manifest.push`), or every action under `tag.`, `user.`…"),
    OpenApiParameter("resource", str, description="A part of the resource's name (`team/app`)."),
    OpenApiParameter("since", str, description="From this time on (ISO 8601, or a date: its midnight, UTC)."),
    OpenApiParameter("until", str, description="Before this time."),
    OpenApiParameter("after", str, description="The cursor of the `next` link."),
    OpenApiParameter("limit", int, description=f"Events per page, at most {queries.MAX_PAGE_SIZE}."),
    OpenApiParameter("export", str, enum=list(EXPORTS), description="Every matching event as one CSV or JSON file."),
]


class AuditEventSerializer(serializers.Serializer[Any]):
    """One event as audit/queries.py `as_dict` writes it (for the schema: the view writes the dict)."""

    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    actor_kind = serializers.ChoiceField(choices=ActorKind.choices)
    actor_name = serializers.CharField(help_text="Empty for anonymous callers and the system.")
    client_address = serializers.CharField()
    user_agent = serializers.CharField()
    action = serializers.CharField(help_text="`manifest.push`, `manifest.pull`, `tag.delete`, `login.failed`…")
    project = serializers.CharField(help_text="Empty for registry-wide events (users, logins, GC).")
    resource = serializers.CharField(help_text="`team/app:1.0`, `team/app@sha256:…`, a username…")
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    detail = serializers.DictField(help_text="What else the action says: digests, roles, counts, `via` a job.")


class AuditLogPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, with the same filters.")
    results = AuditEventSerializer(many=True)


class AuditLogView(ManagementView):
    """`GET /api/v1/audit-logs/`: every event, newest first."""

    permission_classes = [SystemAdmin]
    serializer_class = AuditLogPageSerializer

    def project_name(self) -> str | None:
        return None

    @extend_schema(parameters=FILTER_PARAMETERS)
    def get(self, request: Request, **kwargs: str) -> Response | StreamingHttpResponse:
        query = request.query_params
        try:
            events = queries.EventFilter.from_query(query).apply(queries.events_of(self.project_name()))
            export = query.get("export", "")
            if export:
                return self._export(events, export)
            page = queries.page(events, query.get("after", ""), self._limit(query.get("limit", "")))
        except queries.InvalidFilter as error:
            raise ValidationError({error.field: [error.message]}) from None
        next_url = None
        if page.next_cursor is not None:
            following = {key: value for key, value in query.items() if key != "after"}
            next_url = request.build_absolute_uri(
                request.path + "?" + urlencode({**following, "after": page.next_cursor})
            )
        return Response({"next": next_url, "results": [queries.as_dict(event) for event in page.events]})

    def _limit(self, text: str) -> int | None:
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            raise queries.InvalidFilter("limit", f"limit: a whole number from 1 to {queries.MAX_PAGE_SIZE}.")
        return int(text)

    def _export(self, events: QuerySet[AuditEvent], export: str) -> StreamingHttpResponse:
        if export not in EXPORTS:
            raise queries.InvalidFilter("export", f"export: one of {', '.join(EXPORTS)}.")
        content_type, write = EXPORTS[export]
        lines: Iterator[str] = write(events)
        response = StreamingHttpResponse(lines, content_type=content_type)
        scope = self.project_name() or "registry"
        response["Content-Disposition"] = f'attachment; filename="audit-log-{scope}.{export}"'
        return response


class ProjectAuditLogView(ProjectScopedView, AuditLogView):
    """`GET /api/v1/projects/<name>/audit-logs/`: the project's events, for its admins."""

    permission_classes = ProjectScopedView.permission_classes

    def project_name(self) -> str | None:
        return self.project.name

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        self.require_manager()

    @extend_schema(parameters=[PROJECT_NAME, *FILTER_PARAMETERS])
    def get(self, request: Request, **kwargs: str) -> Response | StreamingHttpResponse:
        return super().get(request, **kwargs)
