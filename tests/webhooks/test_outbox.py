"""The outbox end to end in one process: a change's deliveries commit with it, a real HTTP
receiver on loopback gets signed events in each format, a receiver that is down gets its event
once it is back (once), a webhook that keeps failing is paused, and pulls reach webhooks and
registry:2 listeners through the flush, never through the request."""

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Project
from accounts.scopes import PULL, repository_scope
from audit import actions, pulls
from audit.recorder import record
from tests.conftest import PushImage, bearer_auth, digest_of
from tests.v2api.test_fast_reads import fast_answer
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, Webhook
from webhooks.services.delivery import deliver_each, due_deliveries, purge_deliveries
from webhooks.services.webhooks import create_webhook, send_again, send_test, update_webhook

pytestmark = pytest.mark.django_db

SECRET = "a shared secret"
MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def send_due() -> int:
    """What beat's send_due_deliveries does."""
    return deliver_each(due_deliveries())


def time_passes() -> None:
    """Every waiting delivery is due now, as if its backoff had run out."""
    Delivery.objects.update(next_attempt_at=timezone.now())


def test_a_push_delivers_a_signed_harbor_event_whose_signature_verifies(
    team: Project, receiver: Receiver, push_image: PushImage, settings: Any
) -> None:
    settings.REGISTRY_PUBLIC_URL = "https://registry.lan"
    create_webhook(team, url=receiver.url, events=["push"], secret=SECRET, auth_header="Bearer receiver-token")

    image = push_image("team/app", "v1")

    assert send_due() == 1
    (got,) = receiver.wait_for(1)
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Harbor-Signature"], expected)
    assert got.headers["Authorization"] == "Bearer receiver-token"
    assert got.headers["Content-Type"] == "application/json"
    event = json.loads(got.body)
    assert event["type"] == "PUSH_ARTIFACT"
    assert event["operator"] == "root"
    assert event["event_data"]["resources"] == [
        {
            "digest": image.digest,
            "tag": "v1",
            "resource_url": "registry.lan/team/app:v1",
            "size": len(image.content),
        }
    ]
    assert event["event_data"]["repository"] | {"date_created": 0} == {
        "date_created": 0,
        "name": "app",
        "namespace": "team",
        "repo_full_name": "team/app",
        "repo_type": "private",
    }
    delivery = Delivery.objects.get()
    assert got.headers["Webhook-Id"] == str(delivery.delivery_id)
    assert (delivery.state, delivery.status_code, delivery.response_snippet) == ("delivered", 200, '{"ok": true}')
    assert delivery.latency_ms is not None


def test_deliveries_commit_with_the_change_or_not_at_all(team: Project, receiver: Receiver) -> None:
    create_webhook(team, url=receiver.url, events=["push"])
    digest = "sha256:" + "a" * 64

    with pytest.raises(RuntimeError), transaction.atomic():
        record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": digest})
        raise RuntimeError("the push failed after its event was recorded")
    assert not Delivery.objects.exists()

    with transaction.atomic():
        record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": digest})
    assert Delivery.objects.count() == 1


def test_only_webhooks_of_the_project_wanting_the_event_get_it(
    team: Project, receiver: Receiver, push_image: PushImage
) -> None:
    other = Project.objects.create(name="other")
    create_webhook(team, url=receiver.url + "/push", events=["push", "delete"])
    create_webhook(team, url=receiver.url + "/pulls", events=["pull"])
    create_webhook(other, url=receiver.url + "/other", events=["push"])

    push_image("team/app", "v1")

    assert [delivery.webhook.url for delivery in Delivery.objects.select_related("webhook")] == [receiver.url + "/push"]


def test_a_receiver_that_is_down_then_up_gets_the_event_once_with_the_same_id(
    team: Project, receiver: Receiver, push_image: PushImage
) -> None:
    create_webhook(team, url=receiver.url, events=["push"], secret=SECRET)
    push_image("team/app", "v1")
    receiver.stop()

    assert send_due() == 0
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.status_code) == ("pending", 1, None)
    assert "Connection refused" in delivery.error
    assert delivery.next_attempt_at > timezone.now()
    assert send_due() == 0, "not due again before its backoff"
    assert Delivery.objects.get().attempts == 1

    receiver.start()
    time_passes()
    assert send_due() == 1
    time_passes()
    assert send_due() == 0

    assert len(receiver.wait_for(1)) == 1
    assert receiver.requests[0].headers["Webhook-Id"] == str(delivery.delivery_id)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.error) == ("delivered", 2, "")


