"""Where a webhook may point. A project admin (not a system administrator) chooses its URL, so it
must not reach the registry's host itself (loopback: the registry's own ports, Postgres, Redis) nor
link-local addresses (cloud metadata at 169.254.169.254), unless REGISTRY_WEBHOOK_ALLOWED_NETWORKS
allows them. Checked when a webhook is saved and again on each attempt, at the address connected
to. Other private networks are where CI servers live: allowed."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from audit import actions
from audit.recorder import record
from tests.conftest import basic_auth
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, Webhook
from webhooks.services.delivery import deliver_each, due_deliveries
from webhooks.services.webhooks import create_webhook, update_webhook

pytestmark = pytest.mark.django_db

URL = "/api/v1/projects/team/webhooks/"
DIGEST = "sha256:" + "d" * 64


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api/v1/users/",
        "http://localhost:6379/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://0.0.0.0:5432/",
        "http://[fe80::1]/",
    ],
)
def test_a_project_admin_cannot_point_a_webhook_at_the_registrys_host_or_link_local_addresses(
    url: str, alice: User, settings: Any
) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = []
    client = Client(HTTP_AUTHORIZATION=basic_auth("alice"))

    answer = post(client, URL, {"url": url, "events": ["push"]})

    assert answer.status_code == 400, answer.content
    assert "REGISTRY_WEBHOOK_ALLOWED_NETWORKS" in answer.json()["url"][0]
    assert not Webhook.objects.exists()


def test_a_lan_address_and_a_name_are_fine(alice: User, settings: Any) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = []
    client = Client(HTTP_AUTHORIZATION=basic_auth("alice"))

    for url in ("http://10.1.2.3/hooks", "https://192.168.10.4:8443/hooks", "http://ci/hooks"):
        assert post(client, URL, {"url": url, "events": ["push"]}).status_code == 201


def test_an_allowed_network_is_accepted(alice: User, settings: Any) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client = Client(HTTP_AUTHORIZATION=basic_auth("alice"))

    assert post(client, URL, {"url": "http://127.0.0.1:9000/hooks", "events": ["push"]}).status_code == 201


def test_a_webhook_saved_before_the_rule_is_not_called_and_says_why(
    team: Project, receiver: Receiver, settings: Any
) -> None:
    # Made before the rule existed: saved as it is, never checked.
    webhook = Webhook.objects.create(project=team, url=receiver.url, events=["push"])
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = []
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": DIGEST})

    assert deliver_each(due_deliveries()) == 0

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.status_code) == ("pending", None)
    assert "127.0.0.1" in delivery.error and "REGISTRY_WEBHOOK_ALLOWED_NETWORKS" in delivery.error
    # Pausing or resuming it is not refused over its URL (only a changed URL is checked).
    update_webhook(webhook, enabled=False)
    assert update_webhook(webhook, enabled=True).enabled


def test_a_name_resolving_to_loopback_is_refused_when_sent(team: Project, receiver: Receiver, settings: Any) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    # Saved unchecked, as a name that resolved elsewhere when it was saved would be.
    Webhook.objects.create(project=team, url=f"http://localhost:{receiver.port}/hooks", events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": DIGEST})

    assert deliver_each(due_deliveries()) == 0

    assert receiver.requests == []
    assert "127.0.0.1" in Delivery.objects.get().error


def test_registry_notification_endpoints_set_by_the_operator_may_be_on_loopback(
    team: Project, receiver: Receiver, settings: Any
) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = []
    settings.REGISTRY_NOTIFICATION_URLS = [receiver.url]
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": DIGEST})

    assert deliver_each(due_deliveries()) == 1
    assert len(receiver.wait_for(1)) == 1


def test_changing_the_url_to_a_loopback_address_is_refused(team: Project, settings: Any) -> None:
    settings.REGISTRY_WEBHOOK_ALLOWED_NETWORKS = []
    webhook = create_webhook(team, url="http://ci/hooks", events=["push"])

    with pytest.raises(Exception, match="REGISTRY_WEBHOOK_ALLOWED_NETWORKS"):
        update_webhook(webhook, url="http://127.0.0.1:8000/hooks")
    webhook.refresh_from_db()
    assert webhook.url == "http://ci/hooks"


def test_only_system_administrators_read_the_answers_of_receivers(
    team: Project, receiver: Receiver, alice: User, admin_user: User
) -> None:
    # A LAN service that answers a POST with what it holds: a project admin who points a webhook
    # at it must not read that through the delivery log.
    receiver.answer = b'{"internal": "what the LAN service holds"}'
    webhook = create_webhook(team, url=receiver.url, events=["push"])
    record(actions.PUSH, project="team", resource="team/app:v1", detail={"digest": DIGEST})
    assert deliver_each(due_deliveries()) == 1
    deliveries = f"{URL}{webhook.pk}/deliveries/"
    page = f"/projects/team/webhooks/{webhook.pk}/"

    (seen_by_alice,) = Client(HTTP_AUTHORIZATION=basic_auth("alice")).get(deliveries).json()
    (seen_by_root,) = Client(HTTP_AUTHORIZATION=basic_auth("root")).get(deliveries).json()

    assert (seen_by_alice["status_code"], seen_by_alice["response_snippet"]) == (200, None)
    assert seen_by_root["response_snippet"] == '{"internal": "what the LAN service holds"}'
    browser = Client()
    browser.force_login(alice)
    assert "what the LAN service holds" not in browser.get(page).content.decode()
    browser.force_login(admin_user)
    assert "what the LAN service holds" in browser.get(page).content.decode()
