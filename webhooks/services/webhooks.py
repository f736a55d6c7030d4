"""Managing a project's webhooks: the one code path of the dashboard and the API.

The secret and the auth header are sealed at rest (accounts/sealing.py) and never shown again;
`None` leaves one as it is, "" removes it. Changes are audited with what changed, never the
secrets themselves.
"""

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Project
from accounts.sealing import seal
from audit import actions
from audit.recorder import record
from webhooks.models import Delivery, Event, Format, Webhook
from webhooks.payloads import Occurrence
from webhooks.services.outbox import insert, send_on_commit, webhook_delivery
from webhooks.services.targets import Refused, check_saved_host

MAX_SECRET_LENGTH = 1024


def _validate(
    url: str, events: list[str], format: str, secret: str | None, auth_header: str | None, *, new_url: bool = True
) -> None:
    """`new_url`: the URL is being set, so where it points is checked too (a webhook saved before
    that rule can still be paused, resumed or removed)."""
    errors: dict[str, str] = {}
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number up to 65535)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        errors["url"] = "Give an http:// or https:// URL with a host, e.g. https://ci.example.lan/hooks/registry."
    elif len(url) > Webhook._meta.get_field("url").max_length:  # type: ignore[operator]
        errors["url"] = "That URL is too long."
    elif parts.username is not None or parts.password is not None:
        # The URL is shown in the API, on the dashboard and in the audit log; the header is sealed.
        errors["url"] = "Give the URL without a user or password: put credentials in the Authorization header."
    elif new_url:
        try:
            check_saved_host(parts.hostname)
        except Refused as error:
            errors["url"] = str(error)
    unknown = sorted(set(events) - set(Event.values))
    if not events or unknown:
        errors["events"] = f"Choose one or more of {', '.join(Event.values)}" + (
            f"; unknown: {', '.join(unknown)}." if unknown else "."
        )
    if format not in Format.values:
        errors["format"] = f"Choose {' or '.join(Format.values)}."
    for field, value in (("secret", secret), ("auth_header", auth_header)):
        if value is not None and (len(value) > MAX_SECRET_LENGTH or any(c in value for c in "\r\n\x00")):
            errors[field] = f"At most {MAX_SECRET_LENGTH} characters on one line."
    if errors:
        raise ValidationError(errors)


def create_webhook(
    project: Project,
    *,
    url: str,
    events: list[str],
    format: str = Format.HARBOR,
    secret: str = "",
    auth_header: str = "",
) -> Webhook:
    """A webhook of `project` for `events`. Raises ValidationError naming the bad fields."""
    events = sorted(set(events))
    _validate(url, events, format, secret, auth_header)
    with transaction.atomic():
        webhook = Webhook.objects.create(
            project=project,
            url=url,
            events=events,
            format=format,
            secret_sealed=seal(secret) if secret else "",
            auth_header_sealed=seal(auth_header) if auth_header else "",
        )
        record(
            actions.WEBHOOK_ADD,
            project=project.name,
            resource=url,
            detail={"webhook": webhook.pk, "events": events, "format": format},
        )
    return webhook


def update_webhook(
    webhook: Webhook,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    format: str | None = None,
    secret: str | None = None,
    auth_header: str | None = None,
    enabled: bool | None = None,
) -> Webhook:
    """Change what is given. `enabled=False` pauses the webhook by hand; `enabled=True` resumes
    it, clears the count of failures and sends what waited. Raises ValidationError."""
    new_events = sorted(set(events)) if events is not None else webhook.events
    _validate(
        webhook.url if url is None else url,
        new_events,
        format or webhook.format,
        secret,
        auth_header,
        new_url=url is not None and url != webhook.url,
    )
    changed: dict[str, Any] = {}
    if url is not None and url != webhook.url:
        webhook.url = changed["url"] = url
    if events is not None and new_events != webhook.events:
        webhook.events = changed["events"] = new_events
    if format is not None and format != webhook.format:
        webhook.format = changed["format"] = format
    if secret is not None:
        webhook.secret_sealed = seal(secret) if secret else ""
        changed["secret"] = "set" if secret else "removed"
    if auth_header is not None:
        webhook.auth_header_sealed = seal(auth_header) if auth_header else ""
        changed["auth_header"] = "set" if auth_header else "removed"
    resumed = enabled is True and not webhook.enabled
    if enabled is not None and enabled != webhook.enabled:
        webhook.enabled = changed["enabled"] = enabled
        webhook.paused_reason = "" if enabled else f"Paused by hand on {timezone.now():%Y-%m-%d %H:%M} UTC."
        webhook.consecutive_failures = 0
    if not changed:
        return webhook
    with transaction.atomic():
        webhook.save()
        record(
            actions.WEBHOOK_CHANGE,
            project=webhook.project.name,
            resource=webhook.url,
            detail={"webhook": webhook.pk, **changed},
        )
        if resumed:
            # What waited while it was paused goes out now, oldest first.
            waiting = Delivery.objects.filter(webhook=webhook, state=Delivery.State.PENDING)
            waiting.update(next_attempt_at=timezone.now())
            send_on_commit(list(waiting.order_by("id").values_list("id", flat=True)[:1000]))
    return webhook


def delete_webhook(webhook: Webhook) -> None:
    """Remove the webhook, its delivery log and what still waits to be sent to it."""
    with transaction.atomic():
        record(
            actions.WEBHOOK_REMOVE, project=webhook.project.name, resource=webhook.url, detail={"webhook": webhook.pk}
        )
        webhook.delete()


def send_test(webhook: Webhook, actor: str) -> Delivery:
    """Queue a test event (Harbor's `PING`, CloudEvents' `harbor.ping`) to the webhook, even paused:
    the way to see whether a receiver answers again before resuming."""
    occurrence = Occurrence(kind="test", occurred_at=timezone.now(), project=webhook.project.name, actor=actor)
    with transaction.atomic():
        (delivery,) = insert([webhook_delivery(webhook, occurrence)])
    return delivery


def send_again(delivery: Delivery) -> None:
    """Send a delivery again at once, with its id and body: a failed or given-up one goes out
    again, a delivered one too (the receiver sees the same `Webhook-Id`)."""
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PENDING, next_attempt_at=timezone.now(), delivered_at=None
        )
        send_on_commit([delivery.pk])
