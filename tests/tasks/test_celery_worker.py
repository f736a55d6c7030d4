"""Jobs through a real Celery worker on the real Redis: a deletion and a collection requested the
way the dashboard requests them, run by `celery -A registry_ui worker`, recorded in the database."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.conftest import PushImage
from tests.tasks.conftest import blob_file, wait_for
from v2api.models import Job
from v2api.services.job_requests import DeletionRequest, GarbageCollectionRequest
from v2api.tasks import request_job


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_deletion_and_a_collection_and_records_them(
    celery_worker_process: object, admin_user: User, push_image: PushImage, storage_root: Path
) -> None:
    kept = push_image("team/app", tag="stable", layers=[b"shared", b"kept"])
    doomed = push_image("team/app", tag="old", layers=[b"shared", b"doomed"], config=b"{}")

    deletion = wait_for(
        request_job(DeletionRequest("team/app", tags=("old",), digests=(doomed.digest,)), requested_by=admin_user)
    )
    collection = wait_for(request_job(GarbageCollectionRequest(0), requested_by=admin_user))

    assert (deletion.state, deletion.error) == (Job.State.SUCCEEDED, "")
    assert deletion.result["tags"] == ["old"]
    assert deletion.result["manifests"] == [doomed.digest]
    assert collection.state == Job.State.SUCCEEDED
    assert collection.result["bytes_freed"] == deletion.result["bytes_to_free"] == len(b"doomed") + len(b"{}")
    assert not blob_file(storage_root, doomed.layer_digests[1]).exists()
    assert blob_file(storage_root, kept.layer_digests[1]).exists()
    assert collection.started_at is not None and collection.finished_at is not None
