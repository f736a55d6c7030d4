"""The production stack, natively: Debian's nginx with a certificate from deploy/make-certs, rendered
from deploy/nginx/templates, in front of gunicorn (X-Accel-Redirect on, JSON logs, multiprocess
metrics) and a Celery worker, on the real Postgres and Redis; and a dockerd of our own.

Every process is started here and stopped by its pid, and every folder removed, even when a start
fails half way. The dockerd start is a copy of tests/e2e/test_docker.py's (kept apart on purpose:
tests/e2e is being reworked by someone else).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from django.conf import settings

from tests.dockerd import Docker, running_dockerd

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_DATABASE = f"harbor_lite_deploy_stack_{os.getpid()}"
# A Redis database of its own: a worker on the shared one could take another session's tasks and
# run them against the wrong Postgres database.
STACK_REDIS_DATABASE = 13
ACCEL_PREFIX = "/_blob_store"
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `condition` until it holds; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start:\n{tail}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _admin_connection() -> Any:
    database = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres",
        user=database.get("USER") or "postgres",
        password=database.get("PASSWORD") or None,
        host=database.get("HOST") or "127.0.0.1",
        port=database.get("PORT") or "5432",
    )
    connection.autocommit = True
    return connection


def _recreate_database(name: str, create: bool = True) -> None:
    connection = _admin_connection()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def _database_url(name: str) -> str:
    database = settings.DATABASES["default"]
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return (
        f"postgres://{database.get('USER') or 'postgres'}{password}@{database.get('HOST') or '127.0.0.1'}"
        f":{database.get('PORT') or '5432'}/{name}"
    )


def render_nginx_template(values: dict[str, str]) -> str:
    """deploy/nginx/templates/registry.conf.template as the official image's envsubst renders it."""
    text = (REPO_ROOT / "deploy/nginx/templates/registry.conf.template").read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "a template variable was left unset"
    return text


@dataclass
class JsonLog:
    """A log file of one JSON object per line (other lines are skipped)."""

    path: Path

    def entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return entries

    def wait_for(self, condition: Callable[[dict[str, Any]], bool], timeout: float = 10) -> list[dict[str, Any]]:
        """The entries matching `condition`, once there is at least one (both servers log after answering)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [entry for entry in self.entries() if condition(entry)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


@dataclass
class Stack:
    root: Path
    environment: dict[str, str]
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    gunicorn_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.https_port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def gunicorn_url(self) -> str:
        return f"http://127.0.0.1:{self.gunicorn_port}"

    @property
    def ca_certificate(self) -> Path:
        return self.root / "certs" / "ca.crt"

    @property
    def storage_root(self) -> Path:
        return Path(self.environment["REGISTRY_STORAGE_ROOT"])

    @property
    def admin_credentials(self) -> tuple[str, str]:
        return self.environment["REGISTRY_ADMIN_USERNAME"], self.environment["REGISTRY_ADMIN_PASSWORD"]

    @property
    def gunicorn_log(self) -> JsonLog:
        return JsonLog(self.root / "gunicorn.log")

    @property
    def nginx_log(self) -> JsonLog:
        return JsonLog(self.root / "nginx-access.log")

    @property
    def worker_log(self) -> Path:
        return self.root / "worker.log"

    def manage(self, *arguments: str) -> str:
        finished = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=REPO_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, f"manage.py {' '.join(arguments)} failed:\n{finished.stderr[-3000:]}"
        return finished.stdout

    def spawn(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with open(self.root / log_name, "ab") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=self.environment, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def start_gunicorn(self) -> None:
        process = self.spawn(
            [sys.executable, "-m", "gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"], "gunicorn.log"
        )

        def live() -> bool:
            try:
                return requests.get(f"{self.gunicorn_url}/health/live", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(live, "gunicorn", process, self.root / "gunicorn.log")

    def start_worker(self) -> None:
        process = self.spawn(
            [sys.executable, "-m", "celery", "-A", "registry_ui", "worker", "--loglevel=INFO", "--concurrency=1"],
            "worker.log",
        )
        wait_until(lambda: " ready." in self.worker_log.read_text(errors="replace"), "celery", process, self.worker_log)

    def start_nginx(self) -> None:
        prefix = self.root / "nginx"
        for folder in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / folder).mkdir(parents=True, exist_ok=True)
        (prefix / "registry.conf").write_text(
            render_nginx_template(
                {
                    "REGISTRY_HOST": "127.0.0.1 localhost",
                    "NGINX_HTTPS_PORT": f"127.0.0.1:{self.https_port}",
                    "NGINX_HTTP_PORT": f"127.0.0.1:{self.http_port}",
                    "NGINX_UPSTREAM": f"127.0.0.1:{self.gunicorn_port}",
                    "NGINX_CERT_DIR": str(self.root / "certs"),
                    "NGINX_BLOB_ROOT": str(self.storage_root),
                    "REGISTRY_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX,
                }
            )
        )
        # What the official image's nginx.conf gives around conf.d/, with everything under our prefix.
        # Workers run as the user that owns the blobs, as in docker-compose.yml (uid 101 on both sides).
        (prefix / "nginx.conf").write_text(
            f"""
