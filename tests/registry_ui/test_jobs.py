"""Jobs: the list, one job's progress and result, its JSON status, and starting a collection."""

import io
import json
import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import Project
from v2api.models import Job

AsUser = Callable[[User], Client]


def deletion_job(user: User | None, **fields: Any) -> Job:
    return Job.objects.create(
        kind=Job.Kind.DELETION,
        parameters={"repository": "team/app", "tags": ["1.0"], "digests": [], "whole_repository": False},
        requested_by=user,
        **fields,
    )


def test_jobs_need_a_login(client: Client, db: None) -> None:
    assert client.get("/jobs/")["Location"].startswith("/login/")
    assert client.get("/jobs/1/")["Location"].startswith("/login/")


def test_a_user_sees_only_the_jobs_they_requested(as_user: AsUser, alice: User, bob: User, root: User) -> None:
    mine = deletion_job(alice)
    theirs = deletion_job(bob)
    scheduled = Job.objects.create(kind=Job.Kind.GARBAGE_COLLECTION)
    text = as_user(alice).get("/jobs/").content.decode()
    assert f'href="/jobs/{mine.pk}/"' in text
    assert f'href="/jobs/{theirs.pk}/"' not in text and f'href="/jobs/{scheduled.pk}/"' not in text
    assert "Start garbage collection" not in text
    assert as_user(alice).get(f"/jobs/{theirs.pk}/").status_code == 404
    assert as_user(alice).get(f"/jobs/{theirs.pk}/status").status_code == 404


def test_a_system_admin_sees_every_job_and_may_start_a_collection(as_user: AsUser, alice: User, root: User) -> None:
    job = deletion_job(alice)
    text = as_user(root).get("/jobs/").content.decode()
    assert f'href="/jobs/{job.pk}/"' in text and "Deletion in team/app" in text
    assert "Start garbage collection" in text


def test_a_running_job_shows_its_progress_and_refreshes_itself(as_user: AsUser, alice: User) -> None:
    job = Job.objects.create(
        kind=Job.Kind.GARBAGE_COLLECTION,
        state=Job.State.RUNNING,
        phase="blobs",
        progress_done=40,
        progress_total=100,
        requested_by=alice,
        started_at=timezone.now(),
    )
    text = as_user(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in text
    assert f'data-job-status-url="/jobs/{job.pk}/status"' in text
    assert "40 of 100" in text and "blobs" in text and "running" in text


def test_the_status_endpoint_answers_json(as_user: AsUser, alice: User) -> None:
    job = deletion_job(alice, state=Job.State.RUNNING, phase="deleted", progress_done=1, progress_total=1)
    response = as_user(alice).get(f"/jobs/{job.pk}/status")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "id": job.pk,
        "state": "running",
        "phase": "deleted",
        "progress_done": 1,
        "progress_total": 1,
        "finished": False,
        "error": "",
    }


def test_a_finished_deletion_shows_what_it_deleted_and_the_bytes(as_user: AsUser, alice: User) -> None:
    result = {
        "repository": "team/app",
        "tags_deleted": 1,
        "manifests_deleted": 1,
        "bytes_to_free": 3 * 1024 * 1024,
        "tags": ["1.0"],
        "manifests": ["sha256:" + "a" * 64],
    }
    job = deletion_job(alice, state=Job.State.SUCCEEDED, result=result, finished_at=timezone.now())
    text = as_user(alice).get(f"/jobs/{job.pk}/").content.decode()
    assert "http-equiv" not in text and "data-job-status-url" not in text
    assert "3.0\xa0MiB" in text and "3,145,728 bytes" in text
    assert "Tags deleted" in text and "sha256:aaaaaaaaaaaa" in text


