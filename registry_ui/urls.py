from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("auth/", include("accounts.urls")),
    path("v2/", include("v2api.urls")),
]
