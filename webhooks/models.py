"""Webhooks of a project, and the outbox of deliveries to them and to the registry:2-style
notification endpoints.

A `Delivery` row is inserted in the transaction of the change it reports (services/outbox.py), so
an event is either committed with its deliveries or not at all; it holds the exact body it sends,
so every attempt sends the same bytes with the same signature and the same delivery id.
"""

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Project


class Event(models.TextChoices):
    PUSH = "push"
    PULL = "pull"
    DELETE = "delete"
    QUOTA = "quota"
    RETENTION = "retention"


class Format(models.TextChoices):
    HARBOR = "harbor"
    CLOUDEVENTS = "cloudevents"


class Webhook(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2048)
    # A list of Event values.
    events = models.JSONField(default=list)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.HARBOR)
    # Both encrypted with a key derived from SECRET_KEY (accounts/sealing.py), never shown again.
    secret_sealed = models.TextField(blank=True, default="")
    auth_header_sealed = models.TextField(blank=True, default="")
    # Paused by hand or after too many failures in a row (paused_reason says which); its
    # deliveries wait and go out once it is resumed.
    enabled = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=1024, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.project.name} → {self.url}"


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        # Given up: its endpoint is no longer configured, or it waited longer than the retention.
        FAILED = "failed"

    # Sent as the `Webhook-Id` header: the same on every attempt, so receivers de-duplicate.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    # A registry:2-style notification endpoint (REGISTRY_NOTIFICATION_URLS) when there is no webhook.
    endpoint = models.CharField(max_length=2048, blank=True, default="")
    # An Event value, or "test".
    event = models.CharField(max_length=16)
    content_type = models.CharField(max_length=128)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The last attempt: when, what came back (or what went wrong), how long it took.
    attempted_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_snippet = models.CharField(max_length=512, blank=True, default="")
    error = models.CharField(max_length=512, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["webhook", "-created_at"], name="delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} delivery {self.delivery_id} ({self.state})"
