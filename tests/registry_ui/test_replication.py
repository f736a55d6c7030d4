"""The Replication page: system administrators only; they add a rule (refused with the service's
message when it is wrong), edit it keeping its sealed password, start a run or a dry run (a job,
shown on the job page with the rule's name), and delete it. Copies are end to end
(tests/e2e/test_replication.py)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from accounts.sealing import unseal
from v2api.models import Job, ReplicationRule

pytestmark = pytest.mark.django_db

AsUser = Callable[[User], Client]
URL = "/admin/replication/"
FORM = {
    "name": "to-dr",
    "direction": "push",
    "project": "team",
    "remote_url": "https://dr.example.lan",
    "remote_username": "robot$mirror+push",
    "remote_password": "s3cret",
    "remote_namespace": "mirror",
    "repositories": "**",
    "tags": "v*",
    "trigger": "manual",
    "enabled": "on",
}


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_only_system_administrators_have_the_page(client: Client, as_user: AsUser, alice: User) -> None:
    assert client.get(URL)["Location"].startswith("/login/")
    assert as_user(alice).get(URL).status_code == 404
    assert as_user(alice).post(URL, FORM).status_code == 404
    assert not ReplicationRule.objects.exists()


def test_an_administrator_adds_a_rule_and_edits_it_keeping_the_password(
    as_user: AsUser, root: User, team: Project
) -> None:
    client = as_user(root)

    added = client.post(URL, FORM)

    rule = ReplicationRule.objects.get()
    assert added["Location"] == f"{URL}{rule.pk}/"
    assert unseal(rule.remote_password_sealed) == "s3cret"
    listing = client.get(URL).content.decode()
    assert "to-dr" in listing and "https://dr.example.lan/mirror" in listing and "never" in listing
    edit_page = client.get(f"{URL}{rule.pk}/").content.decode()
    assert "s3cret" not in edit_page and rule.remote_password_sealed not in edit_page

    edited = client.post(f"{URL}{rule.pk}/", {**FORM, "remote_password": "", "tags": "v*,!v*-rc*"})

    assert edited.status_code == 302
    rule.refresh_from_db()
    assert (rule.tags, unseal(rule.remote_password_sealed)) == ("v*,!v*-rc*", "s3cret")


def test_a_rule_moved_to_another_remote_asks_for_its_password_or_goes_without(
    as_user: AsUser, root: User, team: Project
) -> None:
    client = as_user(root)
    client.post(URL, FORM)
    rule = ReplicationRule.objects.get()
    moved = {**FORM, "remote_url": "http://mirror.internal:5000", "remote_password": ""}

    refused = client.post(f"{URL}{rule.pk}/", moved)
    without = client.post(f"{URL}{rule.pk}/", {**moved, "remove_password": "on"})

    assert refused.status_code == 400
    assert "The remote registry changed: give its password again" in refused.content.decode()
    assert without.status_code == 302
    rule.refresh_from_db()
    assert (rule.remote_url, rule.remote_password_sealed) == ("http://mirror.internal:5000", "")


def test_a_wrong_rule_is_refused_with_the_services_message(as_user: AsUser, root: User, team: Project) -> None:
    refused = as_user(root).post(URL, {**FORM, "trigger": "on_push", "direction": "pull"})

    assert refused.status_code == 400
    assert "Only a push rule runs on push" in refused.content.decode()
    assert not ReplicationRule.objects.exists()


def test_a_dry_run_is_a_job_named_after_the_rule(
    as_user: AsUser, root: User, team: Project, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client = as_user(root)
    client.post(URL, FORM)
    rule = ReplicationRule.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{URL}{rule.pk}/run/", {"dry_run": "1"})

    job = Job.objects.get()
    job.refresh_from_db()
    assert started["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.dry_run, job.parameters) == ("replication", True, {"rule": rule.pk, "only": None})
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Replication to-dr (dry run)" in job_page
    # The project holds nothing yet: nothing to list, and the remote is not asked.
    assert (job.state, job.result["items"]) == ("succeeded", [])
    assert f"/jobs/{job.pk}/" in client.get(f"{URL}{rule.pk}/").content.decode()


def test_deleting_a_rule_keeps_its_runs(as_user: AsUser, root: User, team: Project) -> None:
    client = as_user(root)
    client.post(URL, FORM)
    rule = ReplicationRule.objects.get()
    Job.objects.create(kind=Job.Kind.REPLICATION, parameters={"rule": rule.pk, "only": None})

    deleted = client.post(f"{URL}{rule.pk}/delete/", follow=True)

    assert "Replication rule to-dr deleted; its runs stay on the Jobs page." in messages_of(deleted)
    assert not ReplicationRule.objects.exists()
    assert f"Replication rule #{rule.pk} (deleted)" in client.get("/jobs/").content.decode()
