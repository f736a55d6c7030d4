"""Slow clients hold no thread (issue 12, item 2): gunicorn with the shipped configuration, one
process of two threads, clients that trickle their headers or bodies, and the requests of everybody
else answered meanwhile."""

import base64
import hashlib
import http.client
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.deploy.conftest import REPO_ROOT, Stack, free_port, stop, wait_until

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT = 4
MAX_PER_ADDRESS = 40


@dataclass
class Server:
    port: int
    admin: tuple[str, str]
    master: int = 0
    log: Path | None = None

    def workers(self) -> set[int]:
        found = subprocess.run(["pgrep", "-P", str(self.master)], capture_output=True, text=True, check=False)
        return {int(pid) for pid in found.stdout.split()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[Server]:
    """A web process of its own on the stack's database, reached directly (no proxy in front)."""
    port = free_port()
    environment = {
        **stack.environment,
        "REGISTRY_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "REGISTRY_THREADS": "2",
        "REGISTRY_TRUST_PROXY_HEADERS": "false",
        "REGISTRY_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT),
        "REGISTRY_MAX_CONNECTIONS_PER_ADDRESS": str(MAX_PER_ADDRESS),
        "LOG_FORMAT": "text",
        # Blobs served by gunicorn itself, as in the embedded mode, not handed to nginx.
        "REGISTRY_ACCEL_REDIRECT_PREFIX": "",
    }
    log = stack.root / f"slow-clients-{port}.log"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "registry_ui/gunicorn_conf.py", "registry_ui.wsgi"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: answers(port), "gunicorn", process, log)
        yield Server(port, stack.admin_credentials, process.pid, log)
    finally:
        stop(process)


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def others_are_served(server: Server, count: int = 10) -> float:
    """Seconds the slowest of `count` ordinary requests took, each on a new connection."""
    slowest = 0.0
    for _ in range(count):
        started = time.monotonic()
        answer = requests.get(f"{server.url}/v2/", timeout=CLIENT_TIMEOUT)
        assert answer.status_code == 401
        slowest = max(slowest, time.monotonic() - started)
    return slowest


def still_waiting(connection: socket.socket) -> bool:
    """No answer yet and not closed: the server still holds the connection, unanswered."""
    connection.setblocking(False)
    try:
        connection.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        connection.setblocking(True)
    return False


def answer_of(connection: socket.socket) -> tuple[int, bytes]:
    """Status and body of the response on `connection`."""
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response.status, response.read()


def basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


def test_clients_trickling_their_headers_hold_no_thread_and_are_cut_off(server: Server) -> None:
    slow = [server.connect() for _ in range(30)]
    for connection in slow:
        connection.sendall(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n")
    started = time.monotonic()

    slowest = others_are_served(server)

    # Thirty unfinished requests and two threads: every ordinary request was answered, and at once,
    # while the slow ones were all still held (the limit has not passed).
    assert time.monotonic() - started < CLIENT_TIMEOUT
    assert slowest < 1.0
    assert all(still_waiting(connection) for connection in slow)
    # Past the limit each one is told, and closed.
    for connection in slow:
        status, body = answer_of(connection)
        assert status == 408
        assert json.loads(body)["errors"][0]["message"] == "the request did not arrive in time"
        connection.close()
    assert time.monotonic() - started < 2 * CLIENT_TIMEOUT + 2


def test_a_slow_small_body_is_read_before_a_thread_takes_it_and_arrives_whole(server: Server) -> None:
    """docker login's token request, its body sent in two halves a while apart by ten clients."""
    username, password = server.admin
    body = urlencode(
        {
            "grant_type": "password",
            "service": "harbor-lite",
            "client_id": "test",
            "username": username,
            "password": password,
            "scope": "registry:catalog:*",
        }
    ).encode()
    slow = [server.connect() for _ in range(10)]
    for connection in slow:
        connection.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: registry\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:20])
        )

    assert others_are_served(server) < 1.0
    assert all(still_waiting(connection) for connection in slow)
    for connection in slow:
        connection.sendall(body[20:])
        status, answer = answer_of(connection)
        assert status == 200
        assert json.loads(answer)["access_token"]
        connection.close()


