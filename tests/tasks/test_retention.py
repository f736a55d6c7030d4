"""Retention rules: the simulation lists exactly what a run deletes and frees."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from tests.conftest import PushImage
from v2api.models import RetentionPolicy, RetentionRule, Tag
from v2api.services.gc import collect_garbage
from v2api.services.globs import matches
from v2api.services.retention import apply_retention, plan_retention

pytestmark = pytest.mark.django_db


def policy(**fields: object) -> RetentionPolicy:
    project, _ = Project.objects.get_or_create(name="team")
    return RetentionPolicy.objects.create(project=project, **fields)


def push_tags(push_image: PushImage, name: str, count: int) -> None:
    """`count` tags, each on its own image, pushed one minute apart (tag 0 oldest)."""
    for number in range(count):
        push_image(name, tag=f"build-{number}", layers=[f"{name} layer {number}".encode()])
        Tag.objects.filter(repository__name=name, name=f"build-{number}").update(
            updated_at=timezone.now() - timedelta(minutes=count - number)
        )


def test_keep_the_n_most_recent_removes_the_older_tags_of_each_repository(push_image: PushImage) -> None:
    RetentionRule.objects.create(policy=policy(), keep_most_recent=2)
    push_tags(push_image, "team/app", 4)
    push_tags(push_image, "team/web", 3)

    plan = plan_retention("team")

    assert plan.tags_by_repository == {"team/app": ["build-0", "build-1"], "team/web": ["build-0"]}


def test_keep_days_removes_tags_pushed_before_the_window(push_image: PushImage) -> None:
    RetentionRule.objects.create(policy=policy(), keep_days=7)
    push_image("team/app", tag="old", layers=[b"old"])
    push_image("team/app", tag="new", layers=[b"new"])
    Tag.objects.filter(name="old").update(updated_at=timezone.now() - timedelta(days=8))

    assert plan_retention("team").tags_by_repository == {"team/app": ["old"]}


def test_tags_no_rule_selects_stay_and_always_keep_patterns_win(push_image: PushImage) -> None:
    retention = policy(always_keep_tags="release-*")
    RetentionRule.objects.create(policy=retention, tags="build-*,release-*", keep_most_recent=1)
    RetentionRule.objects.create(policy=retention, repositories="web", tags="*", keep_most_recent=5)
    push_tags(push_image, "team/app", 3)
    push_image("team/app", tag="release-1", layers=[b"release"])
    Tag.objects.filter(name="release-1").update(updated_at=timezone.now() - timedelta(days=30))
    push_image("team/app", tag="latest", layers=[b"latest"])

    plan = plan_retention("team")

    assert plan.tags_by_repository == {"team/app": ["build-0", "build-1"]}


def test_the_simulation_lists_exactly_what_the_run_deletes_and_frees(
    client: Client, push_image: PushImage, disk: Callable[[], int]
) -> None:
    RetentionRule.objects.create(policy=policy(), keep_most_recent=1)
    push_tags(push_image, "team/app", 3)
    simulated = plan_retention("team")
    before = disk()

    ran = apply_retention("team")
    freed = collect_garbage(timedelta(0)).bytes_freed

    assert ran.as_dict() == simulated.as_dict()
    assert simulated.as_dict()["tags_deleted"] == 2
    assert freed == simulated.bytes_freed == before - disk() > 0
    tags = client.get("/v2/team/app/tags/list").json()["tags"]
    assert tags == ["build-2"]


def test_a_dry_run_from_the_shell_lists_the_tags_and_deletes_nothing(
    push_image: PushImage, capsys: pytest.CaptureFixture[str]
) -> None:
    RetentionRule.objects.create(policy=policy(), keep_most_recent=1)
    push_tags(push_image, "team/app", 2)

    call_command("applyretention", "team", "--dry-run")

    output = capsys.readouterr().out
    assert "tags_deleted: 1" in output
    assert '"build-0"' in output
    assert Tag.objects.count() == 2


@pytest.mark.parametrize(
    ("patterns", "value", "selected"),
    [
        ("*", "build-1", True),
        ("build-*,release-*", "release-2", True),
        ("build-*", "latest", False),
        ("*,!release-*", "release-2", False),
        ("*,!release-*", "build-7", True),
        ("!release-*", "build-7", False),
        ("**", "team/web/api", True),
        ("web/*,!web/legacy", "web/legacy", False),
    ],
)
def test_rule_patterns_include_with_globs_and_exclude_with_a_bang(patterns: str, value: str, selected: bool) -> None:
    assert matches(patterns, value) is selected


def test_a_rule_can_exclude_repositories_from_its_reach(push_image: PushImage) -> None:
    RetentionRule.objects.create(policy=policy(), repositories="*,!keep-all", keep_most_recent=1)
    push_tags(push_image, "team/app", 2)
    push_tags(push_image, "team/keep-all", 2)

    assert plan_retention("team").tags_by_repository == {"team/app": ["build-0"]}
