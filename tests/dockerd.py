"""A docker engine of the tests' own: dockerd started by hand as ../shared/CLIENTS.md shows
(vfs storage, no bridge network), and the docker CLI pointed at it."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# As CLIENTS.md starts it: vfs storage, and no bridge network, iptables or forwarding to set up.
DOCKERD_FLAGS = (
    "--storage-driver=vfs --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false"
)
START_TIMEOUT = 30


@dataclass
class Docker:
    """The docker CLI talking to our own dockerd; `run` returns stdout and fails the test on a non-zero exit."""

    root: Path
    # Where the CLI keeps its logins; another folder is another user at the same daemon.
    config: Path

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.root / 'docker.sock'}", "DOCKER_CONFIG": str(self.config)}

    def as_another_user(self, config: Path) -> "Docker":
        """The same daemon, driven by a CLI with its own login store."""
        config.mkdir(parents=True, exist_ok=True)
        return Docker(self.root, config)

    def run(self, *arguments: str, stdin: str | None = None) -> str:
        completed = self.try_run(*arguments, stdin=stdin)
        assert completed.returncode == 0, f"docker {' '.join(arguments)} failed:\n{completed.stderr}"
        return completed.stdout

    def try_run(self, *arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *arguments], env=self.environment, input=stdin, capture_output=True, text=True, timeout=180
        )


@contextmanager
def running_dockerd(*extra_flags: str) -> Iterator[Docker]:
    """Start dockerd under a short /tmp folder (with `extra_flags`, e.g. `--registry-mirror=URL`),
    wait until it answers, stop it by its pid file after."""
    # Short: the socket path has a length limit (about 108 bytes).
    root = Path(tempfile.mkdtemp(prefix="dk", dir="/tmp"))
    (root / "config").mkdir()
    client = Docker(root, root / "config")
    with open(root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={root / 'data'}",
                f"--exec-root={root / 'exec'}",
                f"--pidfile={root / 'docker.pid'}",
                f"--host=unix://{root / 'docker.sock'}",
                *DOCKERD_FLAGS.split(),
                *extra_flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while client.try_run("version").returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{(root / 'dockerd.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield client
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
