"""`/api/v1/projects/<name>/webhooks/`: a project's webhooks and their delivery logs.

Project admins and system administrators only, reading included: a webhook's URL may name an
internal system. Changes go through webhooks/services/webhooks.py, as the dashboard's do; the
secret and the auth header are write-only (`has_secret`, `has_auth_header` say whether one is set).
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.base import PROJECT_NAME, ProjectScopedView
from webhooks.models import Delivery, Event, Format, Webhook
from webhooks.services.webhooks import create_webhook, delete_webhook, send_again, send_test, update_webhook

WEBHOOK_ID = OpenApiParameter("webhook_id", int, OpenApiParameter.PATH, description="The webhook's id.")
DELIVERY_ID = OpenApiParameter("delivery_id", int, OpenApiParameter.PATH, description="The delivery's id.")
LOG_LENGTH = 100


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    """Where a project's events go. `enabled: false` pauses it, `true` resumes it."""

    # Checked by the service: a LAN host without a dot (http://ci/hooks) is a good URL here,
    # which Django's URLValidator refuses.
    url = serializers.CharField(max_length=2048, help_text="http:// or https:// URL that receives the events.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), allow_empty=False)
    format = serializers.ChoiceField(choices=Format.choices, default=Format.HARBOR)
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Signs each body: `X-Harbor-Signature: sha256=<HMAC-SHA256 hex>`. Blank removes it.",
    )
    auth_header = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Sent as the `Authorization` header, e.g. `Bearer …`. Blank removes it.",
    )
    has_secret = serializers.SerializerMethodField()
    has_auth_header = serializers.SerializerMethodField()

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "format",
            "secret",
            "auth_header",
            "has_secret",
            "has_auth_header",
            "enabled",
            "paused_reason",
            "consecutive_failures",
            "created_at",
        ]
        read_only_fields = ["id", "paused_reason", "consecutive_failures", "created_at"]

    def get_has_secret(self, webhook: Webhook) -> bool:
        return bool(webhook.secret_sealed)

    def get_has_auth_header(self, webhook: Webhook) -> bool:
        return bool(webhook.auth_header_sealed)

    def create(self, validated_data: dict[str, Any]) -> Webhook:
        validated_data.pop("enabled", None)
        try:
            return create_webhook(self.context["project"], **validated_data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None

    def update(self, instance: Webhook, validated_data: dict[str, Any]) -> Webhook:
        try:
            return update_webhook(instance, **validated_data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    """One delivery and its last attempt. `response_snippet`, the answer's first bytes, is for
    system administrators only (null for project admins): a project admin chooses the URL, and
    could otherwise read what a service on the registry's network answers."""

    response_snippet = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "state",
            "attempts",
            "created_at",
            "attempted_at",
            "next_attempt_at",
            "status_code",
            "latency_ms",
            "response_snippet",
            "error",
            "delivered_at",
        ]
        read_only_fields = fields

    def get_response_snippet(self, delivery: Delivery) -> str | None:
        return delivery.response_snippet if self.context["principal"].is_system_admin else None


class WebhookScopedView(ProjectScopedView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.is_schema_generation():
            self.require_manager()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "principal": self.principal}

    def webhook(self) -> Webhook:
        webhook = self.project.webhooks.filter(pk=self.kwargs["webhook_id"]).select_related("project").first()
        if webhook is None:
            raise NotFound(f"Project {self.project.name} has no webhook {self.kwargs['webhook_id']}.")
        return webhook


class WebhooksView(WebhookScopedView):
    """`/api/v1/projects/<name>/webhooks/`."""

    serializer_class = WebhookSerializer

    @extend_schema(parameters=[PROJECT_NAME], responses={200: WebhookSerializer(many=True)})
    def get(self, request: Request, project_name: str) -> Response:
        """`GET`: the project's webhooks, oldest first."""
        return Response(self.get_serializer(self.project.webhooks.order_by("id"), many=True).data)

    @extend_schema(parameters=[PROJECT_NAME], responses={201: WebhookSerializer})
    def post(self, request: Request, project_name: str) -> Response:
        """`POST`: a webhook for `events` (push, pull, delete, quota, retention)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class WebhookView(WebhookScopedView):
    """`/api/v1/projects/<name>/webhooks/<id>/`."""

    serializer_class = WebhookSerializer

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID], responses={200: WebhookSerializer})
    def get(self, request: Request, project_name: str, webhook_id: int) -> Response:
        """`GET`: the webhook, whether it is paused and why."""
        return Response(self.get_serializer(self.webhook()).data)

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID], responses={200: WebhookSerializer})
    def patch(self, request: Request, project_name: str, webhook_id: int) -> Response:
        """`PATCH`: change what is given; `{"enabled": true}` resumes a paused webhook."""
        serializer = self.get_serializer(self.webhook(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID], responses={204: None})
    def delete(self, request: Request, project_name: str, webhook_id: int) -> Response:
        """`DELETE`: remove the webhook with its delivery log and what still waits for it."""
        delete_webhook(self.webhook())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveriesView(WebhookScopedView):
    """`GET /api/v1/projects/<name>/webhooks/<id>/deliveries/`: the newest LOG_LENGTH deliveries."""

    serializer_class = DeliverySerializer

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID], responses={200: DeliverySerializer(many=True)})
    def get(self, request: Request, project_name: str, webhook_id: int) -> Response:
        deliveries = self.webhook().deliveries.order_by("-created_at", "-id")[:LOG_LENGTH]
        return Response(self.get_serializer(deliveries, many=True).data)


class TestEventView(WebhookScopedView):
    """`POST /api/v1/projects/<name>/webhooks/<id>/test/`: send a test event, even while paused."""

    serializer_class = DeliverySerializer

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID], request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, project_name: str, webhook_id: int) -> Response:
        delivery = send_test(self.webhook(), actor=self.principal.subject)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class ResendView(WebhookScopedView):
    """`POST /api/v1/projects/<name>/webhooks/<id>/deliveries/<delivery_id>/resend/`: send again."""

    serializer_class = DeliverySerializer

    @extend_schema(parameters=[PROJECT_NAME, WEBHOOK_ID, DELIVERY_ID], request=None, responses={202: None})
    def post(self, request: Request, project_name: str, webhook_id: int, delivery_id: int) -> Response:
        delivery = self.webhook().deliveries.filter(pk=delivery_id).first()
        if delivery is None:
            raise NotFound(f"Webhook {webhook_id} has no delivery {delivery_id}.")
        send_again(delivery)
        return Response(status=status.HTTP_202_ACCEPTED)
