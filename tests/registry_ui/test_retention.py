"""The retention tab: policy and rules for project admins, a simulation, and running them now."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from registry_ui.templatetags.sizes import binary_size
from tests.conftest import PushImage
from v2api.models import Job, RetentionPolicy, RetentionRule, Tag
from v2api.services.retention import plan_retention

AsUser = Callable[[User], Client]
URL = "/projects/team/retention/"


@pytest.fixture
def three_builds(team: Project, push_image: PushImage) -> None:
    for number in (1, 2, 3):
        push_image("team/app", f"build-{number}", layers=(b"shared base", f"build {number}".encode()))


def add_rule(client: Client, **fields: Any) -> Any:
    return client.post(f"{URL}rules/add/", {"repositories": "**", "tags": "build-*", **fields})


def test_retention_needs_a_login(client: Client, team: Project) -> None:
    assert client.get(URL)["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", ["bob", "maya", "carol"])
def test_only_project_admins_see_the_tab(as_user: AsUser, persona: str, request: pytest.FixtureRequest) -> None:
    client = as_user(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 404
    assert add_rule(client, keep="most_recent", count=1).status_code == 404
    assert client.post(f"{URL}run/").status_code == 404
    assert not RetentionRule.objects.exists() and not Job.objects.exists()


def test_a_project_admin_adds_and_removes_a_rule(as_user: AsUser, alice: User) -> None:
    client = as_user(alice)
    assert 'href="/projects/team/retention/"' in client.get("/projects/team/").content.decode()
    assert add_rule(client, keep="most_recent", count=2)["Location"] == URL
    rule = RetentionRule.objects.get()
    assert (rule.tags, rule.keep_most_recent, rule.keep_days) == ("build-*", 2, None)
    assert "the 2 most recently pushed" in client.get(URL).content.decode()
    client.post(f"{URL}rules/{rule.pk}/remove/")
    assert not RetentionRule.objects.exists()
    again = client.post(f"{URL}rules/{rule.pk}/remove/", follow=True)
    assert "That rule was already removed." in again.content.decode()


def test_a_rule_that_keeps_zero_days_is_refused_on_its_field(as_user: AsUser, alice: User) -> None:
    response = add_rule(as_user(alice), keep="days", count=0)
    assert response.status_code == 400
    assert "Keep tags pushed within at least one day." in response.content.decode()
    assert not RetentionRule.objects.exists()


def test_a_project_admin_saves_the_policy(as_user: AsUser, alice: User) -> None:
    as_user(alice).post(f"{URL}policy/", {"enabled": "on", "always_keep_tags": " v* , release-* "})
    policy = RetentionPolicy.objects.get()
    assert (policy.enabled, policy.delete_untagged, policy.always_keep_tags) == (True, False, "v*,release-*")


def test_the_simulation_lists_the_tags_and_the_bytes_plan_retention_frees(
    as_user: AsUser, alice: User, three_builds: None
) -> None:
    client = as_user(alice)
    add_rule(client, keep="most_recent", count=1)
    Tag.objects.filter(name="build-3").update(updated_at="2030-01-01T00:00:00Z")
    response = client.get(URL, {"simulate": "1"})
    plan = plan_retention("team")
    text = response.content.decode()
    assert plan.tags_by_repository == {"team/app": ["build-1", "build-2"]}
    assert "<code>build-1</code>" in text and "<code>build-2</code>" in text and "<code>build-3</code>" not in text
    assert f'data-bytes-freed="{plan.bytes_freed}"' in text and binary_size(plan.bytes_freed) in text
    assert Tag.objects.count() == 3


def test_run_now_requests_a_retention_job(
    as_user: AsUser, root: User, three_builds: None, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(root)
    add_rule(client, keep="most_recent", count=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}run/")
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.state, job.parameters) == (Job.Kind.RETENTION, Job.State.SUCCEEDED, {"project": "team"})
    assert Tag.objects.count() == 1
    assert "Retention in project team" in client.get(response["Location"]).content.decode()