def test_a_streamed_body_slower_than_the_minimum_rate_is_cut_off(server: Server) -> None:
    """A layer PATCHed at 100 bytes/s (the minimum is 500): the thread streaming it is given back.
    With two threads, one address streams one body at a time, so the second slow PATCH waits and
    the other thread keeps serving everybody."""
    started_uploads = [
        requests.post(
            f"{server.url}/v2/{server.admin[0]}/slow/blobs/uploads/",
            headers={"Authorization": basic(server.admin)},
            timeout=10,
        )
        for _ in range(2)
    ]
    assert [answer.status_code for answer in started_uploads] == [202, 202]
    slow = []
    for answer in started_uploads:
        connection = server.connect()
        connection.sendall(
            f"PATCH {answer.headers['Location']} HTTP/1.1\r\nHost: registry\r\n"
            f"Authorization: {basic(server.admin)}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {1024 * 1024}\r\n\r\n".encode()
        )
        slow.append(connection)
    started = time.monotonic()
    for _ in range(3 * CLIENT_TIMEOUT):
        for connection in slow:
            connection.sendall(b"x" * 100)
        assert others_are_served(server, count=2) < 1.0
        time.sleep(0.8)
        if not still_waiting(slow[0]):
            break

    status, body = answer_of(slow[0])
    assert status == 400
    error = json.loads(body)["errors"][0]
    assert error["code"] == "BLOB_UPLOAD_INVALID"
    assert error["message"] == "the request body arrived too slowly"
    assert time.monotonic() - started < 2 * CLIENT_TIMEOUT
    # The second one had its turn only then, and fares the same.
    slow[1].settimeout(3 * CLIENT_TIMEOUT)
    status, _ = answer_of(slow[1])
    assert status == 400
    for connection in slow:
        connection.close()


def test_one_address_holds_at_most_so_many_connections(server: Server) -> None:
    held = [server.connect() for _ in range(MAX_PER_ADDRESS)]
    time.sleep(0.2)
    refused = server.connect()

    status, body = answer_of(refused)

    assert status == 429
    assert json.loads(body)["errors"][0]["code"] == "TOOMANYREQUESTS"
    for connection in held:
        connection.close()
    # Closed ones give their places back.
    wait_until_served = time.monotonic() + 5
    while time.monotonic() < wait_until_served:
        if answers(server.port):
            break
        time.sleep(0.1)
    assert answers(server.port)


@pytest.mark.parametrize(
    "path, content_type, authorised",
    [("/auth/token", "application/x-www-form-urlencoded", False), ("/api/v1/projects/", "application/json", True)],
)
def test_a_large_body_too_slow_for_the_dashboard_or_the_api_is_a_clear_400(
    server: Server, path: str, content_type: str, authorised: bool
) -> None:
    """Bodies past what the worker reads first (64 KiB) are streamed to the view, at the same
    minimum rate as a layer; behind nginx these are read whole by nginx first."""
    connection = server.connect()
    authorization = f"Authorization: {basic(server.admin)}\r\n" if authorised else ""
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: registry\r\n{authorization}Content-Type: {content_type}\r\n"
        f"Content-Length: 100000\r\n\r\n".encode()
    )
    connection.sendall(b"{" if content_type == "application/json" else b"a=")
    connection.settimeout(3 * CLIENT_TIMEOUT)

    status, body = answer_of(connection)

    assert status == 400
    assert (
        json.loads(body)["detail"] == "The request body did not arrive: the connection closed, or it came too slowly."
    )
    connection.close()


def hold_unfinished_requests(connections: list[socket.socket]) -> None:
    """Half a request on each: the request line and one header, no end of headers."""
    for connection in connections:
        connection.sendall(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n")


def test_the_embedded_mode_serves_others_while_clients_trickle(embedded: tuple[int, dict[str, str]]) -> None:
    """scripts/serve as the README starts it: 3 processes of 4 threads, and 40 slow clients."""
    port, _ = embedded
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(40)]
    hold_unfinished_requests(slow)

    assert others_are_served(Server(port, ("", ""))) < 1.0
    assert all(still_waiting(connection) for connection in slow)
    for connection in slow:
        connection.close()


