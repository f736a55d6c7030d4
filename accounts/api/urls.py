"""Routes of the management API for accounts' objects (users, tokens, projects, members, directory
groups, robots), the audit log and its schema, mounted at /api/v1/ under the `api` namespace next to
v2api/api/urls.py's (see registry_ui/urls.py). Updates are PATCH only: every field is optional."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from accounts.api import audit, schema, views  # noqa: F401  (schema registers how LoginAuthentication is described)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("users/", views.UserViewSet.as_view({"get": "list", "post": "create"}), name="user-list"),
    path("users/me/", views.MeView.as_view(), name="user-me"),
    path("users/me/tokens/", views.TokenViewSet.as_view({"get": "list", "post": "create"}), name="token-list"),
    path(
        "users/me/tokens/<int:token_id>/",
        views.TokenViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="token-detail",
    ),
    path(
        "users/<int:user_id>/",
        views.UserViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="user-detail",
    ),
    path("audit-logs/", audit.AuditLogView.as_view(), name="audit-log"),
    path("projects/<str:project_name>/audit-logs/", audit.ProjectAuditLogView.as_view(), name="project-audit-log"),
    path("projects/", views.ProjectViewSet.as_view({"get": "list", "post": "create"}), name="project-list"),
    path(
        "projects/<str:project_name>/",
        views.ProjectViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="project-detail",
    ),
    path(
        "projects/<str:project_name>/members/",
        views.MemberViewSet.as_view({"get": "list", "post": "create"}),
        name="member-list",
    ),
    path(
        "projects/<str:project_name>/members/<str:username>/",
        views.MemberViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="member-detail",
    ),
    path(
        "projects/<str:project_name>/groups/",
        views.GroupMemberViewSet.as_view({"get": "list", "post": "create"}),
        name="group-member-list",
    ),
    path(
        "projects/<str:project_name>/groups/<path:group_name>/",
        views.GroupMemberViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="group-member-detail",
    ),
    path(
        "projects/<str:project_name>/robots/",
        views.RobotViewSet.as_view({"get": "list", "post": "create"}),
        name="robot-list",
    ),
    path(
        "projects/<str:project_name>/robots/<str:robot_name>/",
        views.RobotViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="robot-detail",
    ),
]
