"""Writing audit events: `record` for the changes services make, in the caller's transaction.

A service calls `record` next to the write it reports: inside a `transaction.atomic()` block the
INSERT commits or rolls back with the change, so the log never claims a change that did not
happen nor misses one that did. Pulls are not recorded here but buffered (audit/pulls.py).
Functions in `event_hooks` see each event in that same transaction (the webhooks' outbox,
webhooks/apps.py): the audit app sits below them and cannot call them itself.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import context
from audit.context import Actor
from audit.models import AuditEvent, Outcome
from oci.request_edge import is_storable_text

USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length or 255
RESOURCE_LENGTH = AuditEvent._meta.get_field("resource").max_length or 1024
ACTOR_NAME_LENGTH = AuditEvent._meta.get_field("actor_name").max_length or 512

event_hooks: list[Callable[[AuditEvent], object]] = []


def record(
    action: str,
    *,
    resource: str = "",
    project: str = "",
    outcome: str = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    actor: Actor | None = None,
    address: str | None = None,
) -> AuditEvent:
    """Record one event. The actor, address and user agent come from the request's context
    (audit/context.py) unless given (a login names who tried, and from where); without a request
    the actor is the system."""
    request = context.current()
    if actor is None:
        actor = request.actor() if request is not None else context.SYSTEM
    if address is None:
        address = request.address if request is not None else ""
    detail = dict(detail or {})
    if request is not None and request.via:
        detail["via"] = request.via
    # The caller's transaction, or one of its own: the hooks' rows commit with the event or not at
    # all. No savepoint (two more round trips on every push): an error here fails the change too.
    with transaction.atomic(savepoint=False):
        event = AuditEvent.objects.create(
            actor_kind=actor.kind,
            actor_name=storable(actor.name, ACTOR_NAME_LENGTH),
            client_address=address,
            user_agent=storable(request.user_agent if request is not None else "", USER_AGENT_LENGTH),
            action=action,
            project=project,
            resource=storable(resource, RESOURCE_LENGTH),
            outcome=outcome,
            detail=detail,
        )
        for hook in event_hooks:
            hook(event)
    return event


def storable(text: str, length: int) -> str:
    """`text` cut to `length`, escaped if Postgres cannot hold it: a failed login's username or a
    user agent is whatever the client sent, NUL bytes included."""
    return (text if is_storable_text(text) else ascii(text))[:length]


def purge_old_events(days: int, batch_size: int = 10_000) -> int:
    """Delete events older than `days` days, in batches (each its own short transaction, so a
    first purge of a long history holds no lock for long); returns how many went. Running it
    twice deletes nothing more."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(AuditEvent.objects.filter(occurred_at__lt=cutoff).values_list("id", flat=True)[:batch_size])
            if not ids:
                return deleted
            deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
