"""`/api/v1/jobs/`, deletion plans and space usage: who may start which job, what a job records,
and that a deletion then a collection frees exactly what the plan promised.

Personas: root is a system admin (and pushes the test images); alice administers the private
project `team`, maya maintains it (may delete), dave develops in it (may not delete), carol
belongs to nothing; `shared` is public and has no members.
"""

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Project
from tests.accounts.conftest import Api, CaptureOnCommit
from tests.conftest import PASSWORD, PushImage, basic_auth
from tests.tasks.conftest import blob_file, bytes_on_disk
from v2api.models import ImmutableTagRule, Job, RetentionPolicy, RetentionRule, Tag, Upload
from v2api.services.job_requests import GarbageCollectionRequest, RetentionRequest, UploadPurgeRequest
from v2api.tasks import request_job

pytestmark = pytest.mark.django_db
CONFIG = b'{"architecture": "amd64", "os": "linux"}'


@pytest.fixture
def robot(api: Api, alice: User, team: Project) -> tuple[str, str]:
    """A robot of `team` that may pull, push and delete, as (login name, secret)."""
    body = {"name": "ci", "can_pull": True, "can_push": True, "can_delete": True}
    created = api("post", "projects/team/robots/", alice, body).json()
    return created["login_name"], created["secret"]


def start(api: Api, who: Any, body: dict[str, Any], eager: CaptureOnCommit | None = None) -> Any:
    """POST a job; with `eager`, the job has run by the time this returns."""
    if eager is None:
        return api("post", "jobs/", who, body)
    with eager(execute=True):
        return api("post", "jobs/", who, body)


def job_of(response: Any) -> Job:
    assert response.status_code == 202, response.content
    return Job.objects.get(id=response.json()["id"])


# --- listing jobs ----------------------------------------------------------------------------


def test_a_system_admin_sees_every_job_newest_first(api: Api, root: User, alice: User) -> None:
    first = request_job(GarbageCollectionRequest(), requested_by=root)
    second = request_job(RetentionRequest("team"), requested_by=alice)
    scheduled = request_job(UploadPurgeRequest())

    response = api("get", "jobs/", root)

    assert response.status_code == 200
    assert [job["id"] for job in response.json()["results"]] == [scheduled.id, second.id, first.id]
    assert response.json()["count"] == 3


def test_a_user_sees_only_the_jobs_they_requested(api: Api, root: User, alice: User) -> None:
    request_job(GarbageCollectionRequest(), requested_by=root)
    request_job(UploadPurgeRequest())
    own = request_job(RetentionRequest("team"), requested_by=alice)

    response = api("get", "jobs/", alice)

    assert [job["id"] for job in response.json()["results"]] == [own.id]


def test_a_job_says_whether_it_was_run_from_the_command_line(api: Api, root: User) -> None:
    call_command("purgeuploads", stdout=io.StringIO())
    request_job(UploadPurgeRequest())

    body = api("get", "jobs/", root).json()

    assert [(job["requested_by"], job["from_command_line"]) for job in body["results"]] == [(None, False), (None, True)]


def test_a_robot_may_not_list_jobs(api: Api, robot: tuple[str, str]) -> None:
    response = api("get", "jobs/", robot)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only users may use this endpoint; robot accounts may not."}


