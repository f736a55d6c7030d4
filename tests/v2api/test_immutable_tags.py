"""Tag immutability: a tag a project's rule names stays on its digest, whichever path asks to move
or delete it (a push, a DELETE, a deletion job, retention)."""

import json
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client

from accounts.models import Project
from tests.conftest import PushedImage, PushImage, error_codes
from v2api.errors import Denied
from v2api.models import ImmutableTagRule, Job, RetentionPolicy, RetentionRule, Tag
from v2api.services.job_requests import DeletionRequest
from v2api.services.jobs import run_job
from v2api.services.manifests import put_manifest
from v2api.services.retention import apply_retention, plan_retention
from v2api.tasks import request_job

pytestmark = pytest.mark.django_db


def immutable(repositories: str = "**", tags: str = "v*.*.*") -> ImmutableTagRule:
    return ImmutableTagRule.objects.create(
        project=Project.objects.get(name="team"), repositories=repositories, tags=tags
    )


def retag(client: Client, name: str, tag: str, image: PushedImage):  # type: ignore[no-untyped-def]
    """PUT an already pushed image's manifest under `tag`, as a client moving the tag does."""
    return client.put(f"/v2/{name}/manifests/{tag}", data=image.content, content_type=image.media_type)


def denial(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.content
    assert error_codes(response) == ["DENIED"]
    return str(json.loads(response.content)["errors"][0]["message"])


@pytest.fixture
def images(push_image: PushImage) -> tuple[PushedImage, PushedImage]:
    first = push_image("team/app", tag="v1.2.0", layers=[b"first"])
    second = push_image("team/app", tag="latest", layers=[b"second"])
    return first, second


def test_a_push_that_would_move_an_immutable_tag_is_denied_naming_the_tag_and_rule(
    client: Client, images: tuple[PushedImage, PushedImage]
) -> None:
    first, second = images
    rule = immutable()

    message = denial(retag(client, "team/app", "v1.2.0", second))

    assert message == f"tag v1.2.0 is immutable (rule {rule.pk}: repositories **, tags v*.*.*)"
    assert Tag.objects.get(name="v1.2.0").manifest.digest == first.digest


def test_pushing_the_same_digest_again_and_new_immutable_tags_are_allowed(
    client: Client, images: tuple[PushedImage, PushedImage]
) -> None:
    first, second = images
    immutable()

    assert retag(client, "team/app", "v1.2.0", first).status_code == 201
    assert retag(client, "team/app", "v1.3.0", second).status_code == 201
    assert Tag.objects.get(name="v1.3.0").manifest.digest == second.digest


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_of_two_first_pushes_of_a_new_immutable_tag_the_first_creates_it_and_the_second_is_refused(
    push_image: PushImage,
) -> None:
    # Nothing in common: a shared blob's link, locked by the first push, would hold the second
    # push back before it reached the tag.
    first = push_image("team/app", layers=[b"first"], config=b'{"os": "linux"}')
    second = push_image("team/app", layers=[b"second"], config=b'{"os": "freebsd"}')
    immutable()
    first_pushed, first_may_commit = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def push(name: str, image: PushedImage, hold: bool) -> None:
        try:
            with transaction.atomic():
                put_manifest("team/app", "v1.0.0", image.content, image.media_type)
                if hold:
                    # Its transaction stays open until the second push waits on the tag.
                    first_pushed.set()
                    first_may_commit.wait(timeout=30)
            outcomes[name] = "stored"
        except Denied as denied:
            outcomes[name] = denied.message
        finally:
            connection.close()

    pushes = [
        threading.Thread(target=push, args=("first", first, True)),
        threading.Thread(target=push, args=("second", second, False)),
    ]
    pushes[0].start()
    assert first_pushed.wait(timeout=30)
    pushes[1].start()
    deadline = time.monotonic() + 30
    while not waiting_on_a_lock():
        assert time.monotonic() < deadline, "the second push never waited for the first"
        time.sleep(0.01)
    first_may_commit.set()
    for thread in pushes:
        thread.join(timeout=30)

    assert outcomes["first"] == "stored"
    assert str(outcomes["second"]).startswith("tag v1.0.0 is immutable (rule ")
    assert Tag.objects.get(name="v1.0.0").manifest.digest == first.digest


def test_tags_and_repositories_the_rule_does_not_match_move_freely(
    client: Client, push_image: PushImage, images: tuple[PushedImage, PushedImage]
) -> None:
    first, second = images
    push_image("team/web", tag="v2.0.0", layers=[b"web"])
    other = push_image("team/web", tag="latest", layers=[b"web, later"])
    immutable(repositories="app", tags="v*.*.*,!v1.2.*")

    assert retag(client, "team/app", "latest", first).status_code == 201
    assert retag(client, "team/app", "v1.2.0", second).status_code == 201
    assert retag(client, "team/web", "v2.0.0", other).status_code == 201


def test_deleting_an_immutable_tag_by_tag_or_by_digest_is_denied(
    client: Client, images: tuple[PushedImage, PushedImage]
) -> None:
    first, _ = images
    immutable()

    assert "tag v1.2.0 is immutable" in denial(client.delete("/v2/team/app/manifests/v1.2.0"))
    assert "tag v1.2.0 is immutable" in denial(client.delete(f"/v2/team/app/manifests/{first.digest}"))
    assert client.delete("/v2/team/app/manifests/latest").status_code == 202
    assert list(Tag.objects.values_list("name", flat=True)) == ["v1.2.0"]


def test_a_deletion_job_on_an_immutable_tag_fails_saying_why_and_deletes_nothing(
    admin_user: User, images: tuple[PushedImage, PushedImage], django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    immutable()
    job = request_job(DeletionRequest("team/app", whole_repository=True), requested_by=admin_user)

    run_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.startswith("tag v1.2.0 is immutable (rule ")
    assert Tag.objects.count() == 2


def test_retention_keeps_immutable_tags_and_its_simulation_says_so(
    push_image: PushImage, images: tuple[PushedImage, PushedImage]
) -> None:
    push_image("team/app", tag="v1.3.0", layers=[b"third"])
    policy = RetentionPolicy.objects.create(project=Project.objects.get(name="team"))
    RetentionRule.objects.create(policy=policy, keep_days=1)
    Tag.objects.update(updated_at="2020-01-01T00:00Z")
    immutable(tags="v1.2.*")

    assert plan_retention("team").tags_by_repository == {"team/app": ["latest", "v1.3.0"]}
    apply_retention("team")

    assert list(Tag.objects.values_list("name", flat=True)) == ["v1.2.0"]
