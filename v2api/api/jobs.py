"""`/api/v1/jobs/`: background jobs (deletion, garbage collection, upload purge, retention),
started and listed through the management API.

A job is requested through v2api/tasks.py's request_job, the same call the dashboard and
the schedule make; a worker runs it once the request's transaction commits. Serializers sit next
to their views here: the module is one resource, as STYLE.md splits modules by resource.
"""

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import ManagementView, visible_project
from accounts.api.permissions import SignedInUser
from accounts.permissions import can_manage_project
from accounts.scopes import DELETE
from v2api.api.repositories import visible_repository
from v2api.models import Job
from v2api.services.job_requests import (
    DeletionRequest,
    GarbageCollectionRequest,
    JobRequest,
    RetentionRequest,
    UploadPurgeRequest,
    check_deletion_target,
    check_digests,
    check_repository,
    check_tags,
)
from v2api.tasks import JobNotSent, request_job

# --- serializers -----------------------------------------------------------------------------


class JobSerializer(serializers.ModelSerializer[Job]):
    """A job as recorded: what was asked, how far it got, and how it ended."""

    parameters = serializers.DictField(read_only=True, help_text="What the job was asked to do.")
    result = serializers.DictField(
        read_only=True, help_text="Counts and bytes once it succeeded, e.g. `blobs_deleted`, `bytes_freed`."
    )
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Null for scheduled runs."
    )
    from_command_line = serializers.BooleanField(
        read_only=True,
        help_text="Run from a shell (`manage.py collectgarbage`, …) rather than by beat's schedule; "
        "`requested_by` is null for both.",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "state",
            "dry_run",
            "parameters",
            "phase",
            "progress_done",
            "progress_total",
            "result",
            "error",
            "requested_by",
            "from_command_line",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobKindSerializer(serializers.Serializer[Any]):
    """Read first, to know which request the rest of the body is. A replication runs from its
    rule (`/api/v1/replication-rules/<id>/runs/`), which knows the rule exists."""

    kind = serializers.ChoiceField(choices=[kind for kind in Job.Kind.choices if kind[0] != Job.Kind.REPLICATION])


class NewJobSerializer(serializers.Serializer[Any]):
    """What every job request carries; each kind adds its own fields."""

    kind: serializers.ChoiceField
    dry_run = serializers.BooleanField(default=False, help_text="Report what the job would do, and change nothing.")
    # The fields are named as the request type's parameters, so the validated data builds it.
    request_type: ClassVar[type[JobRequest]]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The request type checks what the field types cannot ("at least one of…"); its
        # ValidationError is keyed by field, so DRF reports it as a field error.
        attrs["job_request"] = self.request_type.from_parameters(attrs)
        return attrs


class GarbageCollectionJobSerializer(NewJobSerializer):
    """System administrators only."""

    kind = serializers.ChoiceField(choices=[Job.Kind.GARBAGE_COLLECTION.value])
    grace_seconds = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="Keep anything uploaded, mounted or linked this recently; defaults to the registry's setting.",
    )
    request_type = GarbageCollectionRequest


class PurgeUploadsJobSerializer(NewJobSerializer):
    """System administrators only."""

    kind = serializers.ChoiceField(choices=[Job.Kind.PURGE_UPLOADS.value])
    max_age_seconds = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="Purge uploads untouched for this long; defaults to the registry's setting.",
    )
    request_type = UploadPurgeRequest


class DeletionTargetSerializer(serializers.Serializer[Any]):
    """What to delete in one repository: tags, images by digest (with every tag on them), or all of it."""

    tags = serializers.ListField(
        child=serializers.CharField(max_length=128), default=list, help_text="Tags to delete; their images stay."
    )
    digests = serializers.ListField(
        child=serializers.CharField(max_length=200),
        default=list,
        help_text="Images to delete by manifest digest, with every tag on them, their referrers and the "
        "index children nothing else needs.",
    )
    whole_repository = serializers.BooleanField(default=False, help_text="Delete the repository and all it holds.")

    # The rules are job_requests' (DeletionRequest's); checked field by field too, so one body
    # reports every field's problem, as DRF does for its own field checks.
    def validate_tags(self, value: list[str]) -> list[str]:
        check_tags(value)
        return value

    def validate_digests(self, value: list[str]) -> list[str]:
        check_digests(value)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_deletion_target(attrs["tags"], attrs["digests"], attrs["whole_repository"])
        return attrs


class DeletionJobSerializer(NewJobSerializer, DeletionTargetSerializer):
    """Needs the delete action on the repository."""

    kind = serializers.ChoiceField(choices=[Job.Kind.DELETION.value])
    repository = serializers.CharField(max_length=255, help_text="The repository's full name, e.g. `team/app`.")
    # validate() is NewJobSerializer's: building the DeletionRequest checks the target as the plan's does.
    request_type = DeletionRequest

    def validate_repository(self, value: str) -> str:
        check_repository(value)
        return value