def test_an_anonymous_caller_may_not_list_jobs(api: Api) -> None:
    response = api("get", "jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Harbor-lite"'


def test_the_job_list_comes_a_page_at_a_time(api: Api, root: User) -> None:
    jobs = [request_job(GarbageCollectionRequest(), requested_by=root) for _ in range(3)]

    body = api("get", "jobs/?limit=2", root).json()
    rest = api("get", "jobs/?limit=2&offset=2", root).json()

    assert body["count"] == 3
    assert [job["id"] for job in body["results"]] == [jobs[2].id, jobs[1].id]
    assert body["next"].endswith("/api/v1/jobs/?limit=2&offset=2")
    assert [job["id"] for job in rest["results"]] == [jobs[0].id]
    assert rest["next"] is None


def test_a_page_holds_at_most_two_hundred_jobs(api: Api, root: User) -> None:
    Job.objects.bulk_create(Job(kind=Job.Kind.PURGE_UPLOADS, requested_by=root) for _ in range(201))

    body = api("get", "jobs/?limit=1000", root).json()

    assert body["count"] == 201
    assert len(body["results"]) == 200


def test_jobs_are_filtered_by_kind_and_state(api: Api, root: User) -> None:
    wanted = request_job(GarbageCollectionRequest(), requested_by=root)
    Job.objects.filter(id=wanted.id).update(state=Job.State.FAILED)
    request_job(GarbageCollectionRequest(), requested_by=root)
    request_job(UploadPurgeRequest(), requested_by=root)

    body = api("get", "jobs/?kind=garbage_collection&state=failed", root).json()

    assert [job["id"] for job in body["results"]] == [wanted.id]


def test_an_unknown_state_filter_is_refused_naming_the_parameter(api: Api, root: User) -> None:
    response = api("get", "jobs/?state=exploded", root)
    assert response.status_code == 400
    assert list(response.json()) == ["state"]


def test_listing_jobs_takes_as_many_queries_for_three_jobs_as_for_one(api: Api, root: User, alice: User) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api("get", "jobs/", root).status_code == 200
        return len(captured)

    request_job(GarbageCollectionRequest(), requested_by=root)
    queries()  # signs root in: a first Basic login also records their last login
    one = queries()
    request_job(RetentionRequest("team"), requested_by=alice)
    request_job(UploadPurgeRequest())
    assert queries() == one


def test_a_job_shows_what_was_asked_how_far_it_got_and_how_it_ended(api: Api, root: User) -> None:
    job = request_job(GarbageCollectionRequest(0), dry_run=True, requested_by=root)
    finished = timezone.now()
    Job.objects.filter(id=job.id).update(
        state=Job.State.SUCCEEDED,
        phase="sweep",
        progress_done=4,
        progress_total=4,
        result={"bytes_freed": 10},
        started_at=finished,
        finished_at=finished,
    )

    body = api("get", f"jobs/{job.id}/", root).json()

    assert body == {
        "id": job.id,
        "kind": "garbage_collection",
        "state": "succeeded",
        "dry_run": True,
        "parameters": {"grace_seconds": 0},
        "phase": "sweep",
        "progress_done": 4,
        "progress_total": 4,
        "result": {"bytes_freed": 10},
        "error": "",
        "requested_by": "root",
        "from_command_line": False,
        "created_at": body["created_at"],
        "started_at": body["started_at"],
        "finished_at": body["finished_at"],
    }
    assert body["finished_at"] is not None


def test_someone_elses_job_is_404(api: Api, root: User, alice: User) -> None:
    job = request_job(GarbageCollectionRequest(), requested_by=root)
    response = api("get", f"jobs/{job.id}/", alice)
    assert response.status_code == 404
    assert response.json() == {"detail": f"There is no job {job.id}, or you did not request it."}


def test_a_system_admin_reads_anyones_job(api: Api, root: User, alice: User) -> None:
    job = request_job(RetentionRequest("team"), requested_by=alice)
    assert api("get", f"jobs/{job.id}/", root).json()["requested_by"] == "alice"


# --- starting jobs ---------------------------------------------------------------------------


def test_starting_a_job_records_it_and_answers_202_with_its_location(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "garbage_collection", "dry_run": True})

    job = job_of(response)
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.id}/"
    assert (job.kind, job.state, job.dry_run, job.requested_by) == ("garbage_collection", "pending", True, root)
    assert response.json()["state"] == "pending"


