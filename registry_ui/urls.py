from django.conf import settings
from django.urls import include, path

from accounts.api import urls as accounts_api
from registry_ui import health, metrics
from registry_ui.views import auth
from v2api.api import urls as registry_api
from webhooks.api import urls as webhooks_api

# Each app owns the API of its objects; both answer under /api/v1/ in one `api` namespace
# (`api:user-list`, `api:job-list`), so URL names do not say which app serves them.
management_api = [*accounts_api.urlpatterns, *registry_api.urlpatterns, *webhooks_api.urlpatterns]

single_sign_on = [
    path("oidc/authenticate/", auth.single_sign_on_start, name="oidc_authentication_init"),
    path("oidc/callback/", auth.single_sign_on_callback, name="oidc_authentication_callback"),
]

urlpatterns = [
    path("api/v1/", include((management_api, "api"))),
    path("auth/", include("accounts.urls")),
    path("v2/", include("v2api.urls")),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Single sign-on's start and callback, when configured.
    *(single_sign_on if settings.REGISTRY_SINGLE_SIGN_ON else []),
    # The HTML dashboard: last, so every route above keeps its exact path.
    path("", include("registry_ui.dashboard_urls")),
]