class RetentionJobSerializer(NewJobSerializer):
    """Project admins and system administrators: run the project's retention rules now."""

    kind = serializers.ChoiceField(choices=[Job.Kind.RETENTION.value])
    project = serializers.CharField(max_length=255, help_text="The project whose rules run.")
    request_type = RetentionRequest


REQUEST_SERIALIZERS: dict[str, type[NewJobSerializer]] = {
    Job.Kind.GARBAGE_COLLECTION: GarbageCollectionJobSerializer,
    Job.Kind.DELETION: DeletionJobSerializer,
    Job.Kind.PURGE_UPLOADS: PurgeUploadsJobSerializer,
    Job.Kind.RETENTION: RetentionJobSerializer,
}
# Jobs that act on the whole registry, not on one repository or project.
SYSTEM_KINDS = frozenset({Job.Kind.GARBAGE_COLLECTION, Job.Kind.PURGE_UPLOADS})

NEW_JOB = PolymorphicProxySerializer(
    component_name="NewJob",
    serializers={str(kind): serializer for kind, serializer in REQUEST_SERIALIZERS.items()},
    resource_type_field_name="kind",
)


class JobFilterSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Job.Kind.choices, required=False)
    state = serializers.ChoiceField(choices=Job.State.choices, required=False)


# --- views -----------------------------------------------------------------------------------


class JobPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class JobViewSet(ManagementView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/v1/jobs/`: system administrators see every job, other users the jobs they requested,
    newest first. Robot accounts only pull and push."""

    permission_classes = [SignedInUser]
    serializer_class = JobSerializer
    pagination_class = JobPagination
    lookup_field = "id"
    lookup_url_kwarg = "job_id"
    not_found = "There is no job {job_id}, or you did not request it."

    def get_queryset(self) -> QuerySet[Job]:
        if self.is_schema_generation():
            return Job.objects.none()
        jobs = Job.objects.select_related("requested_by").order_by("-created_at", "-id")
        if not self.principal.is_system_admin:
            jobs = jobs.filter(requested_by=self.principal.user)
        if self.action == "list":
            filters = JobFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            jobs = jobs.filter(**filters.validated_data)
        return jobs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Job.Kind.values, description="Only jobs of this kind."),
            OpenApiParameter("state", str, enum=Job.State.values, description="Only jobs in this state."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`GET /api/v1/jobs/`: the jobs the caller may see, newest first, a page at a time."""
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`GET /api/v1/jobs/<id>/`: one job, with its progress while it runs and its result once done."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=NEW_JOB,
        responses={
            202: OpenApiResponse(JobSerializer, description="Recorded; a worker runs it. `Location` is the job."),
            403: OpenApiResponse(description="The caller may not start this kind of job here."),
            404: OpenApiResponse(description="The repository or project does not exist, or the caller may not see it."),
            503: OpenApiResponse(
                JobSerializer,
                description="Recorded, but the job queue is down: it is sent again once the queue is back. "
                "`Location` is the job; `Retry-After` says when to look at it.",
            ),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`POST /api/v1/jobs/`: start a job; it runs once this request commits."""
        kind_serializer = JobKindSerializer(data=request.data)
        kind_serializer.is_valid(raise_exception=True)
        kind = kind_serializer.validated_data["kind"]
        if kind in SYSTEM_KINDS and not self.principal.is_system_admin:
            self.deny(f"Only system administrators may start {kind} jobs.")
        serializer = REQUEST_SERIALIZERS[kind](data=request.data)
        serializer.is_valid(raise_exception=True)
        if kind == Job.Kind.DELETION:
            self._require_delete(serializer.validated_data["repository"])
        elif kind == Job.Kind.RETENTION:
            self._require_project_manager(serializer.validated_data["project"])
        try:
            job = request_job(
                serializer.validated_data["job_request"],
                dry_run=serializer.validated_data["dry_run"],
                requested_by=self.principal.user,
            )
        except JobNotSent as unsent:
            # Not a 500: the job is kept and beat sends it again, so the answer says where it is.
            return Response(
                {**JobSerializer(unsent.job).data, "detail": str(unsent)},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={
                    "Location": self._location(request, unsent.job),
                    "Retry-After": str(settings.REGISTRY_JOB_RESEND_SECONDS),
                },
            )
        return Response(
            JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": self._location(request, job)}
        )

    def _location(self, request: Request, job: Job) -> str:
        return request.build_absolute_uri(reverse("api:job-detail", kwargs={"job_id": job.id}))

    def _require_delete(self, repository_name: str) -> None:
        _, actions = visible_repository(self.principal, repository_name)
        if DELETE not in actions:
            self.deny(f"You may not delete in {repository_name}.")

    def _require_project_manager(self, project_name: str) -> None:
        if not can_manage_project(self.principal, visible_project(self.principal, project_name)):
            self.deny(f"Only admins of project {project_name} and system administrators may run its retention rules.")