def test_a_garbage_collection_records_the_grace_it_runs_with(api: Api, root: User, settings: Any) -> None:
    assert job_of(start(api, root, {"kind": "garbage_collection"})).parameters == {
        "grace_seconds": settings.REGISTRY_GC_GRACE_SECONDS
    }
    assert job_of(start(api, root, {"kind": "garbage_collection", "grace_seconds": 0})).parameters == {
        "grace_seconds": 0
    }


def test_a_negative_grace_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "garbage_collection", "grace_seconds": -1})
    assert response.status_code == 400
    assert list(response.json()) == ["grace_seconds"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("kind", ["garbage_collection", "purge_uploads"])
def test_a_project_admin_may_not_start_a_registry_wide_job(api: Api, alice: User, team: Project, kind: str) -> None:
    response = start(api, alice, {"kind": kind})
    assert response.status_code == 403
    assert response.json() == {"detail": f"Only system administrators may start {kind} jobs."}
    assert not Job.objects.exists()


def test_an_anonymous_caller_may_not_start_jobs(api: Api) -> None:
    assert start(api, None, {"kind": "garbage_collection"}).status_code == 401


def test_a_robot_may_not_start_jobs_even_with_the_delete_action(api: Api, robot: tuple[str, str]) -> None:
    response = start(api, robot, {"kind": "deletion", "repository": "team/app", "tags": ["v1"]})
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_an_unknown_kind_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "defragment"})
    assert response.status_code == 400
    assert list(response.json()) == ["kind"]


def test_a_garbage_collection_runs_and_records_its_report(
    api: Api, root: User, push_image: PushImage, eager: CaptureOnCommit, storage_root: Path
) -> None:
    image = push_image("team/app", tag="v1", layers=[b"kept"])

    job = job_of(start(api, root, {"kind": "garbage_collection", "grace_seconds": 0}, eager))

    job.refresh_from_db()
    assert (job.state, job.error) == (Job.State.SUCCEEDED, "")
    assert job.result["bytes_freed"] == 0
    assert job.started_at is not None and job.finished_at is not None
    assert blob_file(storage_root, image.layer_digests[0]).exists()


def test_a_system_admin_purges_stale_uploads(
    api: Api, root: User, eager: CaptureOnCommit, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    started = api.client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=basic_auth("root", PASSWORD))
    assert started.status_code == 202

    job = job_of(start(api, root, {"kind": "purge_uploads", "max_age_seconds": 0}, eager))

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.result["uploads_deleted"] == 1
    assert not Upload.objects.exists()


# --- deletion jobs ---------------------------------------------------------------------------


def test_a_deletion_then_a_collection_frees_exactly_what_the_plan_said(
    api: Api, root: User, maya: User, push_image: PushImage, eager: CaptureOnCommit, storage_root: Path
) -> None:
    kept = push_image("team/app", tag="stable", layers=[b"shared" * 10, b"kept" * 100])
    doomed = push_image("team/app", tag="old", layers=[b"shared" * 10, b"doomed" * 100], config=b"{}")
    target = {"digests": [doomed.digest]}
    plan = api("post", "repositories/team/app/deletion-plan/", maya, target).json()
    before = bytes_on_disk(storage_root)

    deletion = job_of(start(api, maya, {"kind": "deletion", "repository": "team/app", **target}, eager))
    collection = job_of(start(api, root, {"kind": "garbage_collection", "grace_seconds": 0}, eager))

    deletion.refresh_from_db()
    collection.refresh_from_db()
    assert (deletion.state, deletion.error) == (Job.State.SUCCEEDED, "")
    assert deletion.result["manifests"] == plan["manifests"] == [doomed.digest]
    assert collection.state == Job.State.SUCCEEDED
    freed = before - bytes_on_disk(storage_root)
    assert collection.result["bytes_freed"] == plan["bytes_to_free"] == freed == len(b"doomed" * 100) + len(b"{}")
    assert not blob_file(storage_root, doomed.layer_digests[1]).exists()
    assert blob_file(storage_root, kept.layer_digests[0]).exists()
    assert list(Tag.objects.values_list("name", flat=True)) == ["stable"]


