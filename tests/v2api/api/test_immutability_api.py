"""`/api/v1/projects/<name>/immutable-tags/`: members read a project's immutability rules, project
admins and system admins add and delete them, and bad patterns are a 400 that says why.

Personas: root is a system admin; alice administers the private project `team`, maya maintains
it, dave develops in it, carol belongs to nothing.
"""

import pytest
from django.contrib.auth.models import User

from accounts.models import Project
from tests.accounts.conftest import Api
from v2api.models import ImmutableTagRule

pytestmark = pytest.mark.django_db


def test_a_project_admin_adds_a_rule_and_members_list_it(api: Api, alice: User, dave: User) -> None:
    created = api("post", "projects/team/immutable-tags/", alice, {"repositories": "app, web", "tags": "v*.*.*"})

    assert created.status_code == 201, created.content
    rule = ImmutableTagRule.objects.get()
    assert created.json() == {
        "id": rule.pk,
        "repositories": "app,web",
        "tags": "v*.*.*",
        "created_at": created.json()["created_at"],
    }
    listed = api("get", "projects/team/immutable-tags/", dave)
    assert listed.status_code == 200
    assert [item["tags"] for item in listed.json()] == ["v*.*.*"]


def test_repositories_default_to_every_one(api: Api, alice: User, team: Project) -> None:
    created = api("post", "projects/team/immutable-tags/", alice, {"tags": "release-*"})

    assert created.status_code == 201
    assert created.json()["repositories"] == "**"


def test_empty_patterns_are_refused_with_a_message(api: Api, alice: User, team: Project) -> None:
    response = api("post", "projects/team/immutable-tags/", alice, {"repositories": " , ", "tags": ""})

    assert response.status_code == 400
    assert response.json() == {
        "repositories": ["Name the repositories, e.g. ** for all of them."],
        "tags": ["Name the tags, e.g. v*.*.* or release-*."],
    }
    assert not ImmutableTagRule.objects.exists()


def test_only_project_admins_and_system_admins_add_or_delete_rules(
    api: Api, team: Project, maya: User, root: User
) -> None:
    rule = ImmutableTagRule.objects.create(project=team, tags="v*")

    assert api("post", "projects/team/immutable-tags/", maya, {"tags": "x"}).status_code == 403
    assert api("delete", f"projects/team/immutable-tags/{rule.pk}/", maya).status_code == 403
    assert api("delete", f"projects/team/immutable-tags/{rule.pk}/", root).status_code == 204
    assert not ImmutableTagRule.objects.exists()
    assert api("delete", f"projects/team/immutable-tags/{rule.pk}/", root).status_code == 404


def test_outsiders_do_not_see_a_private_project_nor_the_rules_of_a_public_one(
    api: Api, team: Project, shared: Project, carol: User
) -> None:
    assert api("get", "projects/team/immutable-tags/", carol).status_code == 404
    assert api("get", "projects/shared/immutable-tags/", carol).status_code == 403
    assert api("get", "projects/shared/immutable-tags/").status_code == 401


def test_a_rule_of_another_project_is_not_found(api: Api, alice: User, team: Project, shared: Project) -> None:
    other = ImmutableTagRule.objects.create(project=shared, tags="v*")

    assert api("delete", f"projects/team/immutable-tags/{other.pk}/", alice).status_code == 404
    assert ImmutableTagRule.objects.filter(pk=other.pk).exists()
