"""Request-level gates of the management API. The rules themselves live in
accounts/permissions.py; these classes only ask them about `principal_of(request)`.
Project-level answers (can_manage_project, can_see_members) are asked in the views, once the
project is loaded."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.api.authentication import principal_of


class SignedIn(BasePermission):
    message = "Sign in to use this endpoint."

    def has_permission(self, request: Request, view: Any) -> bool:
        return not principal_of(request).is_anonymous


class SignedInUser(BasePermission):
    """A person, not a robot account: robots only pull and push."""

    message = "Only users may use this endpoint; robot accounts may not."

    def has_permission(self, request: Request, view: Any) -> bool:
        return principal_of(request).user is not None


class SystemAdmin(BasePermission):
    message = "Only system administrators may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return principal_of(request).is_system_admin
