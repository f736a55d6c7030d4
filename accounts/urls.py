from django.urls import path

from accounts import views

app_name = "auth"

urlpatterns = [
    path("token", views.token, name="token"),
    path("jwks.json", views.jwks, name="jwks"),
]
