"""project_usages: project_usage for a whole page of projects in one query, by the same rule."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Project
from tests.conftest import PushImage
from v2api.services.usage import project_usage, project_usages

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(push_image: PushImage) -> list[str]:
    """Three projects: layers shared inside one, across two, and an empty project."""
    for name in ("team", "ops", "empty"):
        Project.objects.create(name=name)
    push_image("team/app", "v1", layers=[b"base" * 100, b"app"])
    push_image("team/app", "v2", layers=[b"base" * 100, b"app 2"])
    push_image("team/web", "v1", layers=[b"base" * 100, b"common"])
    push_image("ops/tool", "v1", layers=[b"common", b"tool"])
    return ["team", "ops", "empty"]


def test_project_usages_equals_project_usage_one_by_one(projects: list[str]) -> None:
    batched = project_usages([*projects, "unknown"])

    assert batched == {name: project_usage(name) for name in [*projects, "unknown"]}
    assert batched["team"].shared_bytes > 0
    assert batched["empty"].total_bytes == 0


def test_project_usages_takes_one_query_for_any_number_of_projects(projects: list[str]) -> None:
    with CaptureQueriesContext(connection) as queries:
        project_usages(projects)

    assert len(queries) == 1
    assert project_usages([]) == {}
