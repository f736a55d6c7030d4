"""Reading the audit log: one filter and one keyset page for the API and the Logs page, and the
CSV and JSON exports, streamed row by row.

Pages run newest first over (occurred_at, id), the order of the table's indexes: the cursor is
the last event's pair, so page ten thousand costs what page one does, and events written while
someone pages (a batch of pulls whose times lie in the past) never shift a page.
"""

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEvent

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_name",
    "client_address",
    "user_agent",
    "action",
    "project",
    "resource",
    "outcome",
    "detail",
)


class InvalidFilter(ValueError):
    """A filter value that does not parse; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EventFilter:
    """`user`: the actor's name, exactly; `action`: exactly, or every action under a prefix
    ending in a dot (`tag.` or `user.`); `resource`: a part of the resource's name; `since` and
    `until`: the time range, `until` excluded."""

    user: str = ""
    action: str = ""
    resource: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "EventFilter":
        """The filter a query string names. Raises InvalidFilter."""
        return cls(
            user=query.get("user", "").strip(),
            action=query.get("action", "").strip(),
            resource=query.get("resource", "").strip(),
            since=_time(query, "since"),
            until=_time(query, "until"),
        )

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.user:
            events = events.filter(actor_name=self.user)
        if self.action.endswith("."):
            events = events.filter(action__startswith=self.action)
        elif self.action:
            events = events.filter(action=self.action)
        if self.resource:
            events = events.filter(resource__contains=self.resource)
        if self.since is not None:
            events = events.filter(occurred_at__gte=self.since)
        if self.until is not None:
            events = events.filter(occurred_at__lt=self.until)
        return events


def _time(query: Mapping[str, str], field: str) -> datetime | None:
    """An ISO 8601 time (`2026-11-28T10:00:00Z`) or a date (`2026-11-28`, its midnight, UTC)."""
    text = query.get(field, "").strip()
    if not text:
        return None
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidFilter(field, f"{field}: give a date (2026-11-28) or a time (2026-11-28T10:00:00Z).")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def events_of(project: str | None) -> QuerySet[AuditEvent]:
    """Every event, or (`project` given) the events of that project only."""
    events = AuditEvent.objects.all()
    return events if project is None else events.filter(project=project)


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_cursor: str | None


def page(events: QuerySet[AuditEvent], after: str, size: int | None = None) -> EventPage:
    """The events after the cursor `after` ("" for the newest), newest first, DEFAULT_PAGE_SIZE
    unless `size` says. Raises InvalidFilter for a cursor this function did not make."""
    size = max(1, min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE))
    if after:
        occurred_at, event_id = _parse_cursor(after)
        events = events.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=event_id))
    found = list(events.order_by("-occurred_at", "-id")[: size + 1])
    shown = found[:size]
    return EventPage(shown, cursor_of(shown[-1]) if len(found) > size else None)


def cursor_of(event: AuditEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.occurred_at.isoformat()}|{event.id}".encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        time_text, _, id_text = text.partition("|")
        occurred_at = datetime.fromisoformat(time_text)
        return occurred_at, int(id_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidFilter("after", "after: not a cursor of this list; follow the `next` link.") from None


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_kind": event.actor_kind,
        "actor_name": event.actor_name,
        "client_address": event.client_address,
        "user_agent": event.user_agent,
        "action": event.action,
        "project": event.project,
        "resource": event.resource,
        "outcome": event.outcome,
        "detail": event.detail,
    }


def _in_order(events: QuerySet[AuditEvent]) -> Iterator[AuditEvent]:
    # A server-side cursor: an export of a year of pulls never sits in memory at once.
    return events.order_by("-occurred_at", "-id").iterator(chunk_size=2000)


def export_csv(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV, a header line first, newest first; `detail` as JSON in its column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(EXPORT_FIELDS))
    for event in _in_order(events):
        row = as_dict(event)
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
        yield line([row[field] for field in EXPORT_FIELDS])


def export_json(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as one JSON array, newest first, written one event at a time."""
    yield "["
    separator = ""
    for event in _in_order(events):
        yield separator + json.dumps(as_dict(event))
        separator = ","
    yield "]\n"
