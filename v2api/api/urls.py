"""Routes of the management API for registry objects (retention, immutability, recycle bin, usage, deletion
plans, jobs, replication), mounted at /api/v1/ under the `api` namespace next to accounts/api/urls.py's (see
registry_ui/urls.py)."""

from django.urls import path

from v2api.api import immutability, jobs, recycle_bin, replication, retention, usage

urlpatterns = [
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
    path(
        "projects/<str:project_name>/immutable-tags/",
        immutability.ImmutableTagRulesView.as_view(),
        name="immutable-tag-rules",
    ),
    path(
        "projects/<str:project_name>/immutable-tags/<int:rule_id>/",
        immutability.ImmutableTagRuleView.as_view(),
        name="immutable-tag-rule",
    ),
    path("projects/<str:project_name>/recycle-bin/", recycle_bin.RecycleBinView.as_view(), name="recycle-bin"),
    path(
        "projects/<str:project_name>/recycle-bin/<int:deletion_id>/",
        recycle_bin.RecycledDeletionView.as_view(),
        name="recycled-deletion",
    ),
    path(
        "projects/<str:project_name>/recycle-bin/<int:deletion_id>/restore/",
        recycle_bin.RestoreView.as_view(),
        name="recycled-deletion-restore",
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
    path("replication-rules/", replication.ReplicationRulesView.as_view(), name="replication-rules"),
    path("replication-rules/<int:rule_id>/", replication.ReplicationRuleView.as_view(), name="replication-rule"),
    path("replication-rules/<int:rule_id>/runs/", replication.ReplicationRunsView.as_view(), name="replication-runs"),
]
