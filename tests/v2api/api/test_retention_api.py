"""`/api/v1/projects/<name>/retention/`: members read a project's retention policy, project admins
and system admins replace it, and the simulation lists exactly what a run then deletes and frees.

Personas: root is a system admin (and pushes the test images); alice administers the private
project `team`, maya maintains it, dave develops in it, carol belongs to nothing; `shared` is
public and has no members.
"""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from accounts.models import Project
from tests.accounts.conftest import Api, CaptureOnCommit
from tests.conftest import PushImage
from tests.tasks.conftest import bytes_on_disk
from v2api.models import Job, RetentionPolicy, RetentionRule, Tag

pytestmark = pytest.mark.django_db

RULE = {"repositories": "**", "tags": "*", "keep_most_recent": 1, "keep_days": None}


def save_policy(project: Project, *rules: dict[str, Any], **fields: Any) -> RetentionPolicy:
    policy = RetentionPolicy.objects.create(project=project, **fields)
    for rule in rules:
        RetentionRule.objects.create(policy=policy, **rule)
    return policy


def push_tags(push_image: PushImage, name: str, count: int) -> None:
    """`count` tags, each on its own image, pushed one minute apart (build-0 oldest)."""
    for number in range(count):
        push_image(name, tag=f"build-{number}", layers=[f"{name} layer {number}".encode() * 10])
        Tag.objects.filter(repository__name=name, name=f"build-{number}").update(
            updated_at=timezone.now() - timedelta(minutes=count - number)
        )


# --- reading the policy ----------------------------------------------------------------------


def test_a_project_that_never_saved_a_policy_shows_the_defaults(api: Api, dave: User) -> None:
    response = api("get", "projects/team/retention/", dave)
    assert response.status_code == 200
    assert response.json() == {
        "project": "team",
        "enabled": False,
        "delete_untagged": False,
        "always_keep_tags": "",
        "rules": [],
        "updated_at": None,
    }
    assert not RetentionPolicy.objects.exists()


def test_a_member_reads_the_policy_and_its_rules_in_order(api: Api, dave: User, team: Project) -> None:
    save_policy(
        team,
        {"tags": "build-*", "keep_most_recent": 5},
        {"repositories": "web", "keep_days": 30},
        enabled=True,
        always_keep_tags="v*",
    )

    body = api("get", "projects/team/retention/", dave).json()

    assert (body["enabled"], body["delete_untagged"], body["always_keep_tags"]) == (True, False, "v*")
    assert body["rules"] == [
        {"repositories": "**", "tags": "build-*", "keep_most_recent": 5, "keep_days": None},
        {"repositories": "web", "tags": "*", "keep_most_recent": None, "keep_days": 30},
    ]


def test_a_system_admin_reads_the_policy_of_a_project_they_do_not_belong_to(
    api: Api, root: User, team: Project
) -> None:
    assert api("get", "projects/team/retention/", root).status_code == 200


def test_an_outsider_may_not_read_a_public_projects_policy(api: Api, carol: User, shared: Project) -> None:
    response = api("get", "projects/shared/retention/", carol)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only members of project shared may see its retention rules."}


def test_a_private_projects_policy_is_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    response = api("get", "projects/team/retention/", carol)
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no project team, or you may not see it."}


def test_an_anonymous_caller_may_not_read_a_policy(api: Api, shared: Project) -> None:
    assert api("get", "projects/shared/retention/").status_code == 401


def test_a_robot_may_not_read_its_projects_policy(api: Api, alice: User, team: Project) -> None:
    robot = api("post", "projects/team/robots/", alice, {"name": "ci", "can_pull": True}).json()
    assert api("get", "projects/team/retention/", (robot["login_name"], robot["secret"])).status_code == 403


def test_the_policy_of_a_missing_project_is_404(api: Api, root: User) -> None:
    response = api("get", "projects/nothing/retention/", root)
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no project nothing, or you may not see it."}


# --- replacing the policy --------------------------------------------------------------------


