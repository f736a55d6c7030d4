"""The immutable tags tab: members read the rules, project admins add and remove them, and the
dashboard's own delete is refused naming the rule."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Project
from tests.conftest import PushedImage
from v2api.models import ImmutableTagRule, Job, Tag

AsUser = Callable[[User], Client]
URL = "/projects/team/immutable-tags/"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_tab_needs_a_login_and_membership(client: Client, as_user: AsUser, carol: User, team: Project) -> None:
    assert client.get(URL)["Location"].startswith("/login/")
    assert as_user(carol).get(URL).status_code == 404


def test_a_developer_reads_the_rules_but_may_not_change_them(as_user: AsUser, bob: User, team: Project) -> None:
    rule = ImmutableTagRule.objects.create(project=team, tags="v*.*.*")
    client = as_user(bob)

    page = client.get(URL).content.decode()
    assert "<code>v*.*.*</code>" in page
    assert "Add a rule" not in page and "Remove" not in page
    assert client.post(f"{URL}add/", {"repositories": "**", "tags": "x"}).status_code == 404
    assert client.post(f"{URL}{rule.pk}/remove/").status_code == 404
    assert ImmutableTagRule.objects.count() == 1


def test_a_project_admin_adds_and_removes_a_rule(as_user: AsUser, alice: User) -> None:
    client = as_user(alice)
    assert f'href="{URL}"' in client.get("/projects/team/").content.decode()

    added = client.post(f"{URL}add/", {"repositories": "app", "tags": "v*.*.*, release-*"}, follow=True)

    assert messages_of(added) == ["Tags v*.*.*,release-* are immutable from now on."]
    rule = ImmutableTagRule.objects.get()
    assert (rule.repositories, rule.tags) == ("app", "v*.*.*,release-*")
    removed = client.post(f"{URL}{rule.pk}/remove/", follow=True)
    assert messages_of(removed) == ["Rule removed: the tags it named may move and be deleted again."]
    assert "No rules: every tag may be moved and deleted." in removed.content.decode()


def test_a_blank_pattern_is_refused_on_its_field(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).post(f"{URL}add/", {"repositories": "**", "tags": " , "})

    assert response.status_code == 400
    assert "Name the tags, e.g. v*.*.* or release-*." in response.content.decode()
    assert not ImmutableTagRule.objects.exists()


@pytest.mark.parametrize("selection", [{"mode": "tags", "tag": "1.0"}, {"mode": "repository"}])
def test_deleting_an_immutable_tag_from_the_dashboard_is_refused_naming_the_rule(
    as_user: AsUser, maya: User, team: Project, app_image: PushedImage, selection: dict[str, str]
) -> None:
    rule = ImmutableTagRule.objects.create(project=team, tags="1.*")
    client = as_user(maya)

    for send in (client.get, client.post):
        refused = send("/repositories/team/app/-/delete/", selection, follow=True)
        assert refused.redirect_chain == [("/repositories/team/app/", 302)]
        assert messages_of(refused) == [
            f"Nothing was deleted: tag 1.0 is immutable (rule {rule.pk}: repositories **, tags 1.*)."
        ]
    assert Tag.objects.filter(name="1.0").exists()
    assert not Job.objects.exists()