def test_behind_nginx_slow_headers_and_slow_dashboard_bodies_never_reach_a_thread(stack: Stack) -> None:
    """The stack as deployed, nginx in front of 2 processes of 4 threads: 30 clients trickling
    headers and 10 sending a 100 KB form slowly, which nginx reads whole before it asks gunicorn."""
    context = ssl.create_default_context(cafile=str(stack.ca_certificate))
    port = int(stack.host.rsplit(":", 1)[1])

    def connect() -> ssl.SSLSocket:
        return context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost"
        )

    trickling = [connect() for _ in range(30)]
    hold_unfinished_requests(trickling)
    posting = [connect() for _ in range(10)]
    for connection in posting:
        connection.sendall(
            b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\ngrant_type=password&"
        )

    slowest = 0.0
    for _ in range(10):
        started = time.monotonic()
        answer = requests.get(f"{stack.url}/v2/", verify=str(stack.ca_certificate), timeout=CLIENT_TIMEOUT)
        assert answer.status_code == 401
        slowest = max(slowest, time.monotonic() - started)

    assert slowest < 1.0
    for connection in trickling + posting:
        connection.close()


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000])
def test_a_content_length_no_number_can_hold_is_a_400_and_the_worker_lives_on(server: Server, length: str) -> None:
    workers = server.workers()
    connection = server.connect()
    connection.sendall(
        f"POST /auth/token HTTP/1.1\r\nHost: registry\r\nContent-Length: {length}\r\n\r\n".encode("latin-1")
    )

    status, _ = answer_of(connection)

    assert status == 400
    assert server.workers() == workers
    assert others_are_served(server, count=2) < 1.0
    connection.close()


def test_clients_that_never_close_after_connection_close_hold_up_nobody(server: Server) -> None:
    """The server closes first; a client that does not close its side must not make the main loop
    wait for it (gunicorn lingered up to 2 s a connection, in the loop that reads every request)."""
    idle = [server.connect() for _ in range(10)]
    for connection in idle:
        connection.sendall(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
    time.sleep(0.5)

    assert others_are_served(server) < 1.0
    for connection in idle:
        connection.close()


def test_a_body_sent_in_a_burst_then_never_finished_is_cut_off_within_the_timeout(server: Server) -> None:
    started_upload = requests.post(
        f"{server.url}/v2/{server.admin[0]}/burst/blobs/uploads/",
        headers={"Authorization": basic(server.admin)},
        timeout=10,
    )
    connection = server.connect()
    connection.sendall(
        f"PATCH {started_upload.headers['Location']} HTTP/1.1\r\nHost: registry\r\n"
        f"Authorization: {basic(server.admin)}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
    )
    connection.sendall(b"x" * 100_000)  # 200 s of credit at 500 bytes/s, then silence
    started = time.monotonic()
    connection.settimeout(6 * CLIENT_TIMEOUT)

    status, body = answer_of(connection)

    assert status == 400
    assert json.loads(body)["errors"][0]["message"] == "the request body arrived too slowly"
    assert time.monotonic() - started < 2 * CLIENT_TIMEOUT
    connection.close()


def test_clients_that_stop_reading_a_large_response_are_let_go(server: Server) -> None:
    """Two clients (as many as the process has threads) pull a 32 MiB layer and read none of it."""
    layer = os.urandom(32 * 1024 * 1024)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    repository = f"{server.admin[0]}/large"
    pushed = requests.post(
        f"{server.url}/v2/{repository}/blobs/uploads/?digest={digest}",
        data=layer,
        headers={"Authorization": basic(server.admin), "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert pushed.status_code == 201, pushed.text
    stalled = []
    for _ in range(2):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", server.port))
        connection.sendall(
            f"GET /v2/{repository}/blobs/{digest} HTTP/1.1\r\nHost: registry\r\n"
            f"Authorization: {basic(server.admin)}\r\n\r\n".encode()
        )
        stalled.append(connection)
    started = time.monotonic()

    # Both threads write to clients that do not read, until the timeout lets them go.
    answer = requests.get(f"{server.url}/v2/", timeout=4 * CLIENT_TIMEOUT)

    assert answer.status_code == 401
    assert time.monotonic() - started < 2 * CLIENT_TIMEOUT + 2
    for connection in stalled:
        connection.close()


def test_a_process_out_of_file_descriptors_pauses_accepting_and_lives_on(server: Server) -> None:
    [worker] = server.workers()
    soft, hard = resource.prlimit(worker, resource.RLIMIT_NOFILE)
    in_use = len(os.listdir(f"/proc/{worker}/fd"))
    resource.prlimit(worker, resource.RLIMIT_NOFILE, (in_use + 3, hard))
    try:
        waiting = [server.connect() for _ in range(10)]  # more than it may accept now
        time.sleep(1.5)
    finally:
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (soft, hard))
    for connection in waiting:
        connection.close()

    assert others_are_served(server, count=3) < 3.0  # within the 1 s pause and a retry
    assert server.workers() == {worker}
    assert server.log is not None
    assert "cannot accept a connection: [Errno 24] Too many open files" in server.log.read_text()
