"""kill -9 of the gunicorn master (issue 12, item 16): its workers go with it, so the registry
restarts on the same port at once instead of failing to bind while orphans hold it."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import REPO_ROOT, free_port, stop, wait_until

pytestmark = pytest.mark.e2e


def start_gunicorn(port: int, log: Path) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "REGISTRY_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "DEBUG": "false"}
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_until(lambda: answers(port), "gunicorn", process, log)
    return process


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def children_of(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return {int(line) for line in found.split()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waits for init to reap it; it holds no socket.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process)


def test_a_killed_master_takes_its_workers_and_the_port_is_free_again(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port = free_port()
    first = start_gunicorn(port, tmp_path / "first.log")
    processes.append(first)
    # The first worker may answer before the master has forked the second (it spawns them a
    # moment apart, and forks fast now that the application is preloaded).
    deadline = time.monotonic() + 15
    while len(workers := children_of(first.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2
    # A request in flight, as when a push is cut: its body never comes, and an orphaned worker
    # would wait for it before letting the port go.
    in_flight = socket.create_connection(("127.0.0.1", port))
    in_flight.sendall(b"POST /login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    time.sleep(0.5)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    deadline = time.monotonic() + 2
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not any(alive(pid) for pid in workers), "orphaned workers still hold the port"
    in_flight.close()
    started = time.monotonic()
    processes.append(start_gunicorn(port, tmp_path / "second.log"))
    assert time.monotonic() - started < 15
    assert "Connection in use" not in (tmp_path / "second.log").read_text()