def test_a_project_admin_saves_a_policy_with_its_rules(api: Api, alice: User, team: Project) -> None:
    body = {"enabled": True, "delete_untagged": True, "always_keep_tags": "release-*", "rules": [RULE]}

    response = api("put", "projects/team/retention/", alice, body)

    assert response.status_code == 200
    assert response.json()["rules"] == [RULE]
    assert response.json()["updated_at"] is not None
    policy = RetentionPolicy.objects.get(project=team)
    assert (policy.enabled, policy.delete_untagged, policy.always_keep_tags) == (True, True, "release-*")
    assert list(policy.rules.values_list("keep_most_recent", flat=True)) == [1]


def test_saving_again_replaces_the_rules(api: Api, alice: User, team: Project) -> None:
    save_policy(team, {"keep_most_recent": 3}, {"keep_days": 7})
    new_rule = {"repositories": "web", "tags": "nightly-*", "keep_most_recent": None, "keep_days": 14}

    body = api("put", "projects/team/retention/", alice, {"rules": [new_rule]}).json()

    assert body["rules"] == [new_rule]
    assert RetentionRule.objects.count() == 1
    assert RetentionPolicy.objects.count() == 1


def test_globs_are_saved_as_the_dashboard_saves_them(api: Api, alice: User, team: Project) -> None:
    body = {"always_keep_tags": "v*, release-*", "rules": [{**RULE, "tags": " build-* ,"}]}
    saved = api("put", "projects/team/retention/", alice, body).json()
    assert (saved["always_keep_tags"], saved["rules"][0]["tags"]) == ("v*,release-*", "build-*")


def test_fields_left_out_of_a_put_take_their_defaults(api: Api, alice: User, team: Project) -> None:
    save_policy(team, enabled=True, delete_untagged=True, always_keep_tags="v*")

    body = api("put", "projects/team/retention/", alice, {"rules": []}).json()

    assert (body["enabled"], body["delete_untagged"], body["always_keep_tags"]) == (False, False, "")


def test_a_system_admin_saves_any_projects_policy(api: Api, root: User, team: Project) -> None:
    assert api("put", "projects/team/retention/", root, {"rules": [RULE]}).status_code == 200
    assert RetentionRule.objects.count() == 1


@pytest.mark.parametrize("persona", ["maya", "dave"])
def test_members_who_are_not_project_admins_may_not_change_the_policy(
    api: Api, persona: str, maya: User, dave: User
) -> None:
    response = api("put", "projects/team/retention/", User.objects.get(username=persona), {"rules": [RULE]})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only admins of project team and system administrators may do this."}
    assert not RetentionPolicy.objects.exists()


def test_an_anonymous_caller_may_not_change_a_policy(api: Api, shared: Project) -> None:
    assert api("put", "projects/shared/retention/", None, {"rules": [RULE]}).status_code == 401


def test_a_rule_that_keeps_by_count_and_by_age_is_refused_naming_the_field(
    api: Api, alice: User, team: Project
) -> None:
    rule = {**RULE, "keep_most_recent": 3, "keep_days": 7}
    response = api("put", "projects/team/retention/", alice, {"rules": [RULE, rule]})
    assert response.status_code == 400
    message = "Give either a number of tags to keep or a number of days, not both."
    assert response.json() == {"rules": {"1": {"keep_days": [message]}}}


def test_a_rule_that_keeps_by_neither_count_nor_age_is_refused(api: Api, alice: User, team: Project) -> None:
    response = api("put", "projects/team/retention/", alice, {"rules": [{"tags": "*"}]})
    assert response.status_code == 400
    assert list(response.json()["rules"]["0"]) == ["keep_days"]


@pytest.mark.parametrize("field", ["repositories", "tags"])
@pytest.mark.parametrize("pattern", ["", " , "])
def test_an_empty_glob_is_refused_naming_the_field(
    api: Api, alice: User, team: Project, field: str, pattern: str
) -> None:
    response = api("put", "projects/team/retention/", alice, {"rules": [{**RULE, field: pattern}]})
    assert response.status_code == 400
    assert list(response.json()["rules"]["0"]) == [field]


def test_a_negative_count_is_refused_naming_the_field(api: Api, alice: User, team: Project) -> None:
    response = api("put", "projects/team/retention/", alice, {"rules": [{**RULE, "keep_most_recent": -1}]})
    assert response.status_code == 400
    assert "keep_most_recent" in response.json()["rules"]["0"]