def test_a_failed_job_says_why_without_a_traceback(as_user: AsUser, alice: User) -> None:
    job = deletion_job(alice, state=Job.State.FAILED, error="another garbage collection is running; try again later")
    response = as_user(alice).get(f"/jobs/{job.pk}/")
    text = response.content.decode()
    assert response.status_code == 200
    assert "The job failed: another garbage collection is running; try again later." in text
    assert "Traceback" not in text


def test_only_a_system_admin_starts_a_collection(as_user: AsUser, alice: User) -> None:
    assert as_user(alice).post("/jobs/garbage-collection/", {"dry_run": "on"}).status_code == 404
    assert not Job.objects.exists()


def test_a_dry_run_collection_runs_and_reports(
    as_user: AsUser, root: User, eager_jobs: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = as_user(root)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/jobs/garbage-collection/", {"dry_run": "on"})
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.dry_run, job.state) == (Job.Kind.GARBAGE_COLLECTION, True, Job.State.SUCCEEDED)
    text = client.get(response["Location"]).content.decode()
    assert "Garbage collection (dry run)" in text and "Blobs deleted" in text


def test_jobs_page_by_id(as_user: AsUser, alice: User, monkeypatch: Any) -> None:
    from registry_ui.views import jobs

    monkeypatch.setattr(jobs, "JOB_PAGE_SIZE", 2)
    created = [deletion_job(alice) for _ in range(3)]
    client = as_user(alice)
    first = client.get("/jobs/")
    assert [job.pk for job, _ in first.context["rows"]] == [created[2].pk, created[1].pk]
    second = client.get("/jobs/", {"before": first.context["next_before"]})
    assert [job.pk for job, _ in second.context["rows"]] == [created[0].pk]


def test_the_collection_panel_states_the_grace_window_it_runs_with(as_user: AsUser, root: User, settings: Any) -> None:
    settings.REGISTRY_GC_GRACE_SECONDS = 86400
    assert "in the last 1\xa0d (the grace window) stays" in as_user(root).get("/jobs/").content.decode()


def test_a_job_run_from_the_shell_says_so_and_a_scheduled_one_says_schedule(as_user: AsUser, root: User) -> None:
    call_command("collectgarbage", "--dry-run", stdout=io.StringIO())
    scheduled = Job.objects.create(kind=Job.Kind.PURGE_UPLOADS, parameters={"older_than_seconds": 60})
    client = as_user(root)

    from_shell = client.get(f"/jobs/{Job.objects.get(kind=Job.Kind.GARBAGE_COLLECTION).pk}/").content.decode()
    listing = client.get("/jobs/").content.decode()

    assert "from the command line" in from_shell and "by the schedule" not in from_shell
    assert "by the schedule" in client.get(f"/jobs/{scheduled.pk}/").content.decode()
    assert '<span class="subtitle">command line</span>' in listing
    assert '<span class="subtitle">schedule</span>' in listing


def test_a_size_under_a_kibibyte_is_written_once(as_user: AsUser, alice: User) -> None:
    result = {"repository": "team/app", "tags_deleted": 1, "manifests_deleted": 0, "bytes_to_free": 0}
    job = deletion_job(alice, state=Job.State.SUCCEEDED, result=result, finished_at=timezone.now())

    text = as_user(alice).get(f"/jobs/{job.pk}/").content.decode()

    assert "<strong>0\xa0bytes</strong>" in text and "(0 bytes)" not in text


def test_a_deletion_whose_repository_and_project_are_gone_links_only_to_the_jobs(
    as_user: AsUser, alice: User, team: Project
) -> None:
    job = deletion_job(alice, state=Job.State.SUCCEEDED, result={}, finished_at=timezone.now())
    client = as_user(alice)
    assert 'href="/projects/team/">Back to project team</a> ·' in client.get(f"/jobs/{job.pk}/").content.decode()
    Project.objects.filter(name="team").delete()

    text = client.get(f"/jobs/{job.pk}/").content.decode()

    assert "Back to" not in text
    assert re.search(r"<p>\s*<a href=\"/jobs/\">All jobs</a>\s*</p>", text)