def test_a_dry_run_deletion_reports_the_plan_and_deletes_nothing(
    api: Api, maya: User, push_image: PushImage, eager: CaptureOnCommit
) -> None:
    image = push_image("team/app", tag="v1")

    job = job_of(
        start(
            api, maya, {"kind": "deletion", "repository": "team/app", "digests": [image.digest], "dry_run": True}, eager
        )
    )

    job.refresh_from_db()
    assert job.result["manifests"] == [image.digest]
    assert job.result["tags"] == ["v1"]
    assert Tag.objects.filter(name="v1").exists()


def test_a_whole_repository_deletion_records_its_parameters(
    api: Api, alice: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    job = job_of(start(api, alice, {"kind": "deletion", "repository": "team/app", "whole_repository": True}))
    assert job.parameters == {"repository": "team/app", "tags": [], "digests": [], "whole_repository": True}


def test_a_developer_may_not_start_a_deletion(api: Api, dave: User, push_image: PushImage) -> None:
    push_image("team/app", tag="v1")
    response = start(api, dave, {"kind": "deletion", "repository": "team/app", "tags": ["v1"]})
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not delete in team/app."}
    assert not Job.objects.exists()


def test_an_outsider_may_not_delete_in_a_public_repository(
    api: Api, carol: User, shared: Project, push_image: PushImage
) -> None:
    push_image("shared/app", tag="v1")
    assert start(api, carol, {"kind": "deletion", "repository": "shared/app", "tags": ["v1"]}).status_code == 403


def test_a_deletion_in_a_private_repository_is_404_for_an_outsider(
    api: Api, carol: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    response = start(api, carol, {"kind": "deletion", "repository": "team/app", "tags": ["v1"]})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no repository team/app, or you may not see it."}


def test_a_deletion_in_a_missing_repository_is_404_naming_it(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "deletion", "repository": "team/nothing", "tags": ["v1"]})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no repository team/nothing, or you may not see it."}


def test_a_deletion_that_names_nothing_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "deletion", "repository": "team/app"})
    assert response.status_code == 400
    assert response.json() == {"tags": ["Name tags or digests to delete, or set whole_repository."]}


def test_a_deletion_without_a_repository_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "deletion", "tags": ["v1"]})
    assert response.status_code == 400
    assert list(response.json()) == ["repository"]


def test_a_malformed_digest_is_refused_naming_the_field(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "deletion", "repository": "team/app", "digests": ["sha256:nothex"]})
    assert response.status_code == 400
    assert list(response.json()) == ["digests"]


def test_a_whole_repository_deletion_that_also_names_tags_is_refused(api: Api, root: User) -> None:
    body = {"kind": "deletion", "repository": "team/app", "whole_repository": True, "tags": ["v1"]}
    response = start(api, root, body)
    assert response.status_code == 400
    assert list(response.json()) == ["whole_repository"]


# --- retention jobs --------------------------------------------------------------------------


def test_a_project_admin_runs_the_projects_retention_rules(
    api: Api, alice: User, team: Project, push_image: PushImage, eager: CaptureOnCommit
) -> None:
    RetentionRule.objects.create(policy=RetentionPolicy.objects.create(project=team), keep_most_recent=1)
    push_image("team/app", tag="old", layers=[b"old"])
    Tag.objects.filter(name="old").update(updated_at=timezone.now() - timedelta(days=1))
    push_image("team/app", tag="new", layers=[b"new"])

    job = job_of(start(api, alice, {"kind": "retention", "project": "team"}, eager))

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.result["tags"] == {"team/app": ["old"]}
    assert list(Tag.objects.values_list("name", flat=True)) == ["new"]