def test_a_webhook_failing_again_and_again_is_paused_and_resuming_sends_what_waited(
    team: Project, receiver: Receiver, push_image: PushImage, settings: Any
) -> None:
    settings.REGISTRY_WEBHOOK_PAUSE_AFTER_FAILURES = 3
    webhook = create_webhook(team, url=receiver.url, events=["push"])
    receiver.status = 503
    push_image("team/app", "v1")

    for _ in range(3):
        time_passes()
        assert send_due() == 0
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert "after 3 failed deliveries in a row; the last: answered 503" in webhook.paused_reason

    push_image("team/app", "v2", layers=[b"another layer"])
    time_passes()
    assert send_due() == 0
    assert len(receiver.requests) == 3, "a paused webhook is not called"
    assert Delivery.objects.filter(state="pending").count() == 2, "nothing is dropped while paused"

    receiver.status = 200
    update_webhook(webhook, enabled=True)
    assert send_due() == 2
    webhook.refresh_from_db()
    assert (webhook.enabled, webhook.paused_reason, webhook.consecutive_failures) == (True, "", 0)
    assert [json.loads(r.body)["event_data"]["resources"][0]["tag"] for r in receiver.wait_for(2)] == ["v1", "v2"]


def test_a_delete_reaches_a_cloudevents_webhook_as_a_structured_cloudevent(
    team: Project, receiver: Receiver, push_image: PushImage, client: Client
) -> None:
    webhook = create_webhook(team, url=receiver.url, events=["delete"], format="cloudevents")
    image = push_image("team/app", "v1")
    assert not Delivery.objects.exists()

    assert client.delete(f"/v2/team/app/manifests/{image.digest}").status_code == 202

    assert send_due() == 1
    (got,) = receiver.wait_for(1)
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    event = json.loads(got.body)
    assert event["specversion"] == "1.0"
    assert event["id"] == got.headers["Webhook-Id"]
    assert event["type"] == "harbor.artifact.deleted"
    assert event["source"] == f"/projects/team/webhooks/{webhook.pk}"
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    assert [(resource["digest"], resource["tag"]) for resource in event["data"]["resources"]] == [(image.digest, "v1")]


def test_a_push_refused_by_the_quota_sends_a_quota_event(team: Project, receiver: Receiver, client: Client) -> None:
    team.quota_bytes = 10
    team.save()
    create_webhook(team, url=receiver.url, events=["quota"])
    layer = b"more than ten bytes"

    refused = client.post(
        f"/v2/team/app/blobs/uploads/?digest={digest_of(layer)}", data=layer, content_type="application/octet-stream"
    )

    assert refused.status_code == 403
    assert send_due() == 1
    event = json.loads(receiver.wait_for(1)[0].body)
    assert event["type"] == "QUOTA_EXCEED"
    assert event["event_data"]["custom_attributes"]["needed_bytes"] == len(layer)
    assert event["event_data"]["resources"] == [{"digest": digest_of(layer), "tag": "", "resource_url": ""}]


def test_pulls_reach_webhooks_and_registry_listeners_through_the_flush_and_not_the_request(
    team: Project, receiver: Receiver, push_image: PushImage, admin_user: User, settings: Any
) -> None:
    settings.REGISTRY_NOTIFICATION_URLS = [receiver.url + "/registry"]
    settings.REGISTRY_NOTIFICATION_HEADERS = {"Authorization": "Bearer listener"}
    create_webhook(team, url=receiver.url + "/webhook", events=["pull"])
    image = push_image("team/app", "v1")
    assert send_due() == 1  # the push's envelope to the listener
    headers = {"Accept": MANIFEST_ACCEPT, "Authorization": bearer_auth(admin_user, repository_scope("team/app", PULL))}

    with CaptureQueriesContext(connection) as queries:
        assert fast_answer("GET", "/v2/team/app/manifests/v1", headers) is not None
        assert fast_answer("GET", f"/v2/team/app/manifests/{image.digest}", headers) is not None
    assert not [query for query in queries.captured_queries if "webhooks_" in query["sql"]]
    assert not Delivery.objects.filter(event="pull").exists()

    assert pulls.flush_pulls() == 2
    assert send_due() == 3  # one per pull to the webhook, one envelope of both to the listener

    received = {request.path: request for request in receiver.wait_for(4)}
    assert json.loads(received["/hooks/webhook"].body)["type"] == "PULL_ARTIFACT"
    push_envelope, pull_envelope = [request for request in receiver.received if request.path == "/hooks/registry"]
    assert pull_envelope.headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"
    assert pull_envelope.headers["Authorization"] == "Bearer listener"
    assert [
        (e["action"], e["target"].get("tag"), e["request"]["method"]) for e in json.loads(pull_envelope.body)["events"]
    ] == [
        ("pull", "v1", "GET"),
        ("pull", None, "GET"),
    ]
    (pushed,) = json.loads(push_envelope.body)["events"]
    assert pushed["action"] == "push"
    assert pushed["actor"] == {"name": "root"}
    assert pushed["target"] == {
        "mediaType": MANIFEST_ACCEPT,
        "size": len(image.content),
        "length": len(image.content),
        "digest": image.digest,
        "repository": "team/app",
        "tag": "v1",
    }
    assert set(pushed) == {"id", "timestamp", "action", "target", "request", "actor", "source"}


