"""project_usages: project_usage for a whole page of projects in one query, by the same rule."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from v2api.services.usage import project_usage, project_usages

pytestmark = pytest.mark.django_db


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
