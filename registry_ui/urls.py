from django.urls import include, path

urlpatterns = [
    path("v2/", include("v2api.urls")),
]
