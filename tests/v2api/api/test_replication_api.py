"""`/api/v1/replication-rules/`: system administrators add, read, change and delete replication
rules; the remote's password is sealed and never shown; bad values are a 400 that says why; a run
of a remote that does not answer fails with the remote's name. Copies themselves are end to end
(tests/e2e/test_replication.py).

Personas: root is a system admin; alice administers the project `team`.
"""

import socket
from typing import Any

import pytest
from django.contrib.auth.models import User

from accounts.models import Project
from accounts.sealing import unseal
from audit.models import AuditEvent
from tests.accounts.conftest import Api
from v2api.models import Job, ReplicationRule

pytestmark = pytest.mark.django_db

RULE = {
    "name": "to-dr-site",
    "direction": "push",
    "remote_url": "https://dr.example.lan/",
    "remote_username": "robot$mirror+push",
    "remote_password": "s3cret",
    "project": "team",
    "tags": "v*, !v*-rc*",
    "remote_namespace": "/mirror/",
}


def test_a_system_admin_adds_a_rule_whose_password_is_sealed_and_never_shown(
    api: Api, root: User, team: Project
) -> None:
    created = api("post", "replication-rules/", root, RULE)

    assert created.status_code == 201, created.content
    rule = ReplicationRule.objects.get()
    body = created.json()
    assert body == {
        **{key: value for key, value in RULE.items() if key != "remote_password"},
        "id": rule.id,
        "remote_url": "https://dr.example.lan",
        "tags": "v*,!v*-rc*",
        "remote_namespace": "mirror",
        "repositories": "**",
        "has_remote_password": True,
        "trigger": "manual",
        "schedule_seconds": None,
        "enabled": True,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert "s3cret" not in rule.remote_password_sealed
    assert unseal(rule.remote_password_sealed) == "s3cret"
    assert [item["name"] for item in api("get", "replication-rules/", root).json()] == ["to-dr-site"]


def test_only_system_admins_see_or_change_rules(api: Api, alice: User, team: Project) -> None:
    assert api("post", "replication-rules/", alice, RULE).status_code == 403
    assert api("get", "replication-rules/", alice).status_code == 403
    assert api("get", "replication-rules/", None).status_code == 401
    assert not ReplicationRule.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"remote_url": "ftp://dr.example.lan"}, "remote_url", "Give the remote registry as http(s)://host[:port]"),
        ({"remote_url": "https://[::1"}, "remote_url", "Give the remote registry as http(s)://host[:port]"),
        ({"remote_url": "https://dr.example.lan:port"}, "remote_url", "Give the remote registry as http(s)://host"),
        ({"tags": " , "}, "tags", "Give at least one glob"),
        ({"trigger": "schedule"}, "schedule_seconds", "A schedule runs at most every 60 seconds."),
        ({"direction": "pull", "trigger": "on_push"}, "trigger", "Only a push rule runs on push"),
        ({"remote_namespace": "Not A Path"}, "remote_namespace", "Not a repository path on the remote"),
    ],
)
def test_a_bad_rule_is_refused_saying_why(
    api: Api, root: User, team: Project, change: dict[str, Any], field: str, message: str
) -> None:
    refused = api("post", "replication-rules/", root, {**RULE, **change})

    assert refused.status_code == 400
    assert refused.json()[field][0].startswith(message)
    assert not ReplicationRule.objects.exists()


def test_a_remote_url_with_credentials_in_it_is_refused_and_not_echoed(api: Api, root: User, team: Project) -> None:
    # Kept, the password would be in every answer that shows the rule and every error naming the remote.
    refused = api("post", "replication-rules/", root, {**RULE, "remote_url": "https://robot:hunter2@dr.example.lan"})

    assert refused.status_code == 400
    assert refused.json()["remote_url"] == ["Give the username and password in their own fields, not in the URL."]
    assert b"hunter2" not in refused.content
    assert not ReplicationRule.objects.exists()


def test_a_pull_into_a_proxy_cache_project_is_refused(api: Api, root: User) -> None:
    Project.objects.create(name="hub", proxy_url="https://registry-1.docker.io")

    refused = api("post", "replication-rules/", root, {**RULE, "direction": "pull", "project": "hub"})

    assert refused.status_code == 400
    assert "is a proxy cache" in refused.json()["project"][0]


def test_a_patch_changes_what_it_names_and_keeps_the_password(api: Api, root: User, team: Project) -> None:
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]

    changed = api("patch", f"replication-rules/{rule_id}/", root, {"trigger": "schedule", "schedule_seconds": 3600})

    assert changed.status_code == 200, changed.content
    assert (changed.json()["trigger"], changed.json()["schedule_seconds"]) == ("schedule", 3600)
    assert unseal(ReplicationRule.objects.get().remote_password_sealed) == "s3cret"
    removed = api("patch", f"replication-rules/{rule_id}/", root, {"remote_password": None})
    assert removed.json()["has_remote_password"] is False


