"""The embedded mode runs its jobs: scripts/serve's Celery worker (a thread pool, the file broker,
beat inside) takes a job requested through the API and finishes it, and what the collection did
shows in the web's /metrics (issue 12, item 21: the worker is another process)."""

import re
import time

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_a_job_requested_in_the_embedded_mode_is_run_by_its_worker(embedded: tuple[int, dict[str, str]]) -> None:
    port, env = embedded
    admin = (env.get("REGISTRY_ADMIN_USERNAME", "admin"), env["REGISTRY_ADMIN_PASSWORD"])
    url = f"http://127.0.0.1:{port}/api/v1/jobs/"

    requested = requests.post(url, json={"kind": "garbage_collection"}, auth=admin, timeout=10)
    assert requested.status_code == 202, requested.text
    job_url = f"{url}{requested.json()['id']}/"

    deadline = time.monotonic() + 60
    while (job := requests.get(job_url, auth=admin, timeout=10).json())["state"] in ("pending", "running"):
        assert time.monotonic() < deadline, f"the job is still {job['state']} after 60 s"
        time.sleep(0.5)
    assert job["state"] == "succeeded", job
    assert job["result"]["bytes_freed"] == 0
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert re.search(r"^registry_gc_runs_total 1\.0$", metrics, re.MULTILINE), metrics
    assert re.search(r"^registry_gc_last_run_timestamp_seconds [1-9]", metrics, re.MULTILINE)
