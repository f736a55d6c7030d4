"""What every management API endpoint shares, accounts' (accounts/api/views.py) and the registry's
(v2api/api/): who may call, JSON in and out, the project a URL names, a 409 for a lost race."""

from typing import Any, NoReturn

from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import BaseSerializer

from accounts.api.authentication import LoginAuthentication, principal_of
from accounts.api.permissions import SignedIn
from accounts.models import Project
from accounts.permissions import Principal, can_manage_project, visible_projects


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state of the resource."
    default_code = "conflict"


class ManagementView(GenericAPIView):  # type: ignore[type-arg]
    """What every /api/v1/ endpoint shares: who may call, JSON in and out."""

    # Basic first: its challenge is the one a 401 answers with.
    authentication_classes = [LoginAuthentication, SessionAuthentication]
    permission_classes: list[type[BasePermission]] = [SignedIn]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    # The 404 detail, formatted with the URL's parameters.
    not_found = "Not found."

    def get_object(self) -> Any:
        try:
            return super().get_object()
        except Http404:
            raise NotFound(self.not_found.format(**self.kwargs)) from None

    @property
    def principal(self) -> Principal:
        return principal_of(self.request)

    def deny(self, message: str) -> NoReturn:
        """403, or 401 for a caller who did not sign in."""
        self.permission_denied(self.request, message=message)
        raise AssertionError("permission_denied raises")  # pragma: no cover

    def save_or_conflict(self, serializer: BaseSerializer[Any], **extra: Any) -> None:
        """Save; a concurrent request that created the same row first is a 409, never a 500."""
        try:
            with transaction.atomic():
                serializer.save(**extra)
        except IntegrityError:
            raise Conflict("It already exists; another request created it just now.") from None

    def is_schema_generation(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


class ProjectScopedView(ManagementView):
    """An endpoint under /projects/<project_name>/: the project must be one the caller can see
    (404 otherwise, so private projects stay unlisted)."""

    _project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = visible_project(self.principal, self.kwargs["project_name"])
        return self._project

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not self.is_schema_generation():
            context["project"] = self.project
        return context

    def require_manager(self) -> None:
        if not can_manage_project(self.principal, self.project):
            self.deny(f"Only admins of project {self.project.name} and system administrators may do this.")


def visible_project(principal: Principal, name: str) -> Project:
    """The project named `name` if the caller may see it; 404 otherwise, so private projects stay unlisted."""
    project = visible_projects(principal).filter(name=name).first()
    if project is None:
        raise NotFound(PROJECT_NOT_FOUND.format(project_name=name))
    return project


PROJECT_NOT_FOUND = "There is no project {project_name}, or you may not see it."
PROJECT_NAME = OpenApiParameter("project_name", str, OpenApiParameter.PATH, description="The project's name.")
