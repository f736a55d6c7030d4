"""`/api/v1/replication-rules/`: replication rules and their runs, for system administrators.

Rules are saved through v2api/services/replication_rules.py, the dashboard's write path too; a
run is a job (v2api/tasks.py's request_job), listed here and on the Jobs page. The remote's
password is write-only: answers say only whether one is set.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import ManagementView
from accounts.api.permissions import SystemAdmin
from accounts.models import Project
from v2api.api.jobs import JobSerializer
from v2api.models import Job, ReplicationRule
from v2api.services.job_requests import ReplicationRequest
from v2api.services.replication_rules import RuleSettings, delete_replication_rule, save_replication_rule, settings_of
from v2api.tasks import JobNotSent, request_job

GLOBS_HELP = "Comma-separated globs, `!` before one excludes; `*` also matches `/`."
RULE_ID = OpenApiParameter("rule_id", int, OpenApiParameter.PATH, description="The rule's id.")


class ReplicationRuleSerializer(serializers.ModelSerializer[ReplicationRule]):
    """What to copy, where to, and when. The rules on the values are the service's."""

    project: serializers.SlugRelatedField[Project] = serializers.SlugRelatedField(
        slug_field="name", queryset=Project.objects.all(), help_text="The local project copied from or into."
    )
    remote_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Sealed at rest and never shown; null removes it, leaving it out keeps it.",
    )
    has_remote_password = serializers.SerializerMethodField()

    class Meta:
        model = ReplicationRule
        fields = [
            "id",
            "name",
            "direction",
            "remote_url",
            "remote_username",
            "remote_password",
            "has_remote_password",
            "project",
            "repositories",
            "tags",
            "remote_namespace",
            "trigger",
            "schedule_seconds",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "name": {"validators": []},
            "direction": {
                "help_text": "push: the project's images to the remote; pull: the remote's into the project."
            },
            "remote_url": {"help_text": "The remote registry, http(s)://host[:port]."},
            "repositories": {
                "help_text": f"Repository paths inside the project (or below remote_namespace). {GLOBS_HELP}"
            },
            "tags": {"help_text": f"The tags copied. {GLOBS_HELP}"},
            "remote_namespace": {
                "help_text": "The path on the remote the repositories live under: a push writes "
                "`<remote_namespace>/<path>`, a pull reads it. Blank: the remote's top level."
            },
            "trigger": {"help_text": "manual, schedule (every schedule_seconds) or on_push (push rules only)."},
        }

    def get_has_remote_password(self, rule: ReplicationRule) -> bool:
        return bool(rule.remote_password_sealed)

    def _save(self, rule: ReplicationRule | None, validated_data: dict[str, Any]) -> ReplicationRule:
        if rule is None:
            wanted = RuleSettings(
                name=validated_data.get("name", ""),
                direction=validated_data.get("direction", ""),
                remote_url=validated_data.get("remote_url", ""),
                project=validated_data["project"],
            )
        else:
            wanted = settings_of(rule)
            wanted.remote_password = ""
        for name, value in validated_data.items():
            setattr(wanted, name, value)
        try:
            return save_replication_rule(rule, wanted)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None

    def create(self, validated_data: dict[str, Any]) -> ReplicationRule:
        return self._save(None, validated_data)

    def update(self, instance: ReplicationRule, validated_data: dict[str, Any]) -> ReplicationRule:
        return self._save(instance, validated_data)


class RunRequestSerializer(serializers.Serializer[Any]):
    dry_run = serializers.BooleanField(default=False, help_text="List what would be copied, and copy nothing.")
    retry_failed_of = serializers.IntegerField(
        required=False, help_text="A run of this rule: copy again only the images it failed to copy."
    )


def rule_runs(rule: ReplicationRule) -> QuerySet[Job]:
    return Job.objects.filter(kind=Job.Kind.REPLICATION, parameters__rule=rule.id).order_by("-created_at", "-id")


class ReplicationRulesView(ManagementView):
    """`/api/v1/replication-rules/`: list the rules, or add one."""

    permission_classes = [SystemAdmin]
    serializer_class = ReplicationRuleSerializer

    @extend_schema(operation_id="replication_rules_list", responses={200: ReplicationRuleSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """`GET /api/v1/replication-rules/`: every rule, by name."""
        rules = ReplicationRule.objects.select_related("project").order_by("name")
        return Response(self.get_serializer(rules, many=True).data)

    def post(self, request: Request) -> Response:
        """`POST /api/v1/replication-rules/`: add a rule."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class RuleView(ManagementView):
    permission_classes = [SystemAdmin]
    serializer_class = ReplicationRuleSerializer

    def rule(self, rule_id: int) -> ReplicationRule:
        rule = ReplicationRule.objects.select_related("project").filter(id=rule_id).first()
        if rule is None:
            raise NotFound(f"There is no replication rule {rule_id}.")
        return rule


class ReplicationRuleView(RuleView):
    """`/api/v1/replication-rules/<id>/`: one rule."""

    @extend_schema(parameters=[RULE_ID])
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(self.get_serializer(self.rule(rule_id)).data)

    @extend_schema(parameters=[RULE_ID])
    def patch(self, request: Request, rule_id: int) -> Response:
        """Change some of the rule's settings; a password left out stays."""
        serializer = self.get_serializer(self.rule(rule_id), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(parameters=[RULE_ID], responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        """Delete the rule; its runs stay in the job history."""
        delete_replication_rule(self.rule(rule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReplicationRunsView(RuleView):
    """`/api/v1/replication-rules/<id>/runs/`: the rule's runs (jobs), newest first, or start one."""

    @extend_schema(parameters=[RULE_ID], responses={200: JobSerializer(many=True)})
    def get(self, request: Request, rule_id: int) -> Response:
        runs = rule_runs(self.rule(rule_id)).select_related("requested_by")[:100]
        return Response(JobSerializer(runs, many=True).data)

    @extend_schema(
        parameters=[RULE_ID],
        request=RunRequestSerializer,
        responses={
            202: OpenApiResponse(JobSerializer, description="Recorded; a worker runs it. `Location` is the job."),
            503: OpenApiResponse(JobSerializer, description="Recorded, but the job queue is down; sent again later."),
        },
    )
    def post(self, request: Request, rule_id: int) -> Response:
        """Run the rule now (or a dry run), or retry the images a run of it failed to copy."""
        rule = self.rule(rule_id)
        asked = RunRequestSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        only = None
        if "retry_failed_of" in asked.validated_data:
            earlier = rule_runs(rule).filter(id=asked.validated_data["retry_failed_of"], dry_run=False).first()
            if earlier is None:
                raise serializers.ValidationError({"retry_failed_of": ["Not a run of this rule."]})
            only = tuple(failure["key"] for failure in earlier.result.get("failed", []))
            if not only:
                raise serializers.ValidationError({"retry_failed_of": [f"Run {earlier.id} failed to copy nothing."]})
        job_request = ReplicationRequest(rule.id, only)
        try:
            job = request_job(job_request, dry_run=asked.validated_data["dry_run"], requested_by=self.principal.user)
        except JobNotSent as unsent:
            return Response(
                {**JobSerializer(unsent.job).data, "detail": str(unsent)},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(settings.REGISTRY_JOB_RESEND_SECONDS)},
            )
        location = request.build_absolute_uri(reverse("api:job-detail", kwargs={"job_id": job.id}))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
