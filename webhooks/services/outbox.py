"""The outbox: a delivery row per webhook (and per registry:2 notification endpoint) that wants
an event, inserted in the transaction that records the event.

`add_deliveries_for_event` runs inside audit/recorder.py's `record`, so a push's deliveries commit
with its manifest and tag or not at all; `add_deliveries_for_pulls` runs inside the flush of a
batch of pulls (audit/pulls.py), never on a pull's request. Once committed, they are handed to a
worker at once (`send_on_commit`); beat's `send_due_deliveries` sends whatever that missed.
"""

import atexit
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable
from itertools import islice

from django.conf import settings
from django.db import transaction

from audit import actions
from audit.models import AuditEvent
from audit.pulls import Pull
from oci.names import project_name_of
from v2api.models import Manifest
from webhooks.models import Delivery, Event, Format, Webhook
from webhooks.payloads import (
    CLOUDEVENTS_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    REGISTRY_ACTIONS,
    REGISTRY_EVENTS_MEDIA_TYPE,
    Artifact,
    Occurrence,
    cloudevents_body,
    harbor_body,
    registry_envelope,
    registry_events,
)
from webhooks.tasks import send_deliveries

logger = logging.getLogger(__name__)

EVENT_OF_ACTION = {
    actions.PUSH: Event.PUSH,
    actions.TAG_DELETE: Event.DELETE,
    actions.IMAGE_DELETE: Event.DELETE,
    actions.REPOSITORY_DELETE: Event.DELETE,
    actions.QUOTA_EXCEEDED: Event.QUOTA,
    actions.QUOTA_NEAR: Event.QUOTA,
    actions.RETENTION_RUN: Event.RETENTION,
}
# registry:2 sends one envelope per few events; a batch of pulls goes out in envelopes this big.
EVENTS_PER_ENVELOPE = 100
# The namespace of the ids of pull envelopes, made from their events' ids.
PULL_ENVELOPES = uuid.UUID("5a0f3c52-8d1e-4f7a-9b61-2c4e8d7f0a13")


def add_deliveries_for_event(event: AuditEvent) -> None:
    """A delivery per webhook of the event's project that wants it, and per notification
    endpoint for the events registry:2 sends. One query for the webhooks of a push or delete."""
    kind = EVENT_OF_ACTION.get(event.action)
    if kind is None or not event.project:
        return
    webhooks = _webhooks_wanting(kind, [event.project])
    endpoints = settings.REGISTRY_NOTIFICATION_URLS if kind in REGISTRY_ACTIONS else []
    if not webhooks and not endpoints:
        return
    occurrence = _occurrence_of(event, kind)
    deliveries = [webhook_delivery(webhook, occurrence) for webhook in webhooks]
    events = registry_events(occurrence)
    if events:
        deliveries += [_endpoint_delivery(endpoint, kind, events) for endpoint in endpoints]
    insert(deliveries)


def add_deliveries_for_pulls(batch: list[Pull]) -> None:
    """Deliveries for a flushed batch of pulls: one per pull and webhook, and envelopes of up
    to EVENTS_PER_ENVELOPE pulls per notification endpoint. At most four queries per batch."""
    if not batch:
        return
    webhooks = _webhooks_wanting(Event.PULL, {project_name_of(pull.repository) for pull in batch})
    endpoints = settings.REGISTRY_NOTIFICATION_URLS
    if not webhooks and not endpoints:
        return
    manifests = {
        (repository, digest): (media_type, size)
        for repository, digest, media_type, size in Manifest.objects.filter(
            digest__in={pull.digest for pull in batch}
        ).values_list("repository__name", "digest", "media_type", "size")
    }
    by_project: dict[str, list[Webhook]] = {}
    for webhook in webhooks:
        by_project.setdefault(webhook.project.name, []).append(webhook)
    deliveries: list[Delivery] = []
    events: list[dict[str, object]] = []
    # Ids made from the pulls' own: a batch written again (its flush committed, then could not
    # drop it from the buffer) makes the same deliveries, which are there already.
    for pull in batch:
        occurrence = _occurrence_of_pull(pull, manifests.get((pull.repository, pull.digest)))
        deliveries += [
            webhook_delivery(webhook, occurrence, delivery_id=uuid.uuid5(uuid.UUID(pull.event_id), str(webhook.pk)))
            for webhook in by_project.get(occurrence.project, [])
        ]
        if endpoints:
            events += registry_events(occurrence)
    for envelope in _chunks(events, EVENTS_PER_ENVELOPE):
        for endpoint in endpoints:
            delivery = _endpoint_delivery(endpoint, Event.PULL, envelope)
            delivery.delivery_id = uuid.uuid5(PULL_ENVELOPES, endpoint + " " + " ".join(str(e["id"]) for e in envelope))
            deliveries.append(delivery)
    insert_once(deliveries)


def insert(deliveries: list[Delivery]) -> list[Delivery]:
    """Insert the deliveries in the current transaction, and send them once it commits."""
    if not deliveries:
        return []
    created = Delivery.objects.bulk_create(deliveries)
    send_on_commit([delivery.pk for delivery in created])
    return created


def insert_once(deliveries: list[Delivery]) -> None:
    """Insert the deliveries in the current transaction, but those whose delivery_id is there
    already, and send the new ones once it commits."""
    if not deliveries:
        return
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    # bulk_create does not say which rows it inserted: those still pending are sent (again).
    waiting = Delivery.objects.filter(
        delivery_id__in=[delivery.delivery_id for delivery in deliveries], state=Delivery.State.PENDING
    )
    send_on_commit(list(waiting.values_list("pk", flat=True)))


