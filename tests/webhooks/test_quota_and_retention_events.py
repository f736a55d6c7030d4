"""Quota and retention events where they happen: a push whose bytes take a project past its
warning level, a push the quota refuses, and a retention run that deleted tags."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from audit.models import AuditEvent
from tests.conftest import PushImage, digest_of
from tests.webhooks.receiver import Receiver
from v2api.models import RetentionPolicy, RetentionRule, Tag
from v2api.services.retention import apply_retention
from webhooks.services.delivery import deliver_each, due_deliveries
from webhooks.services.webhooks import create_webhook

pytestmark = pytest.mark.django_db


def upload(client: Client, data: bytes) -> int:
    """A monolithic blob upload into team/app; its status."""
    answer = client.post(
        f"/v2/team/app/blobs/uploads/?digest={digest_of(data)}", data=data, content_type="application/octet-stream"
    )
    return int(answer.status_code)


def test_a_push_crossing_the_warning_level_sends_a_warning_and_one_past_the_quota_an_exceeded_event(
    team: Project, receiver: Receiver, client: Client
) -> None:
    team.quota_bytes = 1000
    team.save()
    create_webhook(team, url=receiver.url, events=["quota"], format="cloudevents")

    assert upload(client, b"small" * 2) == 201  # 10 of 1000: nothing to say
    assert upload(client, b"a" * 900) == 201  # would be 900 of 1000: past 80 %
    assert upload(client, b"b" * 1100) == 403

    assert deliver_each(due_deliveries()) == 2
    events = [json.loads(request.body) for request in receiver.wait_for(2)]
    assert [event["type"] for event in events] == ["harbor.quota.warning", "harbor.quota.exceeded"]
    assert "nearly full: uses 900 of 1000 bytes" in events[0]["data"]["custom_attributes"]["Details"]
    assert events[1]["data"]["custom_attributes"]["needed_bytes"] == 1100
    assert list(AuditEvent.objects.filter(action__startswith="quota.").values_list("action", "outcome")) == [
        ("quota.near", "success"),
        ("quota.exceeded", "failure"),
    ]


def test_a_retention_run_that_deletes_tags_sends_one_retention_event_naming_them(
    team: Project, receiver: Receiver, push_image: PushImage
) -> None:
    create_webhook(team, url=receiver.url, events=["retention"])
    RetentionRule.objects.create(policy=RetentionPolicy.objects.create(project=team), keep_most_recent=1)
    for number in range(3):
        push_image("team/app", tag=f"build-{number}", layers=[f"layer {number}".encode()])
        Tag.objects.filter(name=f"build-{number}").update(updated_at=timezone.now() - timedelta(minutes=3 - number))

    apply_retention("team", dry_run=True)
    assert deliver_each(due_deliveries()) == 0, "a simulation sends nothing"
    apply_retention("team")
    apply_retention("team")  # nothing left to delete: no event

    assert deliver_each(due_deliveries()) == 1
    (event,) = [json.loads(request.body) for request in receiver.wait_for(1)]
    assert event["type"] == "TAG_RETENTION"
    retention = event["event_data"]["retention"]
    assert (retention["ProjectName"], retention["total"], retention["Status"]) == ("team", 2, "SUCCESS")
    assert sorted(artifact["name_tag"] for artifact in retention["DeletedArtifact"]) == [
        "team/app:build-0",
        "team/app:build-1",
    ]


def test_a_client_retrying_refused_uploads_records_one_quota_event_per_project_and_window(
    team: Project, receiver: Receiver, client: Client
) -> None:
    team.quota_bytes = 1000
    team.save()
    create_webhook(team, url=receiver.url, events=["quota"])

    # Two layers of one push that each cross the warning level (neither is referenced yet), then
    # a client retrying a refused layer again and again, as docker and skopeo do.
    assert upload(client, b"c" * 850) == 201
    assert upload(client, b"d" * 850) == 201
    refusals = [upload(client, bytes([n]) * 1100) for n in range(10)]

    assert refusals == [403] * 10, "every refusal is still a refusal"
    assert sorted(AuditEvent.objects.filter(action__startswith="quota.").values_list("action", flat=True)) == [
        "quota.exceeded",
        "quota.near",
    ]
    assert deliver_each(due_deliveries()) == 2