def test_a_maintainer_may_not_run_retention(api: Api, maya: User) -> None:
    response = start(api, maya, {"kind": "retention", "project": "team"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only admins of project team and system administrators may run its retention rules."
    }


def test_a_system_admin_runs_retention_in_any_project(api: Api, root: User, team: Project) -> None:
    assert job_of(start(api, root, {"kind": "retention", "project": "team"})).parameters == {"project": "team"}


def test_retention_of_a_missing_project_is_404_naming_it(api: Api, root: User) -> None:
    response = start(api, root, {"kind": "retention", "project": "nothing"})
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no project nothing, or you may not see it."}


def test_retention_of_a_private_project_is_404_for_an_outsider(api: Api, carol: User, team: Project) -> None:
    assert start(api, carol, {"kind": "retention", "project": "team"}).status_code == 404


# --- deletion plans --------------------------------------------------------------------------


def test_a_deletion_plan_names_what_goes_and_the_bytes_it_frees(
    api: Api, alice: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="stable", layers=[b"shared", b"kept"])
    doomed = push_image("team/app", tag="old", layers=[b"shared", b"doomed"], config=b"{}")

    response = api("post", "repositories/team/app/deletion-plan/", alice, {"digests": [doomed.digest]})

    assert response.status_code == 200
    assert response.json() == {
        "repository": "team/app",
        "tags_deleted": 1,
        "manifests_deleted": 1,
        "bytes_to_free": len(b"doomed") + len(b"{}"),
        "tags": ["old"],
        "manifests": [doomed.digest],
        "restorable_until": None,
        "immutable_tags": [],
    }
    assert Tag.objects.filter(name="old").exists()


def test_a_deletion_plan_warns_of_the_immutable_tags_a_job_would_fail_on(
    api: Api, alice: User, maya: User, team: Project, push_image: PushImage, eager: CaptureOnCommit
) -> None:
    push_image("team/app", tag="v1.2.0", layers=[b"released"])
    push_image("team/app", tag="latest", layers=[b"moving"])
    rule = ImmutableTagRule.objects.create(project=team, repositories="**", tags="v*.*.*")

    plan = api("post", "repositories/team/app/deletion-plan/", alice, {"whole_repository": True}).json()
    job = job_of(start(api, maya, {"kind": "deletion", "repository": "team/app", "whole_repository": True}, eager))

    message = f"tag v1.2.0 is immutable (rule {rule.pk}: repositories **, tags v*.*.*)"
    assert sorted(plan["tags"]) == ["latest", "v1.2.0"]
    assert plan["immutable_tags"] == [{"tag": "v1.2.0", "rule": rule.pk, "message": message}]
    job.refresh_from_db()
    assert (job.state, job.error) == (Job.State.FAILED, message)
    tags_left = api("post", "repositories/team/app/deletion-plan/", alice, {"tags": ["latest"]}).json()
    assert tags_left["immutable_tags"] == []


def test_a_deletion_plan_of_a_whole_repository_frees_what_its_usage_calls_freeable(
    api: Api, alice: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1", layers=[b"x" * 1000, b"common"])
    push_image("other/app", tag="v1", layers=[b"common"])

    plan = api("post", "repositories/team/app/deletion-plan/", alice, {"whole_repository": True}).json()
    usage = api("get", "repositories/team/app/usage/", alice).json()

    # The config and the "common" layer are shared with other/app: only the big layer goes.
    assert plan["bytes_to_free"] == usage["freeable_bytes"] == 1000


def test_a_developer_may_not_see_a_deletion_plan(api: Api, dave: User, push_image: PushImage) -> None:
    push_image("team/app", tag="v1")
    response = api("post", "repositories/team/app/deletion-plan/", dave, {"tags": ["v1"]})
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not delete in team/app."}


def test_a_robot_with_the_delete_action_sees_a_deletion_plan(
    api: Api, robot: tuple[str, str], push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    assert api("post", "repositories/team/app/deletion-plan/", robot, {"tags": ["v1"]}).json()["tags"] == ["v1"]


def test_a_deletion_plan_of_a_private_repository_is_404_for_an_outsider(
    api: Api, carol: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    assert api("post", "repositories/team/app/deletion-plan/", carol, {"tags": ["v1"]}).status_code == 404


def test_an_anonymous_caller_may_not_see_a_deletion_plan(api: Api, shared: Project, push_image: PushImage) -> None:
    push_image("shared/app", tag="v1")
    assert api("post", "repositories/shared/app/deletion-plan/", None, {"tags": ["v1"]}).status_code == 401


def test_a_deletion_plan_that_names_nothing_is_refused_naming_the_field(
    api: Api, alice: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    response = api("post", "repositories/team/app/deletion-plan/", alice, {})
    assert response.status_code == 400
    assert list(response.json()) == ["tags"]


# --- usage -----------------------------------------------------------------------------------


def test_repository_usage_counts_total_shared_and_freeable_bytes(api: Api, dave: User, push_image: PushImage) -> None:
    push_image("team/app", tag="v1", layers=[b"common" * 50, b"mine"])
    push_image("team/other", tag="v1", layers=[b"common" * 50])

    response = api("get", "repositories/team/app/usage/", dave)

    assert response.status_code == 200
    assert response.json() == {
        "repository": "team/app",
        "total_bytes": len(b"common" * 50) + len(b"mine") + len(CONFIG),
        "shared_bytes": len(b"common" * 50) + len(CONFIG),
        "freeable_bytes": len(b"mine"),
    }


def test_project_usage_counts_a_layer_its_repositories_share_once(api: Api, dave: User, push_image: PushImage) -> None:
    push_image("team/one", tag="v1", layers=[b"shared inside the project"])
    push_image("team/two", tag="v1", layers=[b"shared inside the project"])
    push_image("other/app", tag="v1", layers=[b"elsewhere"])

    body = api("get", "projects/team/usage/", dave).json()

    total = len(b"shared inside the project") + len(CONFIG)
    assert body == {
        "project": "team",
        "total_bytes": total,
        "shared_bytes": len(CONFIG),
        "freeable_bytes": total - len(CONFIG),
        "recycled_bytes": 0,
    }


def test_an_anonymous_caller_sees_the_usage_of_a_public_repository(
    api: Api, shared: Project, push_image: PushImage
) -> None:
    push_image("shared/app", tag="v1", layers=[b"public"])
    assert api("get", "repositories/shared/app/usage/").json()["total_bytes"] == len(b"public") + len(CONFIG)


def test_a_robot_that_may_pull_sees_its_projects_usage(api: Api, robot: tuple[str, str]) -> None:
    assert api("get", "projects/team/usage/", robot).json()["total_bytes"] == 0


def test_the_usage_of_a_private_repository_is_404_for_an_outsider(
    api: Api, carol: User, team: Project, push_image: PushImage
) -> None:
    push_image("team/app", tag="v1")
    response = api("get", "repositories/team/app/usage/", carol)
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no repository team/app, or you may not see it."}


def test_the_usage_of_a_private_project_is_404_for_an_anonymous_caller(api: Api, team: Project) -> None:
    assert api("get", "projects/team/usage/").status_code == 404


def test_the_usage_of_a_missing_repository_is_404(api: Api, root: User) -> None:
    assert api("get", "repositories/team/nothing/usage/", root).status_code == 404


# --- the OpenAPI schema ----------------------------------------------------------------------


def test_the_schema_lists_the_job_usage_and_deletion_plan_paths(api: Api) -> None:
    document = json.loads(api("get", "schema/?format=json").content)
    assert {
        "/api/v1/jobs/",
        "/api/v1/jobs/{job_id}/",
        "/api/v1/projects/{project_name}/usage/",
        "/api/v1/repositories/{repository_name}/usage/",
        "/api/v1/repositories/{repository_name}/deletion-plan/",
    } <= set(document["paths"])
    new_job = document["components"]["schemas"]["NewJobRequest"]
    assert set(new_job["discriminator"]["mapping"]) == {"deletion", "garbage_collection", "purge_uploads", "retention"}
