"""A job's end survives the faults that used to leave it `running` forever: its worker killed
mid-job (the reaper marks it failed), and its database connection dropped after the job's last
commit (its end is recorded on a fresh connection). Real worker, real Postgres, a real cut."""

import subprocess
from typing import Any

import psycopg2
import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tests.conftest import PushImage
from tests.tasks.conftest import wait_for
from tests.tcp_proxy import TcpProxy
from v2api.models import Job, Manifest
from v2api.services import jobs
from v2api.services.job_requests import DeletionRequest, UploadPurgeRequest
from v2api.tasks import reap_stale_jobs, request_job

pytestmark = pytest.mark.django_db(transaction=True)


def _own_connection() -> Any:
    database = settings.DATABASES["default"]
    return psycopg2.connect(
        dbname=database["NAME"],
        user=database["USER"] or "postgres",
        password=database["PASSWORD"] or None,
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    )


def test_a_job_whose_worker_is_killed_mid_job_is_marked_failed_by_the_reaper(
    celery_worker_process: subprocess.Popen[bytes], admin_user: User, push_image: PushImage, settings: Any
) -> None:
    image = push_image("team/app", tag="old", layers=[b"doomed"])
    lock_holder = _own_connection()
    try:
        with lock_holder.cursor() as cursor:
            # The deletion waits for this row lock, so its worker is mid-job when it is killed.
            cursor.execute(
                "SELECT id FROM v2api_manifest WHERE id = %s FOR UPDATE", [Manifest.objects.get(digest=image.digest).id]
            )
            job = request_job(DeletionRequest("team/app", digests=(image.digest,)), requested_by=admin_user)
            wait_for(job, 30, states=(Job.State.RUNNING,))
            celery_worker_process.kill()
            celery_worker_process.wait(timeout=10)
    finally:
        lock_holder.close()

    assert reap_stale_jobs() == 0, "a job younger than the task time limit may still have a worker"
    settings.REGISTRY_JOB_STALE_SECONDS = 0
    assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "worker running this job stopped" in job.error
    assert job.finished_at is not None
    assert Manifest.objects.filter(digest=image.digest).exists(), "the killed deletion changed nothing"


def test_a_job_whose_connection_drops_after_its_last_commit_records_its_end_on_a_fresh_one(
    database_through_proxy: TcpProxy, storage_root: Any
) -> None:
    job = jobs.record_job(UploadPurgeRequest(0))
    # The UPDATE that records the job's end is the only statement setting finished_at.
    database_through_proxy.cut_before(b'"finished_at" = ')

    jobs.run_job(job.id)

    assert database_through_proxy.markers_seen == 1
    job.refresh_from_db()
    assert (job.state, job.error) == (Job.State.SUCCEEDED, "")
    assert job.finished_at is not None
