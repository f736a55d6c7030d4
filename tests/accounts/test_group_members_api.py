"""`/api/v1/projects/<name>/groups/`: directory groups with a role in a project. alice administers
`team`, dave develops in it, carol belongs to nothing (tests/accounts/conftest.py). A person's
groups are Django groups, as each directory login leaves them."""

import pytest
from django.contrib.auth.models import Group, User

from accounts.models import Project, Role
from accounts.permissions import Principal, allowed_actions, can_manage_project, visible_projects
from accounts.services import members
from tests.accounts.conftest import Api

pytestmark = pytest.mark.django_db


def in_group(user: User, name: str) -> User:
    user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def test_a_project_admin_adds_a_group_with_a_role_and_its_people_get_it(
    api: Api, alice: User, team: Project, carol: User
) -> None:
    response = api("post", "projects/team/groups/", alice, {"group": "developers", "role": "developer"})

    assert response.status_code == 201
    assert response.json() == {"group": "developers", "role": "developer"}
    assert allowed_actions(Principal.for_user(in_group(carol, "developers")), "team/app") == {"pull", "push"}
    assert list(visible_projects(Principal.for_user(carol))) == [team]


def test_a_group_may_be_added_before_any_of_its_people_logged_in(api: Api, alice: User, team: Project) -> None:
    assert api("post", "projects/team/groups/", alice, {"group": "auditors", "role": "guest"}).status_code == 201
    assert Group.objects.filter(name="auditors").exists()


def test_the_higher_of_a_persons_own_role_and_their_groups_counts(
    api: Api, team: Project, alice: User, dave: User
) -> None:
    api("post", "projects/team/groups/", alice, {"group": "release", "role": "maintainer"})
    api("post", "projects/team/groups/", alice, {"group": "everyone", "role": "guest"})

    actions = allowed_actions(Principal.for_user(in_group(in_group(dave, "release"), "everyone")), "team/app")

    assert actions == {"pull", "push", "delete"}


def test_a_groups_admin_role_lets_its_people_manage_the_project(
    api: Api, alice: User, team: Project, carol: User
) -> None:
    api("post", "projects/team/groups/", alice, {"group": "leads", "role": "admin"})
    in_group(carol, "leads")

    assert can_manage_project(Principal.for_user(carol), team)
    assert api("post", "projects/team/groups/", carol, {"group": "qa", "role": "guest"}).status_code == 201


def test_members_see_the_groups_and_only_managers_change_them(api: Api, alice: User, dave: User) -> None:
    api("post", "projects/team/groups/", alice, {"group": "developers", "role": "developer"})

    assert api("get", "projects/team/groups/", dave).json() == [{"group": "developers", "role": "developer"}]
    assert api("post", "projects/team/groups/", dave, {"group": "x", "role": "admin"}).status_code == 403
    assert api("delete", "projects/team/groups/developers/", dave).status_code == 403


def test_an_outsider_neither_sees_nor_adds_groups(api: Api, carol: User, team: Project) -> None:
    assert api("get", "projects/team/groups/", carol).status_code == 404
    assert api("post", "projects/team/groups/", carol, {"group": "x", "role": "admin"}).status_code == 404


def test_a_group_role_is_changed_and_the_group_removed(api: Api, alice: User, team: Project, carol: User) -> None:
    api("post", "projects/team/groups/", alice, {"group": "developers", "role": "developer"})
    in_group(carol, "developers")

    changed = api("patch", "projects/team/groups/developers/", alice, {"role": "guest"})
    assert changed.status_code == 200
    assert changed.json() == {"group": "developers", "role": "guest"}
    assert allowed_actions(Principal.for_user(carol), "team/app") == {"pull"}

    assert api("delete", "projects/team/groups/developers/", alice).status_code == 204
    assert allowed_actions(Principal.for_user(carol), "team/app") == set()
    assert api("delete", "projects/team/groups/developers/", alice).status_code == 404


def test_bad_group_requests_say_what_is_wrong(api: Api, alice: User, team: Project) -> None:
    api("post", "projects/team/groups/", alice, {"group": "developers", "role": "developer"})

    twice = api("post", "projects/team/groups/", alice, {"group": "developers", "role": "guest"})
    assert twice.status_code == 400
    assert "already in team" in twice.json()["group"][0]
    unknown_role = api("post", "projects/team/groups/", alice, {"group": "qa", "role": "owner"})
    assert unknown_role.status_code == 400
    assert list(unknown_role.json()) == ["role"]
    blank = api("post", "projects/team/groups/", alice, {"group": "  ", "role": Role.GUEST})
    assert blank.status_code == 400
    assert list(blank.json()) == ["group"]


def test_a_group_named_by_its_full_path_is_read_changed_and_removed(api: Api, alice: User, team: Project) -> None:
    """Keycloak's groups mapper sends full paths such as /engineering/devs by default."""
    added = api("post", "projects/team/groups/", alice, {"group": "/engineering/devs", "role": "guest"})
    assert added.status_code == 201

    read = api("get", "projects/team/groups//engineering/devs/", alice)
    assert (read.status_code, read.json()) == (200, {"group": "/engineering/devs", "role": "guest"})
    changed = api("patch", "projects/team/groups//engineering/devs/", alice, {"role": "developer"})
    assert (changed.status_code, changed.json()) == (200, {"group": "/engineering/devs", "role": "developer"})
    assert api("delete", "projects/team/groups//engineering/devs/", alice).status_code == 204
    assert api("get", "projects/team/groups//engineering/devs/", alice).status_code == 404


def test_changing_and_removing_a_group_go_through_the_services_the_dashboard_uses(
    api: Api, alice: User, team: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One code path (STYLE §2): a rule added to the services holds for the API too."""
    called: list[str] = []
    for name in ("change_group_role", "remove_group"):
        service = getattr(members, name)
        monkeypatch.setattr(
            members, name, lambda *args, _name=name, _service=service: called.append(_name) or _service(*args)
        )
    api("post", "projects/team/groups/", alice, {"group": "developers", "role": "developer"})

    assert api("patch", "projects/team/groups/developers/", alice, {"role": "guest"}).json()["role"] == "guest"
    assert api("delete", "projects/team/groups/developers/", alice).status_code == 204
    assert called == ["change_group_role", "remove_group"]
