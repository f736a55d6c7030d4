"""`/api/v1/audit-logs/` and `/api/v1/projects/<name>/audit-logs/`: who may read which events,
the filters, keyset pages and the CSV and JSON exports."""

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Project
from audit.context import Actor
from audit.models import AuditEvent
from audit.recorder import record
from tests.accounts.conftest import Api

pytestmark = pytest.mark.django_db

GLOBAL = "audit-logs/"
TEAM = "projects/team/audit-logs/"


@pytest.fixture
def history(team: Project) -> list[AuditEvent]:
    """Five events, an hour apart, the newest last: two in `team`, one in `shared`, two registry-wide."""
    now = timezone.now()
    made = [
        record("login.failed", resource="carol", actor=Actor("user", "carol"), outcome="failure"),
        record("manifest.push", project="team", resource="team/app:1.0", actor=Actor("user", "alice")),
        record("member.role.change", project="team", resource="maya", actor=Actor("user", "alice")),
        record("manifest.push", project="shared", resource="shared/tool:2", actor=Actor("robot", "robot$shared+ci")),
        record("user.create", resource="erin", actor=Actor("user", "root")),
    ]
    for hours_ago, event in zip(range(len(made), 0, -1), made, strict=True):
        AuditEvent.objects.filter(id=event.id).update(occurred_at=now - timedelta(hours=hours_ago))
    return made


def resources(response: Any) -> list[str]:
    return [event["resource"] for event in response.json()["results"]]


@pytest.mark.parametrize(
    "persona, global_status, team_status",
    [("root", 200, 200), ("alice", 403, 200), ("maya", 403, 403), ("dave", 403, 403), ("carol", 403, 404)],
)
def test_who_may_read_the_logs(
    api: Api,
    request: pytest.FixtureRequest,
    history: list[AuditEvent],
    persona: str,
    global_status: int,
    team_status: int,
) -> None:
    who: User = request.getfixturevalue(persona)

    assert api("get", GLOBAL, who).status_code == global_status
    assert api("get", TEAM, who).status_code == team_status


def test_anonymous_callers_are_asked_to_sign_in(api: Api, history: list[AuditEvent], shared: Project) -> None:
    assert api("get", GLOBAL).status_code == 401
    assert api("get", "projects/shared/audit-logs/").status_code == 401


def test_the_global_log_holds_everything_newest_first_and_a_project_log_only_its_own(
    api: Api, root: User, alice: User, history: list[AuditEvent]
) -> None:
    assert resources(api("get", GLOBAL, root)) == ["erin", "shared/tool:2", "maya", "team/app:1.0", "carol"]
    assert resources(api("get", TEAM, alice)) == ["maya", "team/app:1.0"]
    first = api("get", TEAM, alice).json()["results"][-1]
    assert {key: first[key] for key in ("actor_kind", "actor_name", "action", "project", "outcome")} == {
        "actor_kind": "user",
        "actor_name": "alice",
        "action": "manifest.push",
        "project": "team",
        "outcome": "success",
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("user=alice", ["maya", "team/app:1.0"]),
        ("user=robot%24shared%2Bci", ["shared/tool:2"]),
        ("action=manifest.push", ["shared/tool:2", "team/app:1.0"]),
        ("action=member.", ["maya"]),
        ("resource=tool", ["shared/tool:2"]),
        ("action=manifest.push&resource=team", ["team/app:1.0"]),
    ],
)
def test_filters(api: Api, root: User, history: list[AuditEvent], query: str, expected: list[str]) -> None:
    assert resources(api("get", f"{GLOBAL}?{query}", root)) == expected


def test_a_time_range_includes_since_and_excludes_until(api: Api, root: User, history: list[AuditEvent]) -> None:
    since = AuditEvent.objects.get(id=history[1].id).occurred_at
    until = AuditEvent.objects.get(id=history[3].id).occurred_at
    query = f"since={since.isoformat()}&until={until.isoformat()}".replace("+", "%2B")

    assert resources(api("get", f"{GLOBAL}?{query}", root)) == ["maya", "team/app:1.0"]


@pytest.mark.parametrize(
    "query, field",
    [("since=yesterday", "since"), ("until=2026-13-01", "until"), ("after=nonsense", "after"), ("limit=0", "limit")],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(api: Api, root: User, query: str, field: str) -> None:
    response = api("get", f"{GLOBAL}?{query}", root)

    assert response.status_code == 400
    assert field in response.json()


def test_keyset_pages_follow_next_links_to_the_end_without_a_gap_or_a_repeat(
    api: Api, root: User, history: list[AuditEvent]
) -> None:
    seen: list[str] = []
    path: str | None = f"{GLOBAL}?limit=2"
    pages = 0
    while path is not None:
        body = api("get", path, root).json()
        seen += [event["resource"] for event in body["results"]]
        pages += 1
        path = body["next"].split("/api/v1/", 1)[1] if body["next"] else None

    assert seen == ["erin", "shared/tool:2", "maya", "team/app:1.0", "carol"]
    assert pages == 3


def test_a_page_costs_the_same_queries_however_long_the_log(api: Api, root: User, history: list[AuditEvent]) -> None:
    def queries_for_a_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api("get", f"{GLOBAL}?limit=2", root).status_code == 200
        return len(captured)

    queries_for_a_page()  # the first Basic login of the minute also records the login time
    few = queries_for_a_page()
    for number in range(50):
        record("user.create", resource=f"user-{number}")

    assert queries_for_a_page() == few


def test_csv_and_json_exports_hold_every_matching_event(api: Api, alice: User, history: list[AuditEvent]) -> None:
    as_csv = api("get", f"{TEAM}?export=csv", alice)
    as_json = api("get", f"{TEAM}?export=json&user=alice", alice)

    assert as_csv["Content-Type"].startswith("text/csv")
    assert 'filename="audit-log-team.csv"' in as_csv["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode())))  # type: ignore[attr-defined]
    assert [(row["action"], row["resource"]) for row in rows] == [
        ("member.role.change", "maya"),
        ("manifest.push", "team/app:1.0"),
    ]
    exported = json.loads(b"".join(as_json.streaming_content))  # type: ignore[attr-defined]
    assert [event["resource"] for event in exported] == ["maya", "team/app:1.0"]
    assert api("get", f"{TEAM}?export=xml", alice).status_code == 400
