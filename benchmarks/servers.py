"""Start and stop the two registries under test, and watch their memory.

Both listen on 127.0.0.1 only, on a free port, with their data in a temporary directory the
caller removes. Harbor-lite runs exactly as deployed (gunicorn with registry_ui/gunicorn_conf.py)
on a Postgres database of its own that is dropped and made again for each run, with token auth
on as deployed: an administrator made by `manage.py ensureadmin`, tokens from /auth/token. The
reference runs without auth (the issue's fair baseline).
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import redis

from benchmarks.client import TokenAuth

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_BINARY = Path("/usr/bin/docker-registry")
# One database per run: several runs may share a Postgres server (helpers measuring at once), and
# each drops its database at the start and the end.
BENCH_DATABASE = f"harbor_lite_bench_{os.getpid()}"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
ADMIN_USERNAME = "bench-admin"
# Tokens live an hour on the benchmark server (REGISTRY_TOKEN_TTL); clients still renew them.
TOKEN_TTL_SECONDS = 3600
TOKEN_SERVICE = "harbor-lite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running registry: its process (for gunicorn, the master) and where it logs."""

    label: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    # Ours: the administrator's tokens, and the environment its manage.py commands need.
    auth: TokenAuth | None = None
    environment: dict[str, str] | None = None
    # The reference: its config file, for `docker-registry garbage-collect`.
    config_path: Path | None = None
    # Processes seen in its tree (pid: start time), so that stop() can make sure none outlives
    # the master, and never signals a later process that happens to reuse a pid.
    seen: dict[int, int] = field(default_factory=dict)
    # scripts/serve: a shell with gunicorn and Celery under it, stopped as a process group.
    own_session: bool = False

    def process_tree(self) -> list[int]:
        """The server's process and its descendants (gunicorn's master and workers)."""
        children_of: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                children_of.setdefault(_parent_of(int(entry)), []).append(int(entry))
        tree: list[int] = []
        pending = [self.process.pid]
        while pending and len(tree) < 1000:
            pid = pending.pop()
            tree.append(pid)
            pending.extend(children_of.get(pid, []))
        for pid in tree:
            self.seen.setdefault(pid, _start_time_of(pid))
        return tree

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.own_session:
                os.killpg(self.process.pid, signal.SIGTERM)
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # gunicorn's workers leave on their own once the master is gone; give them a moment, then
        # end any that stayed, one by one and only if it is still the process we saw.
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for pid, start_time in self.seen.items():
            while time.monotonic() < deadline and _still_running(pid, start_time):
                time.sleep(0.1)
            if _still_running(pid, start_time):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# Indexes into the fields of /proc/<pid>/stat that follow the command name (state is 0).
STAT_PARENT = 1
STAT_START_TIME = 19


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name; empty once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may hold spaces and parens; the fields after its last paren do not.
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _parent_of(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[STAT_PARENT]) if len(fields) > STAT_PARENT else -1


def _start_time_of(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[STAT_START_TIME]) if len(fields) > STAT_START_TIME else -1


def _still_running(pid: int, start_time: int) -> bool:
    """The same process (not a reused pid) and not a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return len(fields) > STAT_START_TIME and fields[0] != "Z" and int(fields[STAT_START_TIME]) == start_time


def _wait_until_ready(server: Server) -> Server:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.label} exited at start; see {server.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v2/", timeout=1) as response:
                if response.status == 200:
                    server.process_tree()
                    return server
        except urllib.error.HTTPError as error:
            # With auth on, an anonymous /v2/ answers the 401 challenge: it is up.
            if error.code == 401:
                server.process_tree()
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{server.label} did not answer within {START_TIMEOUT_SECONDS:.0f} s; see {server.log_path}")


def recreate_database(admin_url: str, name: str, create: bool = True) -> None:
    """Drop `name` (closing its sessions) and, unless told not to, create it empty."""
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def database_url(admin_url: str, name: str) -> str:
    """The admin URL (…/postgres) pointed at another database on the same server."""
    base = admin_url.rsplit("/", 1)[0] if admin_url.count("/") > 2 else admin_url
    return f"{base}/{name}"


def drop_pull_buffer() -> None:
    """The pulls ours buffered in Redis (no beat runs to write them): audit/pulls.py buffer_key."""
    url = os.environ.get("REDIS_URL")
    if url:
        with redis.Redis.from_url(url) as buffer:
            buffer.delete(f"harbor-lite:audit:pulls:{BENCH_DATABASE}")


def start_harbor_lite(
    work_dir: Path, admin_url: str, audit_pulls: bool = True, settings: dict[str, str] | None = None
) -> Server:
    """gunicorn with the production settings file, on a fresh database, migrated first, with an
    administrator whose tokens the benchmark uses; `audit_pulls` is REGISTRY_AUDIT_PULLS, and
    `settings` more environment (blobs in a bucket)."""
    recreate_database(admin_url, BENCH_DATABASE)
    port = free_port()
    password = secrets.token_urlsafe(18)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(admin_url, BENCH_DATABASE),
        "REGISTRY_DATA_DIR": str(work_dir / "harbor-lite"),
        "REGISTRY_BIND": f"127.0.0.1:{port}",
        "REGISTRY_TOKEN_TTL": str(TOKEN_TTL_SECONDS),
        "REGISTRY_TOKEN_SERVICE": TOKEN_SERVICE,
        "REGISTRY_ADMIN_USERNAME": ADMIN_USERNAME,
        "REGISTRY_ADMIN_PASSWORD": password,
        "DEBUG": "false",
        "REGISTRY_AUDIT_PULLS": "true" if audit_pulls else "false",
        **(settings or {}),
    }
    for command in (["migrate", "--noinput", "-v0"], ["ensureadmin"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=REPO_ROOT,
            env=environment,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )
    return _start_gunicorn("harbor-lite", work_dir / "harbor-lite.log", environment)


def start_another_node(server: Server, log_path: Path, **settings: str) -> Server:
    """A second gunicorn on the first one's database, data folder and bucket, with `settings` of its own."""
    assert server.environment is not None
    environment = {**server.environment, "REGISTRY_BIND": f"127.0.0.1:{free_port()}", **settings}
    return _start_gunicorn(server.label, log_path, environment)


