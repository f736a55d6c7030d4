"""Replication rules that run by themselves: beat starts a scheduled rule once per its interval
(a second beat in the same interval starts nothing), and a push by tag starts the on-push rules
that take the tag, for that image only. The copies are end to end (tests/e2e/test_replication.py)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Project
from tests.conftest import PushImage
from v2api.models import Job, ReplicationRule
from v2api.services.replication_rules import RuleSettings, save_replication_rule
from v2api.tasks import replicate_on_schedule

pytestmark = pytest.mark.django_db


def add_rule(name: str, project: Project, **settings: Any) -> ReplicationRule:
    return save_replication_rule(
        None,
        RuleSettings(name=name, direction="push", remote_url="http://127.0.0.1:9", project=project, **settings),
    )


def replication_jobs() -> list[tuple[int, list[str] | None]]:
    return [(job.parameters["rule"], job.parameters["only"]) for job in Job.objects.filter(kind="replication")]


def test_beat_starts_a_scheduled_rule_once_per_interval() -> None:
    team = Project.objects.create(name="team")
    hourly = add_rule("hourly", team, trigger="schedule", schedule_seconds=3600)
    add_rule("by-hand", team)
    add_rule("paused", team, trigger="schedule", schedule_seconds=3600, enabled=False)

    assert replicate_on_schedule() == 1
    assert replicate_on_schedule() == 0
    assert replication_jobs() == [(hourly.id, None)]

    ReplicationRule.objects.filter(id=hourly.id).update(last_scheduled_at=timezone.now() - timedelta(hours=2))
    assert replicate_on_schedule() == 1
    assert replication_jobs() == [(hourly.id, None), (hourly.id, None)]


def test_a_push_starts_the_on_push_rules_that_take_its_tag(
    push_image: PushImage, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    # The job runs inline and fails (nothing answers on port 9): here only its start counts.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    team = Project.objects.create(name="team")
    releases = add_rule("releases", team, trigger="on_push", tags="v*")
    add_rule("web-only", team, trigger="on_push", repositories="web/*")
    add_rule("by-hand", team)

    with django_capture_on_commit_callbacks(execute=True):
        push_image("team/app", tag="v1")
        push_image("team/app", tag="latest")

    assert replication_jobs() == [(releases.id, ["team/app:v1"])]