def test_keeping_tags_pushed_within_zero_days_is_refused_naming_the_field(api: Api, alice: User, team: Project) -> None:
    rule = {**RULE, "keep_most_recent": None, "keep_days": 0}
    response = api("put", "projects/team/retention/", alice, {"rules": [rule]})
    assert response.status_code == 400
    assert list(response.json()["rules"]["0"]) == ["keep_days"]


def test_a_put_without_rules_is_refused_naming_the_field(api: Api, alice: User, team: Project) -> None:
    response = api("put", "projects/team/retention/", alice, {"enabled": True})
    assert response.status_code == 400
    assert list(response.json()) == ["rules"]


def test_a_refused_put_changes_nothing(api: Api, alice: User, team: Project) -> None:
    save_policy(team, {"keep_most_recent": 3}, enabled=True)
    api("put", "projects/team/retention/", alice, {"enabled": False, "rules": [{"tags": ""}]})
    policy = RetentionPolicy.objects.get()
    assert policy.enabled
    assert list(policy.rules.values_list("keep_most_recent", flat=True)) == [3]


# --- the simulation --------------------------------------------------------------------------


def test_the_simulation_lists_exactly_what_a_run_then_deletes_and_frees(
    api: Api,
    root: User,
    alice: User,
    team: Project,
    push_image: PushImage,
    eager: CaptureOnCommit,
    storage_root: Path,
) -> None:
    api("put", "projects/team/retention/", alice, {"rules": [RULE]})
    push_tags(push_image, "team/app", 3)
    push_tags(push_image, "team/web", 2)

    simulated = api("post", "projects/team/retention/simulation/", alice)
    before = bytes_on_disk(storage_root)
    with eager(execute=True):
        run = api("post", "jobs/", alice, {"kind": "retention", "project": "team"})
        collection = api("post", "jobs/", root, {"kind": "garbage_collection", "grace_seconds": 0})

    assert simulated.status_code == 200
    plan = simulated.json()
    assert plan["tags"] == {"team/app": ["build-0", "build-1"], "team/web": ["build-0"]}
    assert (plan["project"], plan["tags_deleted"], plan["manifests_deleted"]) == ("team", 3, 3)
    ran = Job.objects.get(id=run.json()["id"])
    collected = Job.objects.get(id=collection.json()["id"])
    assert ran.result == plan
    assert collected.result["bytes_freed"] == plan["bytes_to_free"] == before - bytes_on_disk(storage_root) > 0
    assert sorted(Tag.objects.values_list("repository__name", "name")) == [
        ("team/app", "build-2"),
        ("team/web", "build-1"),
    ]


def test_the_simulation_deletes_nothing(api: Api, dave: User, team: Project, push_image: PushImage) -> None:
    save_policy(team, RULE)
    push_tags(push_image, "team/app", 2)

    assert api("post", "projects/team/retention/simulation/", dave).json()["tags_deleted"] == 1
    assert Tag.objects.count() == 2


def test_a_project_without_rules_simulates_removing_nothing(api: Api, dave: User, push_image: PushImage) -> None:
    push_tags(push_image, "team/app", 2)
    assert api("post", "projects/team/retention/simulation/", dave).json() == {
        "project": "team",
        "tags_deleted": 0,
        "manifests_deleted": 0,
        "bytes_to_free": 0,
        "restorable_until": None,
        "tags": {},
    }


def test_an_outsider_may_not_simulate_a_public_projects_rules(api: Api, carol: User, shared: Project) -> None:
    assert api("post", "projects/shared/retention/simulation/", carol).status_code == 403


def test_the_simulation_of_a_private_project_is_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    assert api("post", "projects/team/retention/simulation/", carol).status_code == 404


def test_an_anonymous_caller_may_not_simulate(api: Api, shared: Project) -> None:
    assert api("post", "projects/shared/retention/simulation/").status_code == 401


# --- the OpenAPI schema ----------------------------------------------------------------------


def test_the_schema_lists_the_retention_paths(api: Api) -> None:
    document = json.loads(api("get", "schema/?format=json").content)
    policy = document["paths"]["/api/v1/projects/{project_name}/retention/"]
    assert set(policy) >= {"get", "put"}
    assert "post" in document["paths"]["/api/v1/projects/{project_name}/retention/simulation/"]
