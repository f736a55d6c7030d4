"""Routes of the webhooks' management API, mounted at /api/v1/ in the `api` namespace."""

from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("projects/<str:project_name>/webhooks/", views.WebhooksView.as_view(), name="webhook-list"),
    path("projects/<str:project_name>/webhooks/<int:webhook_id>/", views.WebhookView.as_view(), name="webhook-detail"),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/deliveries/",
        views.DeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/test/",
        views.TestEventView.as_view(),
        name="webhook-test",
    ),
    path(
        "projects/<str:project_name>/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/resend/",
        views.ResendView.as_view(),
        name="webhook-resend",
    ),
]
