"""A job requested while the broker (Redis) is down is kept, answered clearly, and run once the
broker is back: the request goes to Redis through a proxy the test cuts (the shared Redis is never
touched), and a real worker runs the job that beat's re-send sends."""

import subprocess
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client

from accounts.models import Project
from tests.accounts.conftest import Api
from tests.tasks.conftest import wait_for
from tests.tcp_proxy import TcpProxy
from v2api.models import Job, ReplicationRule
from v2api.services.replication_rules import RuleSettings, save_replication_rule
from v2api.tasks import replicate_on_schedule, resend_waiting_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_requested_while_the_broker_is_down_answers_503_and_runs_once_beat_resends_it(
    broker_through_proxy: TcpProxy,
    celery_worker_process: subprocess.Popen[bytes],
    admin_user: User,
    storage_root: Any,
    settings: Any,
) -> None:
    broker_through_proxy.cut()

    response = Api(Client())("post", "jobs/", admin_user, {"kind": "garbage_collection"})

    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(settings.REGISTRY_JOB_RESEND_SECONDS)
    job = Job.objects.get()
    assert response["Location"].endswith(f"/api/v1/jobs/{job.id}/")
    assert "cannot be reached" in response.json()["detail"]
    assert job.state == Job.State.PENDING

    broker_through_proxy.restore()
    assert resend_waiting_jobs() == 0, "a job only just recorded is not resent yet"
    settings.REGISTRY_JOB_RESEND_SECONDS = 0
    assert resend_waiting_jobs() == 1
    assert wait_for(job, 30).state == Job.State.SUCCEEDED


def test_the_dashboard_says_a_job_waits_for_the_queue_when_the_broker_is_down(
    broker_through_proxy: TcpProxy, admin_user: User, storage_root: Any
) -> None:
    browser = Client()
    browser.force_login(admin_user)
    broker_through_proxy.cut()

    response = browser.post("/jobs/garbage-collection/")

    job = Job.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/jobs/{job.id}/")
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"Job #{job.id} is recorded, but the job queue cannot be reached right now; "
        "it starts on its own once the queue is back."
    ]
    assert job.state == Job.State.PENDING


def test_beat_records_a_run_of_every_due_rule_while_the_broker_is_down(
    broker_through_proxy: TcpProxy, storage_root: Any
) -> None:
    # Each rule is claimed for its interval: one whose job went unrecorded would wait a whole one.
    team = Project.objects.create(name="team")
    for name in ("first", "second"):
        save_replication_rule(
            None,
            RuleSettings(
                name=name,
                direction="push",
                remote_url="http://127.0.0.1:9",
                project=team,
                trigger="schedule",
                schedule_seconds=3600,
            ),
        )
    broker_through_proxy.cut()

    started = replicate_on_schedule()

    assert started == 2
    jobs = Job.objects.filter(kind="replication")
    assert sorted(job.parameters["rule"] for job in jobs) == sorted(
        ReplicationRule.objects.values_list("id", flat=True)
    )
    assert {job.state for job in jobs} == {Job.State.PENDING}
