"""The management API's endpoints for users, tokens, projects, members and robots under /api/v1/,
on the base views of accounts/api/base.py. Each asks accounts/permissions.py who may do
what, about the Principal that accounts/api/authentication.py found."""

from contextlib import suppress
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.api import serializers
from accounts.api.base import PROJECT_NAME, PROJECT_NOT_FOUND, Conflict, ManagementView, ProjectScopedView
from accounts.api.permissions import SignedIn, SignedInUser, SystemAdmin
from accounts.models import GroupMembership, Membership, PersonalAccessToken, Project, RobotAccount
from accounts.permissions import can_manage_project, can_see_members, visible_projects
from accounts.services import members
from accounts.services.projects import ProjectNotEmpty, delete_empty_project
from accounts.services.robots import revoke

# --- users -----------------------------------------------------------------------------------


class UserViewSet(
    ManagementView, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """`/api/v1/users/`: system administrators list, create and change users."""

    permission_classes = [SystemAdmin]
    queryset = User.objects.order_by("username")
    lookup_field = "id"
    lookup_url_kwarg = "user_id"
    not_found = "There is no user with id {user_id}."

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "partial_update":
            return serializers.UserUpdateSerializer
        return serializers.UserSerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.save_or_conflict(serializer)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`PATCH /api/v1/users/<id>/`: deactivate, reset the password, make or unmake an admin."""
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


class MeView(ManagementView):
    """`GET /api/v1/users/me/`: the user who is calling."""

    permission_classes = [SignedInUser]
    serializer_class = serializers.UserSerializer

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(self.principal.user).data)


class TokenViewSet(
    ManagementView, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """`/api/v1/users/me/tokens/`: the caller's own personal access tokens."""

    permission_classes = [SignedInUser]
    lookup_field = "id"
    lookup_url_kwarg = "token_id"
    not_found = "You have no token with id {token_id}."

    def get_queryset(self) -> QuerySet[PersonalAccessToken]:
        if self.is_schema_generation():
            return PersonalAccessToken.objects.none()
        return PersonalAccessToken.objects.filter(user=self.principal.user).order_by("created_at", "id")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return serializers.TokenCreatedSerializer if self.action == "create" else serializers.TokenSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "user": self.principal.user}

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.save_or_conflict(serializer)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`DELETE /api/v1/users/me/tokens/<id>/`: revoke the token; it can no longer log in."""
        revoke(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- projects --------------------------------------------------------------------------------


class ProjectViewSet(ManagementView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/v1/projects/`: the projects the caller can see (public ones, their own, all for admins)."""

    lookup_field = "name"
    lookup_url_kwarg = "project_name"
    not_found = PROJECT_NOT_FOUND

    def get_permissions(self) -> list[BasePermission]:
        if self.action in ("create", "destroy"):
            return [SystemAdmin()]
        if self.action == "partial_update":
            return [SignedIn()]
        # Anyone, even anonymous, sees the public projects, as anyone may pull from them.
        return [AllowAny()]

    def get_queryset(self) -> QuerySet[Project]:
        if self.is_schema_generation():
            return Project.objects.none()
        return visible_projects(self.principal).order_by("name")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "partial_update":
            return serializers.ProjectUpdateSerializer
        return serializers.ProjectSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`POST /api/v1/projects/`: a system administrator creates a project."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.save_or_conflict(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`PATCH /api/v1/projects/<name>/`: project admins and system administrators make it public or
        private and set its recycle bin's window (`recycle_seconds`); only system administrators set its
        storage quota (`quota_bytes`, null for none)."""
        project = self.get_object()
        if not can_manage_project(self.principal, project):
            self.deny(f"Only admins of project {project.name} and system administrators may change it.")
        if "quota_bytes" in request.data and not self.principal.is_system_admin:
            self.deny("Only system administrators may set a project's quota.")
        serializer = self.get_serializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`DELETE /api/v1/projects/<name>/`: a system administrator deletes an empty project."""
        try:
            delete_empty_project(self.get_object())
        except ProjectNotEmpty as error:
            raise Conflict(str(error)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- members ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[PROJECT_NAME]),
    create=extend_schema(parameters=[PROJECT_NAME]),
    retrieve=extend_schema(parameters=[PROJECT_NAME]),
    partial_update=extend_schema(parameters=[PROJECT_NAME]),
    destroy=extend_schema(parameters=[PROJECT_NAME], responses={204: None}),
)
class MemberViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """`/api/v1/projects/<name>/members/`: members see the list; project admins and system
    administrators add members, change their roles and remove them."""

    lookup_field = "user__username"
    lookup_url_kwarg = "username"
    not_found = "{username} is not a member of project {project_name}."

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action in ("list", "retrieve"):
            if not can_see_members(self.principal, self.project):
                self.deny(f"Only members of project {self.project.name} may see its members.")
        else:
            self.require_manager()

    def get_queryset(self) -> QuerySet[Membership]:
        if self.is_schema_generation():
            return Membership.objects.none()
        return self.project.memberships.select_related("user").order_by("user__username")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "partial_update":
            return serializers.MemberUpdateSerializer
        return serializers.MemberSerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.save_or_conflict(serializer, project=self.project)

    def perform_destroy(self, instance: Membership) -> None:
        # Removed by a concurrent request meanwhile: what was asked holds.
        with suppress(Membership.DoesNotExist):
            members.remove_member(self.project, instance.user.get_username())

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`PATCH /api/v1/projects/<name>/members/<username>/`: change a member's role."""
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)


