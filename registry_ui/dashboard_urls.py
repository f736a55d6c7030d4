"""Routes of the HTML dashboard (namespace `ui`), mounted at the site root next to /v2/, /auth/
and /api/v1/. Repository names contain slashes, so image pages sit behind a `/-/` separator:
`-` alone is not a valid name component, so it cannot be part of a repository's name."""

from django.urls import path

from registry_ui.views import (
    administration,
    audit,
    auth,
    deletion,
    guide,
    home,
    immutability,
    jobs,
    project_groups,
    projects,
    recycle_bin,
    replication,
    repositories,
    retention,
    tokens,
    usage,
    webhooks,
)

app_name = "ui"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("account/password/", auth.change_password, name="change-password"),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/create/", tokens.create_token, name="token-create"),
    path("account/tokens/<int:token_id>/revoke/", tokens.revoke_token, name="token-revoke"),
    path("search/", home.search, name="search"),
    path("setup/", guide.setup_guide, name="setup"),
    path("projects/<str:project_name>/", projects.project_detail, name="project-detail"),
    path("projects/<str:project_name>/members/", projects.project_members, name="project-members"),
    path("projects/<str:project_name>/members/add/", projects.add_member, name="member-add"),
    path(
        "projects/<str:project_name>/members/<str:username>/role/",
        projects.change_member_role,
        name="member-role",
    ),
    path(
        "projects/<str:project_name>/members/<str:username>/remove/",
        projects.remove_member,
        name="member-remove",
    ),
    path("projects/<str:project_name>/groups/add/", project_groups.add_group, name="group-add"),
    path(
        "projects/<str:project_name>/groups/<path:group_name>/role/",
        project_groups.change_group_role,
        name="group-role",
    ),
    path(
        "projects/<str:project_name>/groups/<path:group_name>/remove/",
        project_groups.remove_group,
        name="group-remove",
    ),
    path("projects/<str:project_name>/robots/", projects.project_robots, name="project-robots"),
    path("projects/<str:project_name>/robots/create/", projects.create_robot, name="robot-create"),
    path(
        "projects/<str:project_name>/robots/<str:robot_name>/revoke/",
        projects.revoke_robot,
        name="robot-revoke",
    ),
    path("projects/<str:project_name>/logs/", audit.project_audit_log, name="project-logs"),
    path("projects/<str:project_name>/usage/", usage.project_usage_history, name="project-usage"),
    path("projects/<str:project_name>/retention/", retention.retention, name="project-retention"),
    path("projects/<str:project_name>/retention/policy/", retention.save_policy, name="retention-policy"),
    path("projects/<str:project_name>/retention/rules/add/", retention.add_rule, name="retention-rule-add"),
    path(
        "projects/<str:project_name>/retention/rules/<int:rule_id>/remove/",
        retention.remove_rule,
        name="retention-rule-remove",
    ),
    path("projects/<str:project_name>/retention/run/", retention.run_retention, name="retention-run"),
    path("projects/<str:project_name>/immutable-tags/", immutability.immutable_tags, name="project-immutable-tags"),
    path("projects/<str:project_name>/webhooks/", webhooks.webhooks, name="project-webhooks"),
    path("projects/<str:project_name>/webhooks/add/", webhooks.add_webhook, name="webhook-add"),
    path("projects/<str:project_name>/webhooks/<int:webhook_id>/", webhooks.webhook_detail, name="project-webhook"),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/change/", webhooks.change_webhook, name="webhook-change"
    ),
    path("projects/<str:project_name>/webhooks/<int:webhook_id>/pause/", webhooks.pause_webhook, name="webhook-pause"),
    path("projects/<str:project_name>/webhooks/<int:webhook_id>/test/", webhooks.test_webhook, name="webhook-test"),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/remove/", webhooks.remove_webhook, name="webhook-remove"
    ),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/resend/",
        webhooks.resend_delivery,
        name="webhook-resend",
    ),
    path("projects/<str:project_name>/immutable-tags/add/", immutability.add_rule, name="immutable-tag-rule-add"),
    path(
        "projects/<str:project_name>/immutable-tags/<int:rule_id>/remove/",
        immutability.remove_rule,
        name="immutable-tag-rule-remove",
    ),
    path("projects/<str:project_name>/recycle-bin/", recycle_bin.recycle_bin, name="project-recycle-bin"),
    path("projects/<str:project_name>/recycle-bin/window/", recycle_bin.set_window, name="recycle-bin-window"),
    path(
        "projects/<str:project_name>/recycle-bin/<int:deletion_id>/restore/",
        recycle_bin.restore_deletion,
        name="recycled-deletion-restore",
    ),
    path(
        "projects/<str:project_name>/recycle-bin/<int:deletion_id>/delete/",
        recycle_bin.delete_deletion,
        name="recycled-deletion-delete",
    ),
    # The image and deletion routes come first: `<path:name>` alone would swallow `/-/manifests/...`.
    path(
        "repositories/<path:name>/-/manifests/<str:digest>/raw",
        repositories.raw_manifest,
        name="image-raw",
    ),
    path("repositories/<path:name>/-/manifests/<str:digest>/", repositories.image_detail, name="image-detail"),
    path("repositories/<path:name>/-/delete/", deletion.delete_in_repository, name="repository-delete"),
    path("repositories/<path:name>/", repositories.repository_detail, name="repository-detail"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/garbage-collection/", jobs.start_garbage_collection, name="gc-start"),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/status", jobs.job_status_json, name="job-status"),
    path("admin/storage/", administration.storage, name="admin-storage"),
    path("admin/garbage-collection/", jobs.garbage_collection, name="admin-garbage-collection"),
    path("admin/logs/", audit.audit_log, name="admin-logs"),
    path("admin/replication/", replication.replication, name="replication"),
    path("admin/replication/<int:rule_id>/", replication.replication_rule, name="replication-rule"),
    path("admin/replication/<int:rule_id>/run/", replication.run_replication, name="replication-run"),
    path("admin/replication/<int:rule_id>/delete/", replication.delete_replication_rule, name="replication-delete"),
    path("admin/users/", administration.user_list, name="admin-users"),
    path("admin/users/create/", administration.create_user, name="admin-user-create"),
    path("admin/users/<int:user_id>/active/", administration.set_user_active, name="admin-user-active"),
    path("admin/users/<int:user_id>/admin/", administration.set_user_admin, name="admin-user-admin"),
    path("admin/users/<int:user_id>/password/", administration.reset_password, name="admin-user-password"),
    path("admin/projects/", administration.project_list, name="admin-projects"),
    path("admin/projects/create/", administration.create_project, name="admin-project-create"),
    path("admin/projects/<str:project_name>/public/", administration.set_project_public, name="admin-project-public"),
    path("admin/projects/<str:project_name>/quota/", administration.set_project_quota, name="admin-project-quota"),
    path(
        "admin/projects/<str:project_name>/upstream/", administration.set_proxy_binding, name="admin-project-upstream"
    ),
    path("admin/projects/<str:project_name>/delete/", administration.delete_project, name="admin-project-delete"),
]
