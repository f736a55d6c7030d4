"""Job requests: one type per kind of job, checked when built, stored under the JSON keys jobs have
always had, and read back from rows recorded before the types existed."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from v2api.models import Job
from v2api.services import jobs
from v2api.services.job_requests import (
    DeletionRequest,
    GarbageCollectionRequest,
    RetentionRequest,
    UploadPurgeRequest,
    job_request_of,
)

DIGEST = "sha256:" + "a" * 64


def errors_of(build: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        build()
    return raised.value.message_dict


def test_a_deletion_is_stored_under_the_keys_jobs_always_had() -> None:
    deletion = DeletionRequest("team/app", tags=("v1",), digests=(DIGEST,))
    assert deletion.as_parameters() == {
        "repository": "team/app",
        "tags": ["v1"],
        "digests": [DIGEST],
        "whole_repository": False,
    }


@pytest.mark.parametrize(
    "request_",
    [
        DeletionRequest("team/app", whole_repository=True),
        GarbageCollectionRequest(0),
        UploadPurgeRequest(3600),
        RetentionRequest("team"),
    ],
)
def test_a_request_reads_back_from_its_parameters(request_: Any) -> None:
    assert type(request_).from_parameters(request_.as_parameters()) == request_


def test_a_deletion_recorded_without_the_optional_keys_reads_back_with_their_defaults() -> None:
    assert DeletionRequest.from_parameters({"repository": "team/app", "tags": ["v1"]}) == DeletionRequest(
        "team/app", tags=("v1",)
    )


def test_a_collection_or_purge_recorded_without_a_threshold_uses_the_setting(settings: Any) -> None:
    settings.REGISTRY_GC_GRACE_SECONDS, settings.REGISTRY_STALE_UPLOAD_SECONDS = 7, 11
    assert GarbageCollectionRequest.from_parameters({}).grace_seconds == 7
    assert UploadPurgeRequest.from_parameters({}).max_age_seconds == 11


def test_every_bad_field_of_a_deletion_is_named_at_once() -> None:
    errors = errors_of(lambda: DeletionRequest("Team/App", tags=("v1", "bad tag", "-x"), digests=("sha256:nothex",)))
    assert errors["tags"] == ["Not a tag: bad tag, -x."]
    assert errors["digests"] == ["sha256:nothex is not a digest: sha256 takes 64 lowercase hex characters."]
    assert errors["repository"][0].startswith("Not a repository name: ")


def test_a_deletion_that_names_nothing_is_refused() -> None:
    assert errors_of(lambda: DeletionRequest("team/app")) == {
        "tags": ["Name tags or digests to delete, or set whole_repository."]
    }


def test_a_whole_repository_deletion_that_also_names_digests_is_refused() -> None:
    assert errors_of(lambda: DeletionRequest("team/app", digests=(DIGEST,), whole_repository=True)) == {
        "whole_repository": ["A whole repository is deleted without naming tags or digests."]
    }


def test_a_negative_threshold_is_refused() -> None:
    assert list(errors_of(lambda: GarbageCollectionRequest(-1))) == ["grace_seconds"]
    assert list(errors_of(lambda: UploadPurgeRequest(-1))) == ["max_age_seconds"]


@pytest.mark.django_db
def test_a_job_recorded_with_its_request_reads_it_back() -> None:
    job = jobs.record_job(DeletionRequest("team/app", digests=(DIGEST,)), dry_run=True)
    job.refresh_from_db()
    assert (job.kind, job.state, job.dry_run) == (Job.Kind.DELETION, Job.State.PENDING, True)
    assert job_request_of(job) == DeletionRequest("team/app", digests=(DIGEST,))


@pytest.mark.django_db
def test_a_collection_recorded_before_the_types_with_no_parameters_runs_with_the_setting(settings: Any) -> None:
    settings.REGISTRY_GC_GRACE_SECONDS = 0
    job = Job.objects.create(kind=Job.Kind.GARBAGE_COLLECTION, parameters={}, dry_run=True)
    jobs.run_job(job.id)
    job.refresh_from_db()
    assert (job.state, job.error) == (Job.State.SUCCEEDED, "")


@pytest.mark.django_db
def test_a_command_given_a_negative_threshold_says_so() -> None:
    with pytest.raises(CommandError, match="greater than or equal to 0"):
        call_command("collectgarbage", "--grace-seconds", "-1")
    assert not Job.objects.exists()
