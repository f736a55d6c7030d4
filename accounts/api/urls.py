"""Routes of the management API, mounted at /api/v1/. Updates are PATCH only: every field is optional."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from accounts.api import jobs, retention, schema, usage, views  # noqa: F401  (schema registers how LoginAuthentication is described)

app_name = "api"

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
        "projects/<str:project_name>/robots/",
        views.RobotViewSet.as_view({"get": "list", "post": "create"}),
        name="robot-list",
    ),
    path(
        "projects/<str:project_name>/robots/<str:robot_name>/",
        views.RobotViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="robot-detail",
    ),
    path(
        "projects/<str:project_name>/retention/",
        retention.RetentionPolicyView.as_view(),
        name="retention-policy",
    ),
    path(
        "projects/<str:project_name>/retention/simulation/",
        retention.RetentionSimulationView.as_view(),
        name="retention-simulation",
    ),
    path("projects/<str:project_name>/usage/", usage.ProjectUsageView.as_view(), name="project-usage"),
    path(
        "projects/<str:project_name>/usage/history/",
        usage.ProjectUsageHistoryView.as_view(),
        name="project-usage-history",
    ),
    # Repository names hold slashes (`team/app/server`), so <path:>; the fixed last segment ends them.
    path("repositories/<path:repository_name>/usage/", usage.RepositoryUsageView.as_view(), name="repository-usage"),
    path(
        "repositories/<path:repository_name>/deletion-plan/",
        usage.DeletionPlanView.as_view(),
        name="repository-deletion-plan",
    ),
    path("jobs/", jobs.JobViewSet.as_view({"get": "list", "post": "create"}), name="job-list"),
    path("jobs/<int:job_id>/", jobs.JobViewSet.as_view({"get": "retrieve"}), name="job-detail"),
]
