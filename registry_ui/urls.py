from django.urls import include, path

from registry_ui import health, metrics

urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("auth/", include("accounts.urls")),
    path("v2/", include("v2api.urls")),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # The HTML dashboard: last, so every route above keeps its exact path.
    path("", include("registry_ui.dashboard_urls")),
]
