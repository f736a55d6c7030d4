"""The embedded mode as the README starts it (scripts/serve), scraped like Prometheus (issue 12,
item 21): every scrape gives the sum over all gunicorn workers, and a collection run in another
process (as the Celery worker runs it) shows in the registry_gc_* figures."""

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.deploy.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

ROUNDS, REQUESTS = 4, 32


def sample(port: int, name: str, labels: str = "") -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(rf"^{name}{{{labels}}} (\S+)$" if labels else rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_every_scrape_counts_the_requests_of_every_worker(embedded: tuple[int, dict[str, str]]) -> None:
    port, _ = embedded

    def pull() -> int:
        # A connection each, many at once, so the requests spread over the workers as clients' do.
        return requests.get(f"http://127.0.0.1:{port}/v2/", headers={"Connection": "close"}, timeout=5).status_code

    # Rounds apart: the burst of one round may all land on one worker, rarely every round on the same.
    for _ in range(ROUNDS):
        with ThreadPoolExecutor(REQUESTS) as pool:
            assert list(pool.map(lambda _: pull(), range(REQUESTS))) == [401] * REQUESTS
        time.sleep(0.3)

    labels = 'method="GET",route="v2:base",status="401"'
    scrapes = [sample(port, "registry_http_requests_total", labels) for _ in range(6)]

    assert scrapes == [ROUNDS * REQUESTS] * 6


def test_a_collection_run_in_another_process_shows_in_the_gc_figures(embedded: tuple[int, dict[str, str]]) -> None:
    port, env = embedded
    assert sample(port, "registry_gc_runs_total") == 0

    subprocess.run(
        [str(REPO_ROOT / ".venv/bin/python"), "manage.py", "collectgarbage", "--grace-seconds", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    deadline = time.monotonic() + 10
    while sample(port, "registry_gc_runs_total") != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sample(port, "registry_gc_runs_total") == 1
