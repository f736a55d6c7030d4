"""Members and roles: members see them; project admins and system admins change them."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts.models import GroupMembership, Membership, Project, Role
from accounts.services import members

AsUser = Callable[[User], Client]


def test_the_members_page_needs_a_login(client: Client, team: Project) -> None:
    assert client.get("/projects/team/members/")["Location"].startswith("/login/")


def test_a_project_admin_sees_members_with_forms_to_change_them(as_user: AsUser, alice: User, bob: User) -> None:
    page = as_user(alice).get("/projects/team/members/").content.decode()
    assert "bob" in page and "Developer (pull, push)" in page
    assert 'action="/projects/team/members/add/"' in page
    assert 'action="/projects/team/members/bob/remove/"' in page


def test_a_collaborator_sees_members_but_no_forms(as_user: AsUser, alice: User, bob: User) -> None:
    page = as_user(bob).get("/projects/team/members/").content.decode()
    assert "alice" in page
    assert "/members/add/" not in page
    assert "/remove/" not in page


def test_an_outsider_gets_404_even_on_a_public_project(as_user: AsUser, carol: User, team: Project) -> None:
    Project.objects.filter(pk=team.pk).update(public=True)
    assert as_user(carol).get("/projects/team/members/").status_code == 404


def test_a_project_admin_adds_a_member(as_user: AsUser, alice: User, carol: User) -> None:
    response = as_user(alice).post("/projects/team/members/add/", {"username": "carol", "role": "guest"}, follow=True)
    assert b"carol is now a Guest (pull) of team." in response.content
    assert Membership.objects.get(user=carol).role == Role.GUEST


def test_adding_an_unknown_user_says_so_on_the_field(as_user: AsUser, alice: User) -> None:
    response = as_user(alice).post("/projects/team/members/add/", {"username": "nobody", "role": "guest"})
    assert response.status_code == 400
    assert b"There is no active user named nobody." in response.content


def test_adding_a_member_twice_says_to_change_the_role_instead(as_user: AsUser, alice: User, bob: User) -> None:
    response = as_user(alice).post("/projects/team/members/add/", {"username": "bob", "role": "guest"})
    assert response.status_code == 400
    assert b"bob is already a member of team; change their role instead." in response.content


def test_a_project_admin_changes_a_role(as_user: AsUser, alice: User, bob: User) -> None:
    response = as_user(alice).post("/projects/team/members/bob/role/", {"role": "maintainer"}, follow=True)
    assert b"bob is now a Maintainer" in response.content
    assert Membership.objects.get(user=bob).role == Role.MAINTAINER


def test_a_project_admin_removes_a_member_and_a_second_click_says_already_gone(
    as_user: AsUser, alice: User, bob: User
) -> None:
    client = as_user(alice)
    assert (
        b"bob is no longer a member of team." in client.post("/projects/team/members/bob/remove/", follow=True).content
    )
    assert (
        b"bob was already not a member of team."
        in client.post("/projects/team/members/bob/remove/", follow=True).content
    )


@pytest.mark.parametrize(
    "path, data",
    [
        ("/projects/team/members/add/", {"username": "carol", "role": "admin"}),
        ("/projects/team/members/alice/role/", {"role": "guest"}),
        ("/projects/team/members/alice/remove/", {}),
    ],
)
def test_a_collaborator_may_not_change_members(
    as_user: AsUser, alice: User, bob: User, carol: User, path: str, data: dict[str, str]
) -> None:
    response = as_user(bob).post(path, data, follow=True)
    assert b"Only admins of project team and system administrators may do this." in response.content
    assert Membership.objects.get(user=alice).role == Role.ADMIN
    assert not Membership.objects.filter(user=carol).exists()


def test_an_outsider_posting_gets_404(as_user: AsUser, alice: User, carol: User) -> None:
    assert as_user(carol).post("/projects/team/members/add/", {"username": "carol", "role": "admin"}).status_code == 404


def test_a_system_admin_manages_any_project(as_user: AsUser, root: User, carol: User, team: Project) -> None:
    as_user(root).post("/projects/team/members/add/", {"username": "carol", "role": "developer"})
    assert Membership.objects.get(user=carol).role == Role.DEVELOPER


def test_changing_members_needs_a_post(as_user: AsUser, alice: User) -> None:
    assert as_user(alice).get("/projects/team/members/add/").status_code == 405


# --- directory groups ------------------------------------------------------------------------


def test_a_project_admin_adds_a_directory_group_and_its_people_get_the_role(
    as_user: AsUser, alice: User, carol: User
) -> None:
    response = as_user(alice).post("/projects/team/groups/add/", {"group": "qa", "role": "guest"}, follow=True)

    assert b"Everyone in group qa is now a Guest (pull) of team." in response.content
    page = response.content.decode()
    assert 'action="/projects/team/groups/qa/remove/"' in page
    carol.groups.add(Group.objects.get(name="qa"))
    assert as_user(carol).get("/projects/team/").status_code == 200


def test_a_group_already_in_the_project_is_refused_on_the_form(as_user: AsUser, alice: User, team: Project) -> None:
    members.add_group(team, "qa", Role.GUEST)

    response = as_user(alice).post("/projects/team/groups/add/", {"group": "qa", "role": "admin"})

    assert response.status_code == 400
    assert b"Group qa is already in team; change its role instead." in response.content


def test_a_project_admin_changes_a_groups_role_and_removes_it(as_user: AsUser, alice: User, team: Project) -> None:
    members.add_group(team, "qa", Role.GUEST)
    browser = as_user(alice)

    changed = browser.post("/projects/team/groups/qa/role/", {"role": "maintainer"}, follow=True)
    assert b"Group qa is now a Maintainer (pull, push, delete)." in changed.content
    assert GroupMembership.objects.get(project=team).role == Role.MAINTAINER

    removed = browser.post("/projects/team/groups/qa/remove/", follow=True)
    assert b"Group qa is no longer in team." in removed.content
    assert not GroupMembership.objects.filter(project=team).exists()


def test_a_collaborator_sees_the_groups_but_may_not_change_them(as_user: AsUser, bob: User, team: Project) -> None:
    members.add_group(team, "qa", Role.GUEST)
    browser = as_user(bob)

    page = browser.get("/projects/team/members/").content.decode()
    assert "<td>qa</td>" in page and "/groups/add/" not in page
    browser.post("/projects/team/groups/qa/remove/")
    assert GroupMembership.objects.filter(project=team).exists()


def test_a_group_named_by_its_full_path_is_listed_changed_and_removed(
    as_user: AsUser, alice: User, team: Project
) -> None:
    """Keycloak's groups mapper sends full paths such as /engineering/devs by default."""
    members.add_group(team, "/engineering/devs", Role.GUEST)
    browser = as_user(alice)

    page = browser.get("/projects/team/members/")
    assert page.status_code == 200
    assert 'action="/projects/team/groups//engineering/devs/remove/"' in page.content.decode()

    changed = browser.post("/projects/team/groups//engineering/devs/role/", {"role": "maintainer"}, follow=True)
    assert b"Group /engineering/devs is now a Maintainer (pull, push, delete)." in changed.content
    assert GroupMembership.objects.get(project=team).role == Role.MAINTAINER

    removed = browser.post("/projects/team/groups//engineering/devs/remove/", follow=True)
    assert b"Group /engineering/devs is no longer in team." in removed.content
    assert not GroupMembership.objects.filter(project=team).exists()
