"""The embedded mode as the README starts it (scripts/serve), scraped like Prometheus (issue 12,
item 21): every scrape gives the sum over all gunicorn workers, and a collection run in another
process (as the Celery worker runs it) shows in the registry_gc_* figures."""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e

ROUNDS, REQUESTS = 4, 32


def environment(data: Path, port: int) -> dict[str, str]:
    # The embedded defaults: SQLite and the file broker under the data folder, no Redis.
    kept = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    return {
        **kept,
        "REGISTRY_DATA_DIR": str(data),
        "REGISTRY_BIND": f"127.0.0.1:{port}",
        "REGISTRY_ADMIN_PASSWORD": "an embedded admin password",
        "WEB_CONCURRENCY": "3",
        "DEBUG": "false",
    }


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    tmp_path = tmp_path_factory.mktemp("embedded")
    port = free_port()
    env = environment(tmp_path / "data", port)
    log = tmp_path / "serve.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            ["scripts/serve"], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: answers(port), "scripts/serve", process, log)
        yield port, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


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
