from django.urls import include, path

urlpatterns = [
    path("auth/", include("accounts.urls")),
    path("v2/", include("v2api.urls")),
]
