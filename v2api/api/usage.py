"""Space accounting through the management API: what a repository or project holds on disk, and
what a deletion would remove and free before anyone starts it (v2api/services/usage.py and
plan_deletion). Serializers sit next to their views: the module is one resource."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, ManagementView, ProjectScopedView
from accounts.scopes import DELETE
from v2api.api.jobs import DeletionTargetSerializer
from v2api.api.repositories import REPOSITORY_NOT_FOUND, visible_repository
from v2api.errors import NameUnknown
from v2api.models import ProjectUsageSnapshot
from v2api.services.deletion import plan_deletion
from v2api.services.job_requests import DeletionRequest
from v2api.services.recycle_bin import recycled_bytes
from v2api.services.usage import Usage, project_usage, repository_usage
from v2api.services.usage_history import HISTORY_DAYS, usage_history

REPOSITORY_NAME = OpenApiParameter(
    "repository_name",
    str,
    OpenApiParameter.PATH,
    description="The repository's full name, slashes included and not encoded: `team/app`.",
)


class UsageSerializer(serializers.Serializer[Usage]):
    """Bytes on disk; a blob counts once however many images or repositories use it."""

    total_bytes = serializers.IntegerField(help_text="Every blob its manifests reference, each once.")
    shared_bytes = serializers.IntegerField(help_text="The part that something outside it also references.")
    freeable_bytes = serializers.IntegerField(
        help_text="What deleting all of it and collecting garbage frees: total minus shared."
    )


class RepositoryUsageSerializer(UsageSerializer):
    repository = serializers.CharField()


class ProjectUsageSerializer(UsageSerializer):
    project = serializers.CharField()
    recycled_bytes = serializers.IntegerField(
        help_text="Bytes only deletions in the project's recycle bin keep, not in `total_bytes` nor the quota: "
        "freed by the first garbage collection after their windows end (the Usage tab's figure)."
    )


class UsageSnapshotSerializer(serializers.ModelSerializer[ProjectUsageSnapshot]):
    """What the project held on one day, as the daily `record_usage_snapshots` task recorded it."""

    class Meta:
        model = ProjectUsageSnapshot
        fields = ["date", "total_bytes", "repository_count", "tag_count"]


class UsageHistorySerializer(serializers.Serializer[dict[str, Any]]):
    project = serializers.CharField()
    quota_bytes = serializers.IntegerField(allow_null=True, help_text="Null: no quota.")
    days = serializers.IntegerField(help_text="The window asked for, ending today.")
    snapshots = UsageSnapshotSerializer(many=True, help_text="Oldest first; a day without a snapshot is absent.")


class ImmutableTagWarningSerializer(serializers.Serializer[dict[str, Any]]):
    tag = serializers.CharField()
    rule = serializers.IntegerField(help_text="The immutability rule's id.")
    message = serializers.CharField()


class DeletionPlanSerializer(serializers.Serializer[dict[str, Any]]):
    """What a deletion would remove, and the bytes the next garbage collection then frees."""

    repository = serializers.CharField()
    tags_deleted = serializers.IntegerField()
    manifests_deleted = serializers.IntegerField()
    bytes_to_free = serializers.IntegerField(help_text="Blobs only the deleted manifests reference.")
    tags = serializers.ListField(child=serializers.CharField())
    manifests = serializers.ListField(child=serializers.CharField(), help_text="Manifest digests.")
    restorable_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Until when the deletion stays in the project's recycle bin, restorable; the collection "
        "after it frees `bytes_to_free`. Null: the project keeps no bin, the next collection frees them.",
    )
    immutable_tags = ImmutableTagWarningSerializer(
        many=True,
        help_text="Tags of the plan that an immutability rule protects: a deletion job of this plan fails "
        "and deletes nothing until they are left out or the rule is removed.",
    )


def usage_data(usage: Usage, **name: str) -> dict[str, Any]:
    return {
        **name,
        "total_bytes": usage.total_bytes,
        "shared_bytes": usage.shared_bytes,
        "freeable_bytes": usage.freeable_bytes,
    }


class RepositoryUsageView(ManagementView):
    """`GET /api/v1/repositories/<name>/usage/`: for anyone who may pull the repository."""

    # Anyone, even anonymous, may pull from a public project, so may see what it holds.
    permission_classes = [AllowAny]
    serializer_class = RepositoryUsageSerializer

    @extend_schema(parameters=[REPOSITORY_NAME])
    def get(self, request: Request, repository_name: str) -> Response:
        repository, _ = visible_repository(self.principal, repository_name)
        return Response(usage_data(repository_usage(repository.name), repository=repository.name))


class ProjectUsageView(ProjectScopedView):
    """`GET /api/v1/projects/<name>/usage/`: for anyone who may pull from the project."""

    permission_classes = [AllowAny]
    serializer_class = ProjectUsageSerializer

    @extend_schema(parameters=[PROJECT_NAME])
    def get(self, request: Request, project_name: str) -> Response:
        data = usage_data(project_usage(self.project.name), project=self.project.name)
        return Response({**data, "recycled_bytes": recycled_bytes(self.project)})


HISTORY_DAYS_PARAMETER = OpenApiParameter(
    "days", int, OpenApiParameter.QUERY, description=f"How many days back, today included (1-366; {HISTORY_DAYS})."
)


class ProjectUsageHistoryView(ProjectScopedView):
    """`GET /api/v1/projects/<name>/usage/history/`: daily snapshots, for anyone who may pull from the project."""

    permission_classes = [AllowAny]
    serializer_class = UsageHistorySerializer

    @extend_schema(parameters=[PROJECT_NAME, HISTORY_DAYS_PARAMETER])
    def get(self, request: Request, project_name: str) -> Response:
        try:
            days = int(request.query_params.get("days", HISTORY_DAYS))
        except ValueError:
            days = 0
        if not 1 <= days <= 366:
            raise serializers.ValidationError({"days": "A whole number of days from 1 to 366."})
        snapshots = usage_history(self.project, days)
        return Response(
            {
                "project": self.project.name,
                "quota_bytes": self.project.quota_bytes,
                "days": days,
                "snapshots": UsageSnapshotSerializer(snapshots, many=True).data,
            }
        )


class DeletionPlanView(ManagementView):
    """`POST /api/v1/repositories/<name>/deletion-plan/`: what deleting would remove and free,
    for those with the delete action. Nothing is deleted: start a `deletion` job for that."""

    serializer_class = DeletionTargetSerializer

    @extend_schema(
        parameters=[REPOSITORY_NAME],
        request=DeletionTargetSerializer,
        responses={
            200: DeletionPlanSerializer,
            403: OpenApiResponse(description="The caller may pull the repository but not delete in it."),
            404: OpenApiResponse(description="There is no such repository, or the caller may not see it."),
        },
    )
    def post(self, request: Request, repository_name: str) -> Response:
        repository, actions = visible_repository(self.principal, repository_name)
        if DELETE not in actions:
            self.deny(f"You may not delete in {repository.name}.")
        serializer = DeletionTargetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deletion = DeletionRequest.from_parameters({**serializer.validated_data, "repository": repository.name})
        try:
            plan = plan_deletion(
                deletion.repository,
                tags=deletion.tags,
                digests=deletion.digests,
                whole_repository=deletion.whole_repository,
            )
        except NameUnknown:
            # Deleted since visible_repository found it.
            raise NotFound(REPOSITORY_NOT_FOUND.format(repository_name=repository.name)) from None
        return Response(DeletionPlanSerializer(plan.as_dict()).data)
