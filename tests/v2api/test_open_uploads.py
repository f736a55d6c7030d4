"""A flood of upload sessions (issue 12, item 3: 2,000 opened in 4 s) meets a cap: one caller holds
at most REGISTRY_MAX_OPEN_UPLOADS open uploads at once, and others pushing meanwhile are not held up."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.models import Membership, Project, Role
from accounts.scopes import PULL, PUSH, repository_scope
from tests.conftest import bearer_auth, error_codes, path_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_open_uploads_at_most(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGISTRY_MAX_OPEN_UPLOADS = 3


def open_upload(client: Client, name: str, user: User) -> object:
    token = bearer_auth(user, repository_scope(name, PULL, PUSH))
    return client.post(f"/v2/{name}/blobs/uploads/", headers={"Authorization": token})


@pytest.fixture
def team(admin_user: User) -> Project:
    return Project.objects.create(name="team")


def developer(name: str, team: Project) -> User:
    user = User.objects.create_user(name, password="a password of theirs")
    Membership.objects.create(project=team, user=user, role=Role.DEVELOPER)
    return user


def test_a_caller_past_the_cap_is_told_to_finish_or_cancel_some(client: Client, team: Project) -> None:
    flooder = developer("flooder", team)
    opened = [open_upload(client, f"team/app{index}", flooder) for index in range(3)]
    assert [response.status_code for response in opened] == [202, 202, 202]  # type: ignore[attr-defined]

    refused = open_upload(client, "team/app9", flooder)

    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert error_codes(refused) == ["TOOMANYREQUESTS"]
    assert refused["Retry-After"] == "10"  # type: ignore[index]
    assert "flooder holds 3 open uploads" in refused.content.decode()  # type: ignore[attr-defined]
    # Someone else pushing meanwhile is not held up by it.
    assert open_upload(client, "team/elsewhere", developer("colleague", team)).status_code == 202  # type: ignore[attr-defined]
    # Cancelling one makes room again.
    token = bearer_auth(flooder, repository_scope("team/app0", PULL, PUSH))
    location = path_of(opened[0]["Location"])  # type: ignore[index]
    assert client.delete(location, headers={"Authorization": token}).status_code == 204
    assert open_upload(client, "team/app9", flooder).status_code == 202  # type: ignore[attr-defined]


def test_a_caller_at_the_cap_does_not_hold_up_others_pushing_into_the_same_repository(
    client: Client, team: Project
) -> None:
    busy = developer("busy", team)
    for _ in range(3):
        assert open_upload(client, "team/app", busy).status_code == 202  # type: ignore[attr-defined]
    assert open_upload(client, "team/app", busy).status_code == 429  # type: ignore[attr-defined]

    assert open_upload(client, "team/app", developer("another", team)).status_code == 202  # type: ignore[attr-defined]
