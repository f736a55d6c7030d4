"""A live registry for real clients: gunicorn on a free port, its own database and storage.

The server runs in a separate process against a database of its own (not pytest-django's
test database, whose transactions would hide its writes), made fresh once per session.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
import redis
import requests
from django.conf import settings as django_settings

from tests.dockerd import Docker, running_dockerd

REPO_ROOT = Path(__file__).resolve().parents[2]
# One database per test session: several sessions (one per client) may run at once on a
# machine, and each drops and recreates its own database at the start.
E2E_DATABASE = f"harbor_lite_e2e_{os.getpid()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database_url(name: str) -> str:
    database = django_settings.DATABASES["default"]
    user = database.get("USER") or "postgres"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def _recreate_database(name: str, create: bool = True) -> None:
    database = django_settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres",
        user=database.get("USER") or "postgres",
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or "127.0.0.1",
        port=database.get("PORT") or "5432",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


@dataclass
class LiveRegistry:
    """A registry served by gunicorn; `restart()` stops it and starts it again on the same data."""

    data_dir: Path
    environment: dict[str, str]
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """host:port as image references name it (skopeo, podman, docker)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def storage_root(self) -> Path:
        return self.data_dir / "storage"

    @property
    def admin_credentials(self) -> tuple[str, str]:
        """The system administrator `manage.py ensureadmin` made, who may push anywhere."""
        return self.environment["REGISTRY_ADMIN_USERNAME"], self.environment["REGISTRY_ADMIN_PASSWORD"]

    @property
    def admin_creds(self) -> str:
        """`user:password`, as skopeo's --creds takes it."""
        return ":".join(self.admin_credentials)

    def manage(self, *arguments: str) -> str:
        """Run a management command against this registry's database and data; return its output."""
        finished = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=REPO_ROOT,
            env=self.environment,
            check=True,
            capture_output=True,
            text=True,
        )
        return finished.stdout

    def start(self) -> None:
        with open(self.data_dir / "server.log", "ab") as log:
            # The child keeps its own copy of the log descriptor.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"],
                cwd=REPO_ROOT,
                env={**self.environment, "REGISTRY_BIND": self.host},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the registry exited; see {self.data_dir / 'server.log'}")
            try:
                # 401: up, and asking for credentials as it should.
                if requests.get(f"{self.url}/v2/", timeout=1).status_code == 401:
                    return
            except (requests.ConnectionError, requests.Timeout):
                # A worker's first request imports Django; on a busy machine that passes 1 s.
                pass
            time.sleep(0.1)
        raise RuntimeError("the registry did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def serving_registry(data_dir: Path, database: str, port: int = 0, **settings: str) -> Iterator[LiveRegistry]:
    """A registry on a fresh `database`, with an administrator, its environment plus `settings`,
    on `port` (one chosen before, for a redirect URI) or a free one."""
    _recreate_database(database)
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(database),
        "REGISTRY_DATA_DIR": str(data_dir),
        "WEB_CONCURRENCY": "2",
        "REGISTRY_ADMIN_USERNAME": "e2e-admin",
        "REGISTRY_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        **settings,
    }
    registry = LiveRegistry(data_dir=data_dir, environment=environment, **({"port": port} if port else {}))
    try:
        registry.manage("migrate", "--noinput", "-v0")
        registry.manage("ensureadmin")
        registry.start()
        yield registry
    finally:
        # Also when the start fails half way: no gunicorn, no database and none of its buffered
        # pull events (audit/pulls.py) outlive the session.
        registry.stop()
        _recreate_database(database, create=False)
        if django_settings.REDIS_URL:
            with redis.Redis.from_url(django_settings.REDIS_URL) as buffer:
                buffer.delete(f"harbor-lite:audit:pulls:{database}")


@pytest.fixture(scope="session")
def live_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRegistry]:
    with serving_registry(tmp_path_factory.mktemp("live-registry"), E2E_DATABASE) as registry:
        yield registry


@pytest.fixture(scope="session")
def dockerd(live_registry: LiveRegistry) -> Iterator[Docker]:
    """A dockerd of our own, logged in to the live registry as its administrator."""
    with running_dockerd() as docker:
        username, password = live_registry.admin_credentials
        output = docker.run("login", live_registry.host, "-u", username, "--password-stdin", stdin=password)
        assert "Login Succeeded" in output, output
        yield docker