def test_a_redirect_to_another_host_is_not_followed(team: Project, receiver: Receiver, push_image: PushImage) -> None:
    create_webhook(team, url=receiver.url, events=["push"], secret=SECRET)
    receiver.status = 307
    receiver.answer_headers = {"Location": f"http://localhost:{receiver.port}/elsewhere"}
    push_image("team/app", "v1")

    assert send_due() == 0

    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert delivery.status_code == 307
    assert "another host: not followed" in delivery.error


def test_a_test_event_reaches_a_paused_webhook_and_send_again_repeats_a_delivery(
    team: Project, receiver: Receiver
) -> None:
    webhook = create_webhook(team, url=receiver.url, events=["push"])
    update_webhook(webhook, enabled=False)

    delivery = send_test(Webhook.objects.get(), actor="alice")
    assert send_due() == 1
    send_again(delivery)
    assert send_due() == 1

    first, again = receiver.wait_for(2)
    assert json.loads(first.body)["type"] == "PING"
    assert first.body == again.body
    assert first.headers["Webhook-Id"] == again.headers["Webhook-Id"] == str(delivery.delivery_id)


def test_the_log_keeps_its_days_and_a_delivery_waiting_longer_is_given_up(team: Project, receiver: Receiver) -> None:
    webhook = create_webhook(team, url=receiver.url, events=["push"])
    old = timezone.now() - timedelta(days=31)
    for state in ("delivered", "pending"):
        Delivery.objects.create(webhook=webhook, event="push", content_type="application/json", body="{}", state=state)
    Delivery.objects.update(created_at=old, attempted_at=old)
    recent = Delivery.objects.create(webhook=webhook, event="push", content_type="application/json", body="{}")

    assert purge_deliveries(30) == (1, 1)

    given_up = Delivery.objects.exclude(pk=recent.pk).get()
    assert (given_up.state, given_up.error) == ("failed", "given up: not delivered within 30 days")
    assert purge_deliveries(30) == (0, 0), "shown in the log for another 30 days"
    assert Delivery.objects.get(pk=recent.pk).state == "pending"


def test_a_tag_deleted_by_name_reaches_a_registry_listener_as_a_delete_of_that_tag(
    team: Project, receiver: Receiver, push_image: PushImage, client: Client, settings: Any
) -> None:
    settings.REGISTRY_NOTIFICATION_URLS = [receiver.url]
    push_image("team/app", "v1")
    push_image("team/app", "v2")  # the same image: deleting v1 leaves it
    Delivery.objects.all().delete()

    assert client.delete("/v2/team/app/manifests/v1").status_code == 202

    assert send_due() == 1
    (deleted,) = json.loads(receiver.wait_for(1)[0].body)["events"]
    assert (deleted["action"], deleted["target"], deleted["request"]["method"]) == (
        "delete",
        {"repository": "team/app", "tag": "v1"},
        "DELETE",
    )


def test_a_flush_of_pulls_written_twice_makes_their_deliveries_once_with_the_same_ids(
    team: Project, receiver: Receiver, push_image: PushImage, admin_user: User, settings: Any, monkeypatch: Any
) -> None:
    settings.REGISTRY_NOTIFICATION_URLS = [receiver.url + "/registry"]
    create_webhook(team, url=receiver.url + "/webhook", events=["pull"], format="cloudevents")
    push_image("team/app", "v1")
    Delivery.objects.all().delete()
    headers = {"Accept": MANIFEST_ACCEPT, "Authorization": bearer_auth(admin_user, repository_scope("team/app", PULL))}
    assert fast_answer("GET", "/v2/team/app/manifests/v1", headers) is not None
    pulls._outbox.send()

    # The batch commits, then Redis goes away before the flush drops it from the buffer: the next
    # flush writes the same pulls again (their audit events are ignored as already there).
    buffer_class = type(pulls.buffer())
    drop = buffer_class.drop

    def redis_gone(self: Any, count: int) -> None:
        monkeypatch.setattr(buffer_class, "drop", drop)
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(buffer_class, "drop", redis_gone)
    with pytest.raises(ConnectionError):
        pulls.flush_pulls()
    first = sorted(Delivery.objects.values_list("delivery_id", flat=True))
    assert pulls.flush_pulls() == 1

    assert sorted(Delivery.objects.values_list("delivery_id", flat=True)) == first
    assert len(first) == 2, "one to the webhook, one envelope to the listener"
    assert send_due() == 2
