"""What each format says about an event: Harbor's webhook JSON, CloudEvents 1.0 (structured
mode, as Harbor sends it), and the registry:2 notification envelope.

One `Occurrence` describes the event whatever the format; the bodies are made when the delivery
is inserted and stored as sent, so retries carry the same bytes.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

REGISTRY_EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
CLOUDEVENTS_MEDIA_TYPE = "application/cloudevents+json"
JSON_MEDIA_TYPE = "application/json"

# Harbor's event types, and their CloudEvents names (Harbor 2.8's).
HARBOR_TYPES = {
    "push": "PUSH_ARTIFACT",
    "pull": "PULL_ARTIFACT",
    "delete": "DELETE_ARTIFACT",
    "quota": "QUOTA_EXCEED",
    "quota near": "QUOTA_WARNING",
    "retention": "TAG_RETENTION",
    "test": "PING",
}
CLOUDEVENTS_TYPES = {
    "push": "harbor.artifact.pushed",
    "pull": "harbor.artifact.pulled",
    "delete": "harbor.artifact.deleted",
    "quota": "harbor.quota.exceeded",
    "quota near": "harbor.quota.warning",
    "retention": "harbor.tag_retention.finished",
    "test": "harbor.ping",
}
# What registry:2 calls each, and the HTTP method of the request it reports.
REGISTRY_ACTIONS = {"push": ("push", "PUT"), "pull": ("pull", "GET"), "delete": ("delete", "DELETE")}


@dataclass(frozen=True)
class Artifact:
    digest: str
    tag: str = ""
    media_type: str = ""
    size: int | None = None


@dataclass(frozen=True)
class Occurrence:
    """One event, as every format needs it. `kind` is a webhooks Event value or "test"."""

    kind: str
    occurred_at: datetime
    project: str
    repository: str = ""
    artifacts: tuple[Artifact, ...] = ()
    actor: str = ""
    address: str = ""
    user_agent: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _registry_host() -> str:
    return urlsplit(settings.REGISTRY_PUBLIC_URL).netloc


def _dump(document: object) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def harbor_event_data(occurrence: Occurrence, public: bool) -> dict[str, Any]:
    """Harbor's `event_data`: the resources and their repository, or what the event is about."""
    host = _registry_host()
    data: dict[str, Any] = {}
    if occurrence.repository:
        resources = []
        for artifact in occurrence.artifacts:
            reference = f":{artifact.tag}" if artifact.tag else f"@{artifact.digest}"
            resource: dict[str, Any] = {"digest": artifact.digest, "tag": artifact.tag}
            resource["resource_url"] = f"{host}/{occurrence.repository}{reference}" if host else ""
            if artifact.size is not None:
                resource["size"] = artifact.size
            resources.append(resource)
        data["resources"] = resources
        data["repository"] = {
            "date_created": int(occurrence.occurred_at.timestamp()),
            "name": occurrence.repository.partition("/")[2],
            "namespace": occurrence.project,
            "repo_full_name": occurrence.repository,
            "repo_type": "public" if public else "private",
        }
    if occurrence.kind == "quota":
        used, quota = occurrence.detail.get("used_bytes"), occurrence.detail.get("quota_bytes")
        details = (
            f"project {occurrence.project} is nearly full: uses {used} of {quota} bytes"
            if occurrence.detail.get("near")
            else f"project {occurrence.project} quota exceeded: uses {used} of {quota} bytes,"
            f" needed {occurrence.detail.get('needed_bytes')}"
        )
        data["custom_attributes"] = {
            "Details": details,
            **{key: value for key, value in occurrence.detail.items() if key not in ("project", "near")},
        }
    elif occurrence.kind == "retention":
        deleted = [
            {"type": "image", "status": "SUCCESS", "name_tag": f"{repository}:{tag}"}
            for repository, tags in dict(occurrence.detail.get("tags", {})).items()
            for tag in tags
        ]
        data["retention"] = {
            "total": len(deleted),
            "HarborHostname": host,
            "ProjectName": occurrence.project,
            "Status": "SUCCESS",
            "DeletedArtifact": deleted,
        }
    elif occurrence.kind == "test":
        data["message"] = "A test event sent from the registry's dashboard or API."
    return data


def _type_key(occurrence: Occurrence) -> str:
    return "quota near" if occurrence.kind == "quota" and occurrence.detail.get("near") else occurrence.kind


def harbor_body(occurrence: Occurrence, public: bool) -> str:
    """Harbor's default webhook JSON: type, occur_at (Unix seconds), operator and event_data."""
    return _dump(
        {
            "type": HARBOR_TYPES[_type_key(occurrence)],
            "occur_at": int(occurrence.occurred_at.timestamp()),
            "operator": occurrence.actor,
            "event_data": harbor_event_data(occurrence, public),
        }
    )


def cloudevents_body(occurrence: Occurrence, public: bool, delivery_id: str, webhook_id: int) -> str:
    """A CloudEvents 1.0 event in structured mode: its `id` is the delivery's, so a receiver
    de-duplicates on it as CloudEvents intends (source plus id)."""
    return _dump(
        {
            "specversion": "1.0",
            "id": delivery_id,
            "source": f"/projects/{occurrence.project}/webhooks/{webhook_id}",
            "type": CLOUDEVENTS_TYPES[_type_key(occurrence)],
            "time": occurrence.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": JSON_MEDIA_TYPE,
            "operator": occurrence.actor,
            "data": harbor_event_data(occurrence, public),
        }
    )


def registry_events(occurrence: Occurrence) -> list[dict[str, Any]]:
    """registry:2's events for this occurrence: one per artifact, as it sends one per manifest.
    Empty for the events registry:2 does not know (quota, retention)."""
    if occurrence.kind not in REGISTRY_ACTIONS:
        return []
    action, method = REGISTRY_ACTIONS[occurrence.kind]
    base_url = settings.REGISTRY_PUBLIC_URL
    host = _registry_host()
    events = []
    for index, artifact in enumerate(occurrence.artifacts):
        # A tag deleted by name, its image staying, is named without a digest (as registry:2 does).
        target: dict[str, Any] = {"repository": occurrence.repository}
        if artifact.digest:
            target["digest"] = artifact.digest
        if artifact.media_type:
            target["mediaType"] = artifact.media_type
        if artifact.size is not None:
            target["size"] = target["length"] = artifact.size
        if base_url and artifact.digest and action != "delete":
            target["url"] = f"{base_url}/v2/{occurrence.repository}/manifests/{artifact.digest}"
        if artifact.tag:
            target["tag"] = artifact.tag
        events.append(
            {
                # Several events of one occurrence (a delete of several images) each get their own.
                "id": occurrence.event_id
                if index == 0
                else str(uuid.uuid5(uuid.UUID(occurrence.event_id), str(index))),
                "timestamp": occurrence.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "action": action,
                "target": target,
                "request": {
                    "id": occurrence.event_id,
                    "addr": occurrence.address,
                    "host": host,
                    "method": method,
                    "useragent": occurrence.user_agent,
                },
                "actor": {"name": occurrence.actor},
                "source": {"addr": host},
            }
        )
    return events


def registry_envelope(events: list[dict[str, Any]]) -> str:
    return _dump({"events": events})
