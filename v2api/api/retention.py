"""`/api/v1/projects/<name>/retention/`: a project's retention policy and rules, and a simulation of
what they would remove (v2api/services/retention.py's plan_retention, which a run shares).

Members read; project admins and system administrators write, through retention_settings, the
write path the dashboard uses too, so both refuse the same rules. Rules are saved disabled if need
be, simulated, then enabled: beat runs only enabled policies. Serializers sit next to their
views: the module is one resource.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, ProjectScopedView
from accounts.models import Project
from accounts.permissions import can_see_members
from v2api.models import RetentionPolicy, RetentionRule
from v2api.services.retention import plan_retention
from v2api.services.retention_settings import add_retention_rule, update_retention_policy

GLOBS_HELP = "Comma-separated globs; `*` also matches `/`."


class RuleListSerializer(serializers.ListSerializer[RetentionRule]):
    def get_attribute(self, instance: Any) -> QuerySet[RetentionRule] | list[RetentionRule]:
        # A project that never saved a policy has the defaults and no rules (an unsaved row has no relations).
        if instance.pk is None:
            return []
        return instance.rules.order_by("id")


class RetentionRuleSerializer(serializers.ModelSerializer[RetentionRule]):
    """Among the tags it selects, keep the N most recently pushed, or those pushed within N days.

    Only types are checked here; what makes a rule valid (exactly one of keep_most_recent and
    keep_days, non-empty globs) is retention_settings.add_retention_rule's, as for the dashboard.
    """

    class Meta:
        model = RetentionRule
        fields = ["repositories", "tags", "keep_most_recent", "keep_days"]
        list_serializer_class = RuleListSerializer
        extra_kwargs = {
            # Blank reaches the service, which says what to write instead.
            "repositories": {
                "allow_blank": True,
                "help_text": f"Repository paths inside the project (`**`, the default, is every one). {GLOBS_HELP}",
            },
            "tags": {"allow_blank": True, "help_text": f"The tags this rule selects (default `*`). {GLOBS_HELP}"},
            "keep_most_recent": {"help_text": "Keep this many of the most recently pushed selected tags."},
            "keep_days": {"help_text": "Keep the selected tags pushed within this many days (at least 1)."},
        }


class RetentionPolicySerializer(serializers.ModelSerializer[RetentionPolicy]):
    """A project's whole policy; a PUT replaces it, rules included, and fields left out take their defaults."""

    project = serializers.CharField(source="project.name", read_only=True)
    enabled = serializers.BooleanField(default=False, help_text="The schedule runs the rules only when enabled.")
    delete_untagged = serializers.BooleanField(
        default=False,
        help_text="Garbage collection removes untagged manifests nothing tagged needs "
        "(never an index's child or a referrer of something kept).",
    )
    always_keep_tags = serializers.CharField(
        default="", allow_blank=True, max_length=255, help_text=f"Tags no rule removes. {GLOBS_HELP}"
    )
    rules = RetentionRuleSerializer(
        many=True,
        help_text="A tag some rule selects but no rule keeps is removed; a tag no rule selects stays.",
    )

    class Meta:
        model = RetentionPolicy
        fields = ["project", "enabled", "delete_untagged", "always_keep_tags", "rules", "updated_at"]
        read_only_fields = ["updated_at"]

    def create(self, validated_data: dict[str, Any]) -> RetentionPolicy:
        """Replace the policy through the services the dashboard uses. The caller's transaction
        (save_or_conflict) undoes everything when a rule is refused."""
        project: Project = validated_data["project"]
        policy = update_retention_policy(
            project,
            enabled=validated_data["enabled"],
            delete_untagged=validated_data["delete_untagged"],
            always_keep_tags=validated_data["always_keep_tags"],
        )
        policy.rules.all().delete()
        errors: dict[str, Any] = {}
        for index, rule in enumerate(validated_data["rules"]):
            try:
                add_retention_rule(
                    project,
                    repositories=rule.get("repositories", "**"),
                    tags=rule.get("tags", "*"),
                    keep_most_recent=rule.get("keep_most_recent"),
                    keep_days=rule.get("keep_days"),
                )
            except DjangoValidationError as error:
                # Keyed by the rule's index, as DRF reports a list item's errors.
                errors[str(index)] = error.message_dict
        if errors:
            raise serializers.ValidationError({"rules": errors})
        return policy

    def update(self, instance: RetentionPolicy, validated_data: dict[str, Any]) -> RetentionPolicy:
        return self.create(validated_data)


class RetentionSimulationSerializer(serializers.Serializer[dict[str, Any]]):
    """What running the saved rules now would remove, and what that frees after garbage collection."""

    project = serializers.CharField()
    tags_deleted = serializers.IntegerField()
    manifests_deleted = serializers.IntegerField(
        help_text="Images left without a tag go with their last tag, with what only they need."
    )
    bytes_to_free = serializers.IntegerField()
    restorable_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Until when what a run deletes stays in the project's recycle bin, restorable; the collection "
        "after it frees `bytes_to_free`. Null: the project keeps no bin, the next collection frees them.",
    )
    tags = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="The tags that go, by repository."
    )


class RetentionScopedView(ProjectScopedView):
    def require_member(self) -> None:
        # Those who see a project's members (its members and system admins) also read its rules.
        if not can_see_members(self.principal, self.project):
            self.deny(f"Only members of project {self.project.name} may see its retention rules.")


class RetentionPolicyView(RetentionScopedView):
    """`/api/v1/projects/<name>/retention/`: members read the policy; project admins and system
    administrators replace it."""

    serializer_class = RetentionPolicySerializer

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy.objects.filter(project=self.project).first() or RetentionPolicy(project=self.project)

    @extend_schema(parameters=[PROJECT_NAME])
    def get(self, request: Request, project_name: str) -> Response:
        """`GET /api/v1/projects/<name>/retention/`: the policy, or the defaults if none was saved."""
        self.require_member()
        return Response(self.get_serializer(self.policy()).data)

    @extend_schema(parameters=[PROJECT_NAME])
    def put(self, request: Request, project_name: str) -> Response:
        """`PUT /api/v1/projects/<name>/retention/`: replace the policy and its rules."""
        self.require_manager()
        policy = self.policy()
        serializer = self.get_serializer(policy if policy.pk else None, data=request.data)
        serializer.is_valid(raise_exception=True)
        # Policy and rules change together; a concurrent first save of the same policy is a 409.
        self.save_or_conflict(serializer, project=self.project)
        return Response(serializer.data)


class RetentionSimulationView(RetentionScopedView):
    """`POST /api/v1/projects/<name>/retention/simulation/`: what the saved rules would remove now,
    enabled or not. Nothing is deleted."""

    serializer_class = RetentionSimulationSerializer

    @extend_schema(
        parameters=[PROJECT_NAME],
        request=None,
        responses={200: RetentionSimulationSerializer, 403: OpenApiResponse(description="Not a project member.")},
    )
    def post(self, request: Request, project_name: str) -> Response:
        self.require_member()
        return Response(RetentionSimulationSerializer(plan_retention(self.project.name).as_dict()).data)
