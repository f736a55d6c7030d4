"""`/api/v1/projects/<name>/immutable-tags/`: a project's tag immutability rules.

Members read them (a pusher wants to know why a push was refused); project admins and system
administrators add and delete them, through the services the dashboard uses
(v2api/services/immutability.py), so both refuse the same rules.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, ProjectScopedView
from accounts.permissions import can_see_members
from v2api.models import ImmutableTagRule
from v2api.services.immutability import add_immutable_tag_rule, remove_immutable_tag_rule

GLOBS_HELP = "Comma-separated globs, `!` before one excludes; `*` also matches `/`."
RULE_ID = OpenApiParameter("rule_id", int, OpenApiParameter.PATH, description="The rule's id.")


class ImmutableTagRuleSerializer(serializers.ModelSerializer[ImmutableTagRule]):
    """Tags matching both patterns cannot be moved to another digest or deleted."""

    class Meta:
        model = ImmutableTagRule
        fields = ["id", "repositories", "tags", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            # Blank reaches the service, which says what to write instead.
            "repositories": {
                "allow_blank": True,
                "help_text": f"Repository paths inside the project (`**`, the default, is every one). {GLOBS_HELP}",
            },
            "tags": {"allow_blank": True, "help_text": f"The tags made immutable, e.g. `v*.*.*`. {GLOBS_HELP}"},
        }

    def create(self, validated_data: dict[str, Any]) -> ImmutableTagRule:
        try:
            return add_immutable_tag_rule(
                self.context["project"],
                repositories=validated_data.get("repositories", "**"),
                tags=validated_data["tags"],
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None


class ImmutableTagRulesView(ProjectScopedView):
    """`/api/v1/projects/<name>/immutable-tags/`: members list the rules; project admins add one."""

    serializer_class = ImmutableTagRuleSerializer

    @extend_schema(parameters=[PROJECT_NAME], responses={200: ImmutableTagRuleSerializer(many=True)})
    def get(self, request: Request, project_name: str) -> Response:
        """`GET /api/v1/projects/<name>/immutable-tags/`: the rules, oldest first."""
        if not can_see_members(self.principal, self.project):
            self.deny(f"Only members of project {self.project.name} may see its immutability rules.")
        rules = self.project.immutable_tag_rules.order_by("id")
        return Response(self.get_serializer(rules, many=True).data)

    @extend_schema(parameters=[PROJECT_NAME], responses={201: ImmutableTagRuleSerializer})
    def post(self, request: Request, project_name: str) -> Response:
        """`POST /api/v1/projects/<name>/immutable-tags/`: make the matching tags immutable."""
        self.require_manager()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class ImmutableTagRuleView(ProjectScopedView):
    """`DELETE /api/v1/projects/<name>/immutable-tags/<id>/`: project admins remove a rule."""

    serializer_class = ImmutableTagRuleSerializer

    @extend_schema(parameters=[PROJECT_NAME, RULE_ID], responses={204: None})
    def delete(self, request: Request, project_name: str, rule_id: int) -> Response:
        self.require_manager()
        if not remove_immutable_tag_rule(self.project, rule_id):
            raise NotFound(f"Project {self.project.name} has no immutability rule {rule_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)