def test_the_saved_password_does_not_follow_the_rule_to_another_remote(api: Api, root: User, team: Project) -> None:
    # Else whoever may edit the rule could point it at a host of theirs and be sent the password.
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]

    refused = api("patch", f"replication-rules/{rule_id}/", root, {"remote_url": "https://elsewhere.example"})
    moved = api(
        "patch",
        f"replication-rules/{rule_id}/",
        root,
        {"remote_url": "https://elsewhere.example", "remote_password": "another"},
    )

    assert refused.status_code == 400
    assert refused.json()["remote_password"] == [
        "The remote registry changed: give its password again; the saved one goes to no other host."
    ]
    assert moved.status_code == 200, moved.content
    rule = ReplicationRule.objects.get()
    assert (rule.remote_url, unseal(rule.remote_password_sealed)) == ("https://elsewhere.example", "another")


def test_adding_changing_and_deleting_a_rule_is_audited_without_its_password(
    api: Api, root: User, team: Project
) -> None:
    # A rule sends a project's images, with credentials, to another registry: who pointed it where
    # is for the audit log.
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]
    api(
        "patch",
        f"replication-rules/{rule_id}/",
        root,
        {"remote_url": "https://other.example", "remote_password": "hunter2-new"},
    )
    api("delete", f"replication-rules/{rule_id}/", root)

    events = AuditEvent.objects.filter(action__startswith="replication.").order_by("id")
    assert [(event.action, event.actor_name, event.project, event.resource) for event in events] == [
        ("replication.rule.add", "root", "team", "to-dr-site"),
        ("replication.rule.change", "root", "team", "to-dr-site"),
        ("replication.rule.remove", "root", "team", "to-dr-site"),
    ]
    assert events[1].detail["remote_url"] == "https://other.example"
    assert events[1].detail["password_changed"] is True
    assert not [event for event in events if "s3cret" in str(event.detail) or "hunter2-new" in str(event.detail)]


def test_a_second_rule_of_the_same_name_is_refused(api: Api, root: User, team: Project) -> None:
    api("post", "replication-rules/", root, RULE)

    again = api("post", "replication-rules/", root, RULE)

    assert again.status_code == 400
    assert again.json() == {"name": ["A replication rule with this name already exists."]}


def test_deleting_a_rule_keeps_its_runs(api: Api, root: User, team: Project, eager: Any) -> None:
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]
    Job.objects.create(kind=Job.Kind.REPLICATION, parameters={"rule": rule_id, "only": None})

    assert api("delete", f"replication-rules/{rule_id}/", root).status_code == 204
    assert api("get", f"replication-rules/{rule_id}/", root).status_code == 404
    assert Job.objects.filter(kind=Job.Kind.REPLICATION).count() == 1


def test_a_run_of_a_remote_that_does_not_answer_fails_naming_it(
    api: Api, root: User, team: Project, eager: Any
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    rule_id = api(
        "post", "replication-rules/", root, {**RULE, "direction": "pull", "remote_url": f"http://127.0.0.1:{port}"}
    ).json()["id"]

    with eager(execute=True):
        started = api("post", f"replication-rules/{rule_id}/runs/", root, {"dry_run": True})

    assert started.status_code == 202, started.content
    job = Job.objects.get(id=started.json()["id"])
    assert job.state == Job.State.FAILED
    assert f"the upstream http://127.0.0.1:{port} did not answer" in job.error
    runs = api("get", f"replication-rules/{rule_id}/runs/", root).json()
    assert [(run["id"], run["dry_run"]) for run in runs] == [(job.id, True)]


def test_a_retry_names_a_run_of_the_same_rule(api: Api, root: User, team: Project) -> None:
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]
    other = Job.objects.create(kind=Job.Kind.RETENTION, parameters={"project": "team"})

    refused = api("post", f"replication-rules/{rule_id}/runs/", root, {"retry_failed_of": other.id})

    assert refused.status_code == 400
    assert refused.json() == {"retry_failed_of": ["Not a run of this rule."]}


def test_the_jobs_api_starts_no_replication_without_its_rule(api: Api, root: User) -> None:
    refused = api("post", "jobs/", root, {"kind": "replication", "rule": 1})

    assert refused.status_code == 400
    assert "kind" in refused.json()


def test_a_run_of_a_rule_deleted_meanwhile_fails_saying_so(api: Api, root: User, team: Project, eager: Any) -> None:
    rule_id = api("post", "replication-rules/", root, RULE).json()["id"]
    with eager(execute=False) as pending:
        started = api("post", f"replication-rules/{rule_id}/runs/", root, {})
    ReplicationRule.objects.filter(id=rule_id).delete()

    for callback in pending:
        callback()

    job = Job.objects.get(id=started.json()["id"])
    assert (job.state, job.error) == (
        Job.State.FAILED,
        f"ReplicationFailed: replication rule {rule_id} was deleted before this run started",
    )
