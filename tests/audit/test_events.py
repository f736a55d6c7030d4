"""The services record what they change, attributed to whoever made the request, whichever door
it came through: /v2/, the token service, the management API, the dashboard, a job."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from accounts.services import members
from audit.models import AuditEvent
from tests.audit.conftest import events
from tests.conftest import PASSWORD, PushImage, basic_auth
from v2api.models import Job
from v2api.services import jobs
from v2api.services.job_requests import DeletionRequest, GarbageCollectionRequest

pytestmark = pytest.mark.django_db

AGENT = "skopeo/1.9.3"


def test_a_push_is_recorded_with_its_pusher_address_and_client(push_image: PushImage) -> None:
    pushed = push_image("team/app", tag="1.0")

    [event] = AuditEvent.objects.filter(action="manifest.push")
    assert (event.actor_kind, event.actor_name, event.project, event.resource) == (
        "user",
        "root",
        "team",
        "team/app:1.0",
    )
    assert event.detail["digest"] == pushed.digest
    assert event.client_address == "127.0.0.1"
    assert event.outcome == "success"


def test_deleting_a_tag_and_an_image_through_v2_records_who_deleted_what(push_image: PushImage, client: Client) -> None:
    first = push_image("team/app", tag="1.0", layers=[b"one"])
    push_image("team/app", tag="2.0", layers=[b"two"])

    assert client.delete("/v2/team/app/manifests/2.0", HTTP_USER_AGENT=AGENT).status_code == 202
    assert client.delete(f"/v2/team/app/manifests/{first.digest}").status_code == 202

    assert events(action__endswith=".delete") == [
        ("tag.delete", "user", "root", "team/app:2.0"),
        ("image.delete", "user", "root", f"team/app@{first.digest}"),
    ]
    tag_deletion = AuditEvent.objects.get(action="tag.delete")
    assert tag_deletion.user_agent == AGENT
    assert AuditEvent.objects.get(action="image.delete").detail["tags"] == ["1.0"]


def test_a_refused_delete_records_nothing(push_image: PushImage, client: Client) -> None:
    push_image("team/app", tag="1.0")

    assert client.delete("/v2/team/app/manifests/nope").status_code == 404

    assert events(action__endswith=".delete") == []


def test_docker_login_failed_and_succeeded_at_the_token_service(carol: User) -> None:
    browser = Client()

    refused = browser.get("/auth/token?service=harbor-lite", HTTP_AUTHORIZATION=basic_auth("carol", "wrong"))
    granted = browser.get("/auth/token?service=harbor-lite", HTTP_AUTHORIZATION=basic_auth("carol"))

    assert (refused.status_code, granted.status_code) == (401, 200)
    assert events() == [("login.failed", "user", "carol", "carol"), ("login", "user", "carol", "carol")]
    failed = AuditEvent.objects.get(action="login.failed")
    assert (failed.outcome, failed.detail, failed.client_address) == ("failure", {"channel": "token"}, "127.0.0.1")


def test_a_failed_basic_login_on_v2_is_recorded_but_not_each_successful_request(root: User) -> None:
    assert Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("root", "wrong")).status_code == 401
    assert Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("root")).status_code == 200

    assert events() == [("login.failed", "user", "root", "root")]


def test_a_robot_that_fails_to_log_in_is_recorded_as_a_robot(db: None) -> None:
    Client().get("/v2/", HTTP_AUTHORIZATION=basic_auth("robot$team+ci", "hl_robot_wrong"))

    assert events() == [("login.failed", "robot", "robot$team+ci", "robot$team+ci")]


def test_dashboard_logins_are_recorded(carol: User) -> None:
    browser = Client()

    browser.post("/login/", {"username": "carol", "password": "wrong"})
    browser.post("/login/", {"username": "carol", "password": PASSWORD})

    assert events() == [("login.failed", "user", "carol", "carol"), ("login", "user", "carol", "carol")]
    assert AuditEvent.objects.get(action="login").detail == {"channel": "dashboard"}


def test_a_role_change_through_the_api_names_the_project_admin_and_both_roles(
    team: Project, alice: User, maya: User
) -> None:
    response = Client().patch(
        "/api/v1/projects/team/members/maya/",
        data={"role": "guest"},
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("alice"),
    )

    assert response.status_code == 200, response.content
    [event] = AuditEvent.objects.filter(action="member.role.change")
    assert (event.actor_name, event.project, event.resource) == ("alice", "team", "maya")
    assert event.detail == {"role": "guest", "previous_role": "maintainer"}


def test_users_made_and_changed_by_an_admin_through_api_and_dashboard(root: User) -> None:
    api = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    made = api.post(
        "/api/v1/users/",
        data={"username": "erin", "password": PASSWORD, "is_admin": False},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    changed = api.patch(
        f"/api/v1/users/{made.json()['id']}/",
        data={"is_admin": True, "password": PASSWORD + "!", "is_active": False},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    dashboard = Client()
    dashboard.force_login(root)
    dashboard.post("/admin/users/create/", {"username": "frank", "password": PASSWORD, "email": ""})

    assert events() == [
        ("user.create", "user", "root", "erin"),
        ("user.password.reset", "user", "root", "erin"),
        ("user.admin.grant", "user", "root", "erin"),
        ("user.deactivate", "user", "root", "erin"),
        ("user.create", "user", "root", "frank"),
    ]


def test_members_robots_and_project_settings_through_the_api(root: User, team: Project, carol: User) -> None:
    api = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    send = {"content_type": "application/json"}

    api.post("/api/v1/projects/team/members/", data={"username": "carol", "role": "developer"}, **send)
    api.delete("/api/v1/projects/team/members/carol/")
    api.post("/api/v1/projects/team/robots/", data={"name": "ci", "can_push": True}, **send)
    api.delete("/api/v1/projects/team/robots/ci/")
    api.patch("/api/v1/projects/team/", data={"public": True, "quota_bytes": 1000}, **send)
    api.post("/api/v1/projects/", data={"name": "other"}, **send)

    assert events() == [
        ("member.add", "user", "root", "carol"),
        ("member.remove", "user", "root", "carol"),
        ("robot.create", "user", "root", "robot$team+ci"),
        ("robot.revoke", "user", "root", "robot$team+ci"),
        ("project.visibility", "user", "root", "team"),
        ("project.quota", "user", "root", "team"),
        ("project.create", "user", "root", "other"),
    ]
    assert AuditEvent.objects.get(action="project.quota").detail == {"quota_bytes": 1000, "previous_quota_bytes": None}


def test_directory_groups_and_immutability_rules_through_the_api(root: User, team: Project) -> None:
    api = Client(HTTP_AUTHORIZATION=basic_auth("root"))
    send = {"content_type": "application/json"}

    api.post("/api/v1/projects/team/groups/", data={"group": "developers", "role": "developer"}, **send)
    api.patch("/api/v1/projects/team/groups/developers/", data={"role": "guest"}, **send)
    api.delete("/api/v1/projects/team/groups/developers/")
    rule = api.post("/api/v1/projects/team/immutable-tags/", data={"repositories": "**", "tags": "v*"}, **send)
    api.delete(f"/api/v1/projects/team/immutable-tags/{rule.json()['id']}/")

    rule_name = f"rule {rule.json()['id']}"
    assert events() == [
        ("group.add", "user", "root", "developers"),
        ("group.role.change", "user", "root", "developers"),
        ("group.remove", "user", "root", "developers"),
        ("immutable.rule.add", "user", "root", rule_name),
        ("immutable.rule.delete", "user", "root", rule_name),
    ]
    assert AuditEvent.objects.get(action="group.role.change").detail == {"role": "guest", "previous_role": "developer"}


def test_a_refused_change_records_nothing(team: Project) -> None:
    with pytest.raises(Exception, match="no active user"):
        members.add_member(team, "nobody", Role.GUEST)

    assert not Membership.objects.exists()
    assert events() == []


def test_a_job_deletes_in_the_name_of_who_asked_for_it_and_gc_runs_as_the_system(
    push_image: PushImage, root: User
) -> None:
    push_image("team/app", tag="1.0")
    job = jobs.record_job(DeletionRequest("team/app", whole_repository=True), requested_by=root)
    collection = jobs.record_job(GarbageCollectionRequest(grace_seconds=0))

    jobs.run_job(job.id)
    jobs.run_job(collection.id)

    assert Job.objects.filter(state=Job.State.SUCCEEDED).count() == 2
    deletion = AuditEvent.objects.get(action="repository.delete")
    assert (deletion.actor_name, deletion.resource, deletion.detail["via"]) == ("root", "team/app", f"job {job.id}")
    assert deletion.detail["tags"] == ["1.0"]
    gc = AuditEvent.objects.get(action="gc.run")
    assert (gc.actor_kind, gc.actor_name) == ("system", "")
    assert gc.detail["blobs_deleted"] >= 1
    assert json.loads(json.dumps(gc.detail)) == gc.detail