@extend_schema_view(
    list=extend_schema(parameters=[PROJECT_NAME]),
    create=extend_schema(parameters=[PROJECT_NAME]),
    retrieve=extend_schema(parameters=[PROJECT_NAME]),
    partial_update=extend_schema(parameters=[PROJECT_NAME]),
    destroy=extend_schema(parameters=[PROJECT_NAME], responses={204: None}),
)
class GroupMemberViewSet(MemberViewSet):
    """`/api/v1/projects/<name>/groups/`: directory groups with a role in the project, seen and
    managed by the same people as its members."""

    lookup_field = "group__name"
    lookup_url_kwarg = "group_name"
    not_found = "Group {group_name} is not in project {project_name}."

    def get_queryset(self) -> QuerySet[GroupMembership]:  # type: ignore[override]
        if self.is_schema_generation():
            return GroupMembership.objects.none()
        return self.project.group_memberships.select_related("group").order_by("group__name")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        if self.action == "partial_update":
            return serializers.GroupMemberUpdateSerializer
        return serializers.GroupMemberSerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.save()

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`PATCH /api/v1/projects/<name>/groups/<group>/`: change the group's role, through the
        service the dashboard uses."""
        membership = self.get_object()
        serializer = self.get_serializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "role" in serializer.validated_data:
            try:
                membership = members.change_group_role(
                    self.project, membership.group.name, serializer.validated_data["role"]
                )
            except GroupMembership.DoesNotExist:
                raise NotFound(self.not_found.format(**self.kwargs)) from None
        return Response(self.get_serializer(membership).data)

    def perform_destroy(self, instance: GroupMembership) -> None:  # type: ignore[override]
        with suppress(GroupMembership.DoesNotExist):
            members.remove_group(self.project, instance.group.name)


# --- robot accounts --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[PROJECT_NAME]),
    create=extend_schema(parameters=[PROJECT_NAME]),
    retrieve=extend_schema(parameters=[PROJECT_NAME]),
    destroy=extend_schema(parameters=[PROJECT_NAME], responses={204: None}),
)
class RobotViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """`/api/v1/projects/<name>/robots/`: project admins and system administrators list, create and
    revoke a project's robot accounts."""

    lookup_field = "name"
    lookup_url_kwarg = "robot_name"
    not_found = "Project {project_name} has no robot named {robot_name}."

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.require_manager()

    def get_queryset(self) -> QuerySet[RobotAccount]:
        if self.is_schema_generation():
            return RobotAccount.objects.none()
        return self.project.robots.select_related("project").order_by("name")

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return serializers.RobotCreatedSerializer if self.action == "create" else serializers.RobotSerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        self.save_or_conflict(serializer)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`DELETE /api/v1/projects/<name>/robots/<robot>/`: revoke the robot; it can no longer log in."""
        revoke(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
