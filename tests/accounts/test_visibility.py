"""visible_projects and can_see_repository: the one visibility rule the dashboard and the
management API share. A repository is seen where its project exists and is visible; the API
used to fall back to "may create the project" for a repository whose project row is missing."""

import pytest
from django.contrib.auth.models import User

from accounts.models import Project
from accounts.permissions import ANONYMOUS, Principal, can_see_repository, visible_projects

pytestmark = pytest.mark.django_db


def test_visible_projects_are_the_public_ones_and_the_callers_own(
    alice: User, carol: User, team: Project, shared: Project, admin_user: User
) -> None:
    assert set(visible_projects(Principal.for_user(alice))) == {team, shared}
    assert set(visible_projects(Principal.for_user(carol))) == {shared}
    assert set(visible_projects(ANONYMOUS)) == {shared}
    assert set(visible_projects(Principal.for_user(admin_user))) == {team, shared}


def test_a_repository_is_seen_where_its_project_is_visible(alice: User, carol: User, team: Project) -> None:
    assert can_see_repository(Principal.for_user(alice), "team/app")
    assert not can_see_repository(Principal.for_user(carol), "team/app")