def _start_gunicorn(label: str, log_path: Path, environment: dict[str, str]) -> Server:
    port = int(environment["REGISTRY_BIND"].rsplit(":", 1)[1])
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    auth = TokenAuth(port, ADMIN_USERNAME, environment["REGISTRY_ADMIN_PASSWORD"], TOKEN_SERVICE)
    return _wait_until_ready(Server(label, port, process, log_path, auth=auth, environment=environment))


def start_embedded_harbor_lite(work_dir: Path) -> Server:
    """The README's first command, scripts/serve: SQLite and the file broker in a data folder, a
    Celery worker with beat inside it beside gunicorn; every process of it is measured."""
    port = free_port()
    password = secrets.token_urlsafe(18)
    environment = {
        **{name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")},
        "REGISTRY_DATA_DIR": str(work_dir / "harbor-lite"),
        "REGISTRY_BIND": f"127.0.0.1:{port}",
        "REGISTRY_TOKEN_TTL": str(TOKEN_TTL_SECONDS),
        "REGISTRY_TOKEN_SERVICE": TOKEN_SERVICE,
        "REGISTRY_ADMIN_USERNAME": ADMIN_USERNAME,
        "REGISTRY_ADMIN_PASSWORD": password,
        "DEBUG": "false",
    }
    log_path = work_dir / "harbor-lite.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(REPO_ROOT / "scripts/serve")],
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    auth = TokenAuth(port, ADMIN_USERNAME, password, TOKEN_SERVICE)
    server = Server("harbor-lite", port, process, log_path, auth=auth, environment=environment, own_session=True)
    return _wait_until_ready(server)


REFERENCE_CONFIG = """\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  # As in the Debian package's own config: blob descriptors cached in memory.
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


REFERENCE_S3_CONFIG = """\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  # distribution's own S3 driver; with regionendpoint set it addresses the bucket by path.
  s3:
    accesskey: {access_key}
    secretkey: {secret_key}
    region: {region}
    regionendpoint: {endpoint}
    bucket: {bucket}
    rootdirectory: /{prefix}
    secure: false
    v4auth: true
  delete:
    enabled: true
  redirect:
    disable: {redirect_disabled}
http:
  addr: 127.0.0.1:{port}
"""


def start_reference(work_dir: Path, htpasswd: Path | None = None) -> Server:
    """Debian's docker-registry (CNCF distribution 2.8.2) with filesystem storage, deletes on;
    with `htpasswd`, Basic auth for the accounts that file lists."""
    port = free_port()
    root = work_dir / "reference-storage"
    root.mkdir(parents=True)
    config_path = work_dir / "reference-config.yml"
    auth = f"auth:\n  htpasswd:\n    realm: reference\n    path: {htpasswd}\n" if htpasswd else ""
    config_path.write_text(REFERENCE_CONFIG.format(root=root, port=port) + auth)
    return _start_reference_with(work_dir / "reference.log", config_path, port)


def start_reference_on_s3(work_dir: Path, name: str, s3: dict[str, str], redirect: bool) -> Server:
    """docker-registry with its S3 driver on the bucket `s3` describes (endpoint, access_key,
    secret_key, region, bucket, prefix); with `redirect`, blob GETs answer 307 to the bucket."""
    port = free_port()
    config_path = work_dir / f"{name}-config.yml"
    config_path.write_text(
        REFERENCE_S3_CONFIG.format(port=port, redirect_disabled="false" if redirect else "true", **s3)
    )
    # distribution 2.8's AWS SDK panics at start when AWS_CA_BUNDLE is set ("unable to load custom
    # CA bundle, HTTPClient's transport unsupported type"); the local endpoint is plain HTTP anyway.
    environment = {name: value for name, value in os.environ.items() if name != "AWS_CA_BUNDLE"}
    return _start_reference_with(work_dir / f"{name}.log", config_path, port, environment)


def _start_reference_with(
    log_path: Path, config_path: Path, port: int, environment: dict[str, str] | None = None
) -> Server:
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(REFERENCE_BINARY), "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    return _wait_until_ready(Server("reference", port, process, log_path, config_path=config_path))


def _memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of a process. PSS divides each shared page among the processes that map it, so
    the PSS of a process tree adds up to what the tree costs the machine, every page counted
    once; RSS counts a page shared by gunicorn's master and its workers once per process."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class MemorySampler:
    """Samples the memory of a server's process tree in a thread while a `with` block runs.

    Keeps the peak of the tree's PSS (what it costs the machine) and the peak RSS of any one
    process.
    """

    INTERVAL_SECONDS = 0.05

    def __init__(self, server: Server, interval: float = INTERVAL_SECONDS) -> None:
        self.server = server
        self.interval = interval
        self.peak_pss_kib = 0
        self.peak_process_rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        sizes = [_memory_kib(pid) for pid in self.server.process_tree()]
        self.peak_pss_kib = max(self.peak_pss_kib, sum(pss for pss, _ in sizes))
        self.peak_process_rss_kib = max(self.peak_process_rss_kib, *(rss for _, rss in sizes), 0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "MemorySampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