daemon off;
user {os.environ.get("USER", "root")};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {prefix}/client;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/registry.conf;
}}
"""
        )
        # The access log goes to stdout (/dev/stdout in the template, as in a container).
        process = self.spawn(
            ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
            "nginx-access.log",
        )

        def answers() -> bool:
            try:
                return requests.get(f"{self.url}/health/live", verify=str(self.ca_certificate), timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(answers, "nginx", process, prefix / "error.log")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="hl-stack-", dir="/tmp"))
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{STACK_REDIS_DATABASE}"
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(STACK_DATABASE),
        "REDIS_URL": redis_url,
        "REGISTRY_DATA_DIR": str(root / "data"),
        "REGISTRY_STORAGE_ROOT": str(root / "data" / "storage"),
        "REGISTRY_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX,
        "REGISTRY_TRUST_PROXY_HEADERS": "true",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics"),
        "WEB_CONCURRENCY": "2",
        "REGISTRY_ADMIN_USERNAME": "deploy-admin",
        "REGISTRY_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "SECRET_KEY": secrets.token_urlsafe(40),
    }
    stack = Stack(root=root, environment=environment)
    stack.environment["REGISTRY_BIND"] = f"127.0.0.1:{stack.gunicorn_port}"
    _recreate_database(STACK_DATABASE)
    try:
        subprocess.run(
            [str(REPO_ROOT / "deploy/make-certs"), "127.0.0.1", "localhost"],
            env={**os.environ, "CERTS_DIR": str(root / "certs")},
            check=True,
            capture_output=True,
            timeout=60,
        )
        stack.storage_root.mkdir(parents=True)
        stack.manage("migrate", "--noinput", "-v0")
        stack.manage("ensureadmin")
        stack.start_gunicorn()
        stack.start_worker()
        stack.start_nginx()
        yield stack
    finally:
        for process in reversed(stack.processes):
            stop(process)
        _recreate_database(STACK_DATABASE, create=False)
        subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], capture_output=True, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Docker]:
    with running_dockerd() as docker:
        yield docker


@pytest.fixture(scope="session")
def docker_trusts_the_ca(stack: Stack) -> Iterator[Path]:
    """The generated CA where docker looks for it: /etc/docker/certs.d/<host>:<port>/ca.crt (removed after)."""
    directory = Path("/etc/docker/certs.d") / stack.host
    directory.mkdir(parents=True, exist_ok=False)
    try:
        shutil.copy(stack.ca_certificate, directory / "ca.crt")
        yield directory / "ca.crt"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# The embedded mode as the README starts it: scripts/serve on a data folder of its own.
def embedded_environment(data: Path, port: int) -> dict[str, str]:
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
    env = embedded_environment(tmp_path / "data", port)
    log = tmp_path / "serve.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            ["scripts/serve"], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(lambda: _health_live(port), "scripts/serve", process, log)
        yield port, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _health_live(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False
