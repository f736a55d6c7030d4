"""Sending webhook deliveries: at once after the change commits, and from beat for what is due."""

from celery import shared_task
from django.conf import settings

from webhooks.services import delivery

# Beat sends every REGISTRY_WEBHOOK_SEND_INTERVAL_SECONDS; a round stops taking new deliveries
# after this long, leaving the rest to the next one.
ROUND_SECONDS = 50


@shared_task(name="webhooks.tasks.send_deliveries", time_limit=300, soft_time_limit=280)
def send_deliveries(delivery_ids: list[int]) -> int:
    """Send these new deliveries; those already sent or being sent are skipped, and what the
    round leaves (a resumed webhook's long backlog) goes out from beat."""
    return delivery.deliver_each(delivery_ids, budget_seconds=ROUND_SECONDS)


@shared_task(name="webhooks.tasks.send_due_deliveries", time_limit=300, soft_time_limit=280)
def send_due_deliveries() -> int:
    """Send retries that are due and deliveries whose message was lost (a broker or worker down)."""
    return delivery.deliver_each(delivery.due_deliveries(), budget_seconds=ROUND_SECONDS)


@shared_task(name="webhooks.tasks.purge_deliveries", time_limit=600, soft_time_limit=540)
def purge_deliveries() -> int:
    """Forget deliveries older than REGISTRY_WEBHOOK_LOG_DAYS."""
    deleted, _ = delivery.purge_deliveries(settings.REGISTRY_WEBHOOK_LOG_DAYS)
    return deleted
