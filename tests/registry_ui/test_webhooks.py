"""The Webhooks tab: project admins add, change, pause, resume and test webhooks and read each
one's delivery log with "send again"; nobody else sees it."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.sealing import unseal
from tests.webhooks.receiver import Receiver
from webhooks.models import Delivery, Webhook
from webhooks.services.delivery import deliver_each, due_deliveries
from webhooks.services.webhooks import create_webhook

AsUser = Callable[[User], Client]
URL = "/projects/team/webhooks/"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_tab_is_for_project_admins_only(
    client: Client, as_user: AsUser, alice: User, maya: User, carol: User, team: Project
) -> None:
    webhook = create_webhook(team, url="http://ci/hooks", events=["push"])

    assert client.get(URL)["Location"].startswith("/login/")
    for outsider in (carol, maya):
        browser = as_user(outsider)
        assert browser.get(URL).status_code == 404
        assert browser.get(f"{URL}{webhook.pk}/").status_code == 404
        assert browser.post(f"{URL}{webhook.pk}/pause/").status_code == 404
        assert (
            browser.post(f"{URL}add/", {"url": "http://x/", "events": ["push"], "format": "harbor"}).status_code == 404
        )
    assert ">Webhooks</a>" not in as_user(maya).get("/projects/team/").content.decode()
    assert ">Webhooks</a>" in as_user(alice).get("/projects/team/").content.decode()
    assert Webhook.objects.get().enabled


def test_a_project_admin_adds_a_webhook_and_a_bad_url_is_a_form_message(as_user: AsUser, alice: User) -> None:
    browser = as_user(alice)

    for bad in ("ftp://ci/hooks", "http://[::1/hooks", "http://ci:99999/hooks"):
        refused = browser.post(f"{URL}add/", {"url": bad, "events": ["push"], "format": "harbor"})
        assert refused.status_code == 400
        assert "Give an http:// or https:// URL" in refused.content.decode()

    added = browser.post(
        f"{URL}add/", {"url": "http://ci/hooks", "events": ["push", "pull"], "format": "harbor", "secret": "s3"}
    )
    webhook = Webhook.objects.get()
    assert added["Location"] == f"{URL}{webhook.pk}/"
    assert (webhook.events, unseal(webhook.secret_sealed)) == (["pull", "push"], "s3")
    assert "<code>http://ci/hooks</code>" in browser.get(URL).content.decode()


def test_a_change_keeps_a_secret_left_blank_and_removes_it_when_asked(
    as_user: AsUser, alice: User, team: Project
) -> None:
    webhook = create_webhook(team, url="http://ci/hooks", events=["push"], secret="kept")
    browser = as_user(alice)
    form = {"url": "http://ci/other", "events": ["delete"], "format": "cloudevents", "secret": ""}

    assert browser.post(f"{URL}{webhook.pk}/change/", form).status_code == 302
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.format, unseal(webhook.secret_sealed)) == (
        "http://ci/other",
        ["delete"],
        "cloudevents",
        "kept",
    )
    assert browser.post(f"{URL}{webhook.pk}/change/", {**form, "remove_secret": "on"}).status_code == 302
    webhook.refresh_from_db()
    assert webhook.secret_sealed == ""


def test_pause_resume_test_event_delivery_log_and_send_again(
    as_user: AsUser, alice: User, team: Project, receiver: Receiver
) -> None:
    webhook = create_webhook(team, url=receiver.url, events=["push"])
    browser = as_user(alice)
    detail = f"{URL}{webhook.pk}/"

    browser.post(f"{detail}pause/")
    page = browser.get(detail).content.decode()
    assert "paused</span> Paused by hand" in page and ">Resume</button>" in page

    assert browser.post(f"{detail}test/").status_code == 302
    assert deliver_each(due_deliveries()) == 1, "a test event reaches a paused webhook"
    page = browser.get(detail).content.decode()
    assert 'badge-ok">delivered' in page and "<td>200</td>" in page and " ms</td>" in page
    assert "{&quot;ok&quot;: true}" not in page, "the answer is for system administrators only"

    delivery = Delivery.objects.get()
    resent = browser.post(f"{detail}deliveries/{delivery.pk}/resend/", follow=True)
    assert messages_of(resent) == ["Sending it again."]
    assert Delivery.objects.get().state == "pending"

    browser.post(f"{detail}pause/", {"resume": "1"})
    assert Webhook.objects.get().enabled
    assert browser.post(f"{detail}remove/").status_code == 302
    assert not Webhook.objects.exists()
