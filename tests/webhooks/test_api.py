"""`/api/v1/projects/<name>/webhooks/`: project admins and system administrators manage a project's
webhooks; members below admin are refused, strangers do not learn the project exists; secrets
are write-only and sealed at rest."""

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from accounts.sealing import unseal
from audit.models import AuditEvent
from tests.conftest import basic_auth
from webhooks.models import Delivery, Webhook
from webhooks.services.webhooks import create_webhook

pytestmark = pytest.mark.django_db

URL = "/api/v1/projects/team/webhooks/"
RECEIVER = "http://ci/hooks/registry"


def as_user(username: str | None) -> Client:
    return Client(HTTP_AUTHORIZATION=basic_auth(username)) if username else Client()


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("persona", "status"),
    [("root", 201), ("alice", 201), ("maya", 403), ("carol", 404), (None, 401)],
)
def test_only_project_admins_and_system_administrators_add_webhooks(
    persona: str | None, status: int, admin_user: User, alice: User, maya: User, carol: User
) -> None:
    answer = post(as_user(persona), URL, {"url": RECEIVER, "events": ["push", "pull"], "secret": "s"})

    assert answer.status_code == status, answer.content
    assert Webhook.objects.count() == (1 if status == 201 else 0)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("root", 200), ("alice", 200), ("maya", 403), ("carol", 404), (None, 401)],
)
def test_only_project_admins_and_system_administrators_read_change_and_remove_them(
    persona: str | None, status: int, team: Project, admin_user: User, alice: User, maya: User, carol: User
) -> None:
    webhook = create_webhook(team, url=RECEIVER, events=["push"])
    detail = f"{URL}{webhook.pk}/"
    client = as_user(persona)

    assert client.get(URL).status_code == status
    assert client.get(detail).status_code == status
    assert client.get(f"{detail}deliveries/").status_code == status
    assert patch(client, detail, {"events": ["delete"]}).status_code == status
    assert client.post(f"{detail}test/").status_code == (202 if status == 200 else status)
    assert client.delete(detail).status_code == (204 if status == 200 else status)
    assert Webhook.objects.exists() == (status != 200)


def test_a_webhook_is_made_changed_paused_resumed_and_removed_with_its_secrets_never_shown(
    alice: User, team: Project
) -> None:
    client = as_user("alice")

    made = post(
        client,
        URL,
        {"url": RECEIVER, "events": ["push", "delete"], "secret": "sign me", "auth_header": "Bearer ci-token"},
    )

    assert made.status_code == 201, made.content
    shown = made.json()
    assert "secret" not in shown and "auth_header" not in shown
    assert (shown["has_secret"], shown["has_auth_header"], shown["format"], shown["enabled"]) == (
        True,
        True,
        "harbor",
        True,
    )
    webhook = Webhook.objects.get()
    assert "sign me" not in webhook.secret_sealed and unseal(webhook.secret_sealed) == "sign me"
    assert unseal(webhook.auth_header_sealed) == "Bearer ci-token"
    detail = f"{URL}{webhook.pk}/"

    paused = patch(client, detail, {"enabled": False, "format": "cloudevents", "secret": ""})
    assert paused.status_code == 200, paused.content
    assert paused.json()["enabled"] is False
    assert paused.json()["paused_reason"].startswith("Paused by hand")
    assert (paused.json()["format"], paused.json()["has_secret"]) == ("cloudevents", False)
    resumed = patch(client, detail, {"enabled": True}).json()
    assert (resumed["enabled"], resumed["paused_reason"]) == (True, "")

    assert client.post(f"{detail}test/").status_code == 202
    (logged,) = client.get(f"{detail}deliveries/").json()
    assert (logged["event"], logged["state"], logged["attempts"]) == ("test", "pending", 0)
    assert client.post(f"{detail}deliveries/{logged['id']}/resend/").status_code == 202
    assert client.delete(detail).status_code == 204
    assert not Delivery.objects.exists()
    assert list(AuditEvent.objects.filter(action__startswith="webhook.").values_list("action", "actor_name")) == [
        ("webhook.add", "alice"),
        ("webhook.change", "alice"),
        ("webhook.change", "alice"),
        ("webhook.remove", "alice"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://ci/hooks", "events": ["push"]}, "url"),
        ({"url": "http:///hooks", "events": ["push"]}, "url"),
        ({"url": RECEIVER, "events": []}, "events"),
        ({"url": RECEIVER, "events": ["scan"]}, "events"),
        ({"url": RECEIVER, "events": ["push"], "format": "slack"}, "format"),
        ({"url": RECEIVER, "events": ["push"], "auth_header": "Bearer a\r\nX-Injected: 1"}, "auth_header"),
        ({"url": "http://[::1/hooks", "events": ["push"]}, "url"),
        ({"url": "http://ci:99999/hooks", "events": ["push"]}, "url"),
        ({"url": "http://ci/hooks\r\nX-Injected: 1", "events": ["push"]}, "url"),
        ({"url": "http://ci/ho oks", "events": ["push"]}, "url"),
        # Shown in the API, the dashboard and the audit log: a password belongs in auth_header, sealed.
        ({"url": "https://ci-user:hunter2@ci/hooks", "events": ["push"]}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(body: dict[str, Any], field: str, alice: User) -> None:
    answer = post(as_user("alice"), URL, body)

    assert answer.status_code == 400
    assert field in answer.json()
    assert not Webhook.objects.exists()


def test_another_projects_webhook_is_not_found_through_this_project(alice: User, team: Project) -> None:
    other = create_webhook(Project.objects.create(name="other"), url=RECEIVER, events=["push"])

    assert as_user("alice").get(f"{URL}{other.pk}/").status_code == 404


def test_the_lists_cost_the_same_queries_for_one_webhook_or_delivery_as_for_many(alice: User, team: Project) -> None:
    client = as_user("alice")
    webhook = create_webhook(team, url=RECEIVER, events=["push"])
    deliveries = f"{URL}{webhook.pk}/deliveries/"
    assert client.post(f"{URL}{webhook.pk}/test/").status_code == 202

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured.captured_queries)

    one_webhook, one_delivery = queries(URL), queries(deliveries)
    for number in range(4):
        create_webhook(team, url=f"{RECEIVER}/{number}", events=["pull"], secret="s")
        assert client.post(f"{URL}{webhook.pk}/test/").status_code == 202

    assert queries(URL) == one_webhook
    assert queries(deliveries) == one_delivery
    assert len(client.get(URL).json()) == 5 and len(client.get(deliveries).json()) == 5


def test_a_dashboard_session_changes_webhooks_only_with_the_csrf_token(alice: User, team: Project) -> None:
    webhook = create_webhook(team, url=RECEIVER, events=["push"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert post(browser, URL, {"url": "http://ci/other", "events": ["push"]}).status_code == 403
    assert patch(browser, f"{URL}{webhook.pk}/", {"enabled": False}).status_code == 403
    assert browser.post(f"/projects/team/webhooks/{webhook.pk}/pause/").status_code == 403
    assert browser.post(f"{URL}{webhook.pk}/test/").status_code == 403

    assert Webhook.objects.get().enabled
    assert not Delivery.objects.exists()
