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

    # An hour on, the first run has finished (no worker runs it here).
    Job.objects.update(state=Job.State.SUCCEEDED)
    ReplicationRule.objects.filter(id=hourly.id).update(last_scheduled_at=timezone.now() - timedelta(hours=2))
    assert replicate_on_schedule() == 1
    assert replication_jobs() == [(hourly.id, None), (hourly.id, None)]


def test_beat_starts_no_second_run_while_the_last_one_has_not_finished() -> None:
    # A run longer than the interval would otherwise have a new one started beside it each time,
    # every one copying the same images.
    team = Project.objects.create(name="team")
    every_minute = add_rule("every-minute", team, trigger="schedule", schedule_seconds=60)
    assert replicate_on_schedule() == 1
    long_ago = timezone.now() - timedelta(minutes=10)
    ReplicationRule.objects.filter(id=every_minute.id).update(last_scheduled_at=long_ago)
    Job.objects.filter(kind="replication").update(state=Job.State.RUNNING)
    # A dry run, or an on-push run of one image, is no full run: it does not hold the schedule back.
    Job.objects.create(kind="replication", parameters={"rule": every_minute.id, "only": None}, dry_run=True)
    Job.objects.create(kind="replication", parameters={"rule": every_minute.id, "only": ["team/app:v1"]})

    assert replicate_on_schedule() == 0

    Job.objects.filter(state=Job.State.RUNNING).update(state=Job.State.SUCCEEDED)
    assert replicate_on_schedule() == 1


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