class _Handover:
    """Hands committed deliveries to the workers from a thread of this process. The request whose
    commit made them (a push) must not wait for the broker: a Redis that stops answering, rather
    than refusing, would hold it for minutes. The rows are committed, so a hand-over that cannot
    happen (the broker away, or LIMIT of them waiting) costs nothing but time: beat sends them."""

    LIMIT = 1000
    # A process that exits (a restart) first hands over what waits, for this long at most.
    DRAIN_SECONDS = 2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._waiting: queue.Queue[list[int]] = queue.Queue(self.LIMIT)

    def put(self, delivery_ids: list[int]) -> None:
        with self._lock:
            # A forked process (a gunicorn or Celery worker) has no thread of its parent's.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._waiting = queue.Queue(self.LIMIT)
                threading.Thread(target=self._send, args=(self._waiting,), daemon=True).start()
                atexit.register(self._drain, self._waiting, self._pid)
        try:
            self._waiting.put_nowait(delivery_ids)
        except queue.Full:
            logger.warning("%d webhook deliveries wait for beat: the broker is slow", len(delivery_ids))

    def _send(self, waiting: "queue.Queue[list[int]]") -> None:
        while True:
            delivery_ids = waiting.get()
            try:
                send_deliveries.delay(delivery_ids)
            except Exception:
                logger.warning("could not queue %d webhook deliveries; beat will send them", len(delivery_ids))
            finally:
                waiting.task_done()

    def _drain(self, waiting: "queue.Queue[list[int]]", pid: int) -> None:
        if pid != os.getpid():
            return  # a forked child's copy of its parent's queue, which no thread of its own sends
        ends = time.monotonic() + self.DRAIN_SECONDS
        while waiting.unfinished_tasks and time.monotonic() < ends:
            time.sleep(0.05)


_handover = _Handover()


def send_on_commit(delivery_ids: list[int]) -> None:
    transaction.on_commit(lambda: _handover.put(delivery_ids))


def webhook_delivery(webhook: Webhook, occurrence: Occurrence, delivery_id: uuid.UUID | None = None) -> Delivery:
    delivery = Delivery(webhook=webhook, event=occurrence.kind)
    if delivery_id is not None:
        delivery.delivery_id = delivery_id
    public = webhook.project.public
    if webhook.format == Format.CLOUDEVENTS:
        delivery.content_type = CLOUDEVENTS_MEDIA_TYPE
        delivery.body = cloudevents_body(occurrence, public, str(delivery.delivery_id), webhook.pk)
    else:
        delivery.content_type = JSON_MEDIA_TYPE
        delivery.body = harbor_body(occurrence, public)
    return delivery


def _endpoint_delivery(endpoint: str, kind: str, events: list[dict[str, object]]) -> Delivery:
    return Delivery(
        endpoint=endpoint, event=kind, content_type=REGISTRY_EVENTS_MEDIA_TYPE, body=registry_envelope(events)
    )


def _webhooks_wanting(kind: str, projects: Iterable[str]) -> list[Webhook]:
    # Filtered here rather than in SQL: JSON containment differs between Postgres and SQLite,
    # and a project has a handful of webhooks.
    found = Webhook.objects.filter(project__name__in=list(projects)).select_related("project")
    return [webhook for webhook in found if kind in webhook.events]


def _repository_of(resource: str) -> str:
    # `team/app:v1`, `team/app@sha256:…` or `team/app`: names hold neither `:` nor `@`.
    return re.split(r"[:@]", resource, maxsplit=1)[0]


def _occurrence_of(event: AuditEvent, kind: str) -> Occurrence:
    repository = "" if kind == Event.RETENTION else _repository_of(event.resource)
    detail = dict(event.detail)
    artifacts: tuple[Artifact, ...] = ()
    if kind == Event.PUSH:
        digest = str(detail.get("digest", ""))
        tag = event.resource.partition(":")[2] if ":" in event.resource.partition("@")[0] else ""
        size = (
            Manifest.objects.filter(repository__name=repository, digest=digest).values_list("size", flat=True).first()
        )
        artifacts = (Artifact(digest=digest, tag=tag, media_type=str(detail.get("media_type", "")), size=size),)
    elif kind == Event.DELETE:
        digests = [str(digest) for digest in detail.get("manifests", [])]
        tags = [str(tag) for tag in detail.get("tags", [])]
        # Which tag was on which image is gone with them; with one image, all were on it.
        if len(digests) == 1 and tags:
            artifacts = tuple(Artifact(digest=digests[0], tag=tag) for tag in tags)
        else:
            artifacts = tuple(Artifact(digest=digest) for digest in digests) + tuple(
                Artifact(digest="", tag=tag) for tag in tags
            )
    elif kind == Event.QUOTA and detail.get("digest"):
        artifacts = (Artifact(digest=str(detail["digest"])),)
    if event.action == actions.QUOTA_NEAR:
        detail["near"] = True
    return Occurrence(
        kind=kind,
        occurred_at=event.occurred_at,
        project=event.project,
        repository=repository,
        artifacts=artifacts,
        actor=event.actor_name,
        address=event.client_address,
        user_agent=event.user_agent,
        detail=detail,
    )


def _occurrence_of_pull(pull: Pull, manifest: tuple[str, int] | None) -> Occurrence:
    media_type, size = manifest if manifest is not None else ("", None)
    tag = "" if ":" in pull.reference else pull.reference
    return Occurrence(
        kind=Event.PULL,
        occurred_at=pull.time,
        project=project_name_of(pull.repository),
        repository=pull.repository,
        artifacts=(Artifact(digest=pull.digest, tag=tag, media_type=media_type, size=size),),
        actor=pull.subject,
        address=pull.address,
        user_agent=pull.user_agent,
        event_id=pull.event_id,
    )


def _chunks(items: list[dict[str, object]], size: int) -> Iterable[list[dict[str, object]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
