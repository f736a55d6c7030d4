"""The wire as clients speak it, with `requests` and raw sockets against the live registry."""

import base64
import hashlib
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import LiveRegistry

MIB = 1024 * 1024


def start_upload(live_registry: LiveRegistry, repository: str) -> str:
    response = requests.post(
        f"{live_registry.url}/v2/{repository}/blobs/uploads/", auth=live_registry.admin_credentials, timeout=10
    )
    assert response.status_code == 202
    assert response.headers["Location"].startswith(live_registry.url)
    return response.headers["Location"]


def finish_upload(live_registry: LiveRegistry, location: str, digest: str) -> requests.Response:
    response = requests.put(location, params={"digest": digest}, auth=live_registry.admin_credentials, timeout=30)
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    return response


def sha256_digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def test_a_patch_sent_with_chunked_transfer_encoding_is_stored_whole(live_registry: LiveRegistry) -> None:
    pieces = [os.urandom(256 * 1024) for _ in range(24)]
    content = b"".join(pieces)
    location = start_upload(live_registry, "raw/chunked-transfer")

    # A generator body makes requests send `Transfer-Encoding: chunked` with no Content-Length
    # and no Content-Type, as docker and podman send their layers.
    patched = requests.patch(location, data=iter(pieces), auth=live_registry.admin_credentials, timeout=30)

    assert patched.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in patched.request.headers
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(content) - 1}"
    finished = finish_upload(live_registry, patched.headers["Location"], sha256_digest(content))
    pulled = requests.get(finished.headers["Location"], auth=live_registry.admin_credentials, timeout=30)
    assert pulled.status_code == 200
    assert pulled.content == content


def cut_off_patch(live_registry: LiveRegistry, location: str, headers: bytes, partial_body: bytes) -> None:
    """Send the start of a PATCH and hang up, as an interrupted push does."""
    # Logged in, so the server gets as far as reading the body (a 401 would come before it).
    basic = base64.b64encode(live_registry.admin_creds.encode()).decode()
    request_line = (
        f"PATCH {urlsplit(location).path} HTTP/1.1\r\nHost: {live_registry.host}\r\nAuthorization: Basic {basic}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=5) as connection:
        connection.sendall(request_line + headers + b"\r\n" + partial_body)
        # Give the server time to start reading the body before the connection closes.
        time.sleep(0.2)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_patch_cut_off_half_way_leaves_the_upload_as_it_was(live_registry: LiveRegistry, framing: str) -> None:
    content = os.urandom(MIB)
    repository = f"raw/cut-off-{framing}"
    location = start_upload(live_registry, repository)
    since = (live_registry.data_dir / "server.log").stat().st_size
    if framing == "content-length":
        cut_off_patch(live_registry, location, f"Content-Length: {len(content)}\r\n".encode(), content[:400_000])
    else:
        chunk = b"%x\r\n" % 400_000 + content[:400_000] + b"\r\n"
        cut_off_patch(live_registry, location, b"Transfer-Encoding: chunked\r\n", chunk)

    status = wait_for_upload_size(live_registry, location, 0)
    assert status.headers["Range"] == "0-0"
    resent = requests.patch(
        location, data=iter([content[:400_000], content[400_000:]]), auth=live_registry.admin_credentials, timeout=30
    )
    assert resent.headers["Range"] == f"0-{len(content) - 1}"
    finish_upload(live_registry, resent.headers["Location"], sha256_digest(content))
    assert requests.get(
        f"{live_registry.url}/v2/{repository}/blobs/{sha256_digest(content)}",
        auth=live_registry.admin_credentials,
        timeout=10,
    ).content == (content)
    log = (live_registry.data_dir / "server.log").read_bytes()[since:].decode(errors="replace")
    # The client went away; that is a bad request, not an error of the server's.
    # It was let in (Basic credentials on the raw socket) and answered 400, then the resend 202.
    patches = re.findall(rf'"PATCH /v2/{re.escape(repository)}/blobs/uploads/\S+ HTTP/1.1" (\d{{3}}) ', log)
    assert patches == ["400", "202"], log
    assert "Traceback" not in log
    assert " 500 " not in log


def wait_for_upload_size(live_registry: LiveRegistry, location: str, size: int) -> requests.Response:
    """The upload's status once the server has dropped the cut-off chunk (it notices the
    hang-up a moment after the client leaves)."""
    deadline = time.monotonic() + 5
    while True:
        status = requests.get(location, auth=live_registry.admin_credentials, timeout=10)
        assert status.status_code == 204
        if status.headers["Range"] == f"0-{max(size - 1, 0)}" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def tls_client_hello(live_registry: LiveRegistry) -> None:
    """What skopeo, podman and docker do first: try HTTPS on the plain-HTTP port."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", live_registry.port), timeout=5) as connection,
        pytest.raises((ssl.SSLError, ConnectionError)),
    ):
        context.wrap_socket(connection, server_hostname="127.0.0.1")


def garbage(live_registry: LiveRegistry, payload: bytes) -> None:
    """Send bytes that are no HTTP request and read until the server hangs up."""
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=5) as connection:
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
            while connection.recv(65536):
                pass
        except OSError:
            # The server may refuse a request line before it has read all of it, and close.
            pass


def test_tls_handshakes_and_garbage_on_the_port_leave_the_server_answering(live_registry: LiveRegistry) -> None:
    # More bad connections than the server has threads (2 workers x 8), and one left open and
    # silent half way through a request line the whole time.
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=5) as idle:
        idle.sendall(b"\x16\x03\x01\x02\x00\x01")
        for _ in range(20):
            tls_client_hello(live_registry)
            garbage(live_registry, os.urandom(4096))
            garbage(live_registry, b"GET /v2/ HTTP/9.9\r\nHost\r\n\r\n")
            garbage(live_registry, b"\x00" * 100_000)

        response = requests.get(f"{live_registry.url}/v2/", auth=live_registry.admin_credentials, timeout=5)

    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_a_50_mib_blob_pushed_in_one_patch_comes_back_identical(live_registry: LiveRegistry) -> None:
    content = os.urandom(50 * MIB)
    digest = sha256_digest(content)
    location = start_upload(live_registry, "raw/large")

    patched = requests.patch(
        location,
        data=content,
        headers={"Content-Type": "application/octet-stream"},
        auth=live_registry.admin_credentials,
        timeout=60,
    )
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(content) - 1}"
    finish_upload(live_registry, patched.headers["Location"], digest)
    del content

    head = requests.head(
        f"{live_registry.url}/v2/raw/large/blobs/{digest}", auth=live_registry.admin_credentials, timeout=10
    )
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(50 * MIB)
    with requests.get(
        f"{live_registry.url}/v2/raw/large/blobs/{digest}",
        stream=True,
        auth=live_registry.admin_credentials,
        timeout=60,
    ) as pulled:
        assert pulled.status_code == 200
        assert pulled.headers["Content-Length"] == str(50 * MIB)
        assert pulled.headers["Docker-Content-Digest"] == digest
        hasher = hashlib.sha256()
        received = 0
        for chunk in pulled.iter_content(MIB):
            hasher.update(chunk)
            received += len(chunk)
    assert received == 50 * MIB
    assert "sha256:" + hasher.hexdigest() == digest


def single_request_push(live_registry: LiveRegistry, repository: str, content: bytes) -> str:
    """`POST ?digest=` with the whole body (end-4b): no client here sends it, but the spec has it."""
    digest = sha256_digest(content)
    response = requests.post(
        f"{live_registry.url}/v2/{repository}/blobs/uploads/",
        params={"digest": digest},
        data=content,
        headers={"Content-Type": "application/octet-stream"},
        auth=live_registry.admin_credentials,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return digest


def ranges(live_registry: LiveRegistry, url: str, *headers: str) -> Iterator[requests.Response]:
    for header in headers:
        yield requests.get(url, headers={"Range": header}, auth=live_registry.admin_credentials, timeout=10)


def test_a_range_get_returns_only_the_requested_bytes(live_registry: LiveRegistry) -> None:
    content = os.urandom(100_000)
    digest = single_request_push(live_registry, "raw/ranged", content)
    url = f"{live_registry.url}/v2/raw/ranged/blobs/{digest}"

    middle, suffix, open_ended, unsatisfiable = ranges(
        live_registry, url, "bytes=1000-1999", "bytes=-500", "bytes=99000-", "bytes=100000-100010"
    )

    assert middle.status_code == 206
    assert middle.headers["Content-Range"] == "bytes 1000-1999/100000"
    assert middle.headers["Content-Length"] == "1000"
    assert middle.content == content[1000:2000]
    assert suffix.status_code == 206
    assert suffix.content == content[-500:]
    assert open_ended.status_code == 206
    assert open_ended.headers["Content-Range"] == "bytes 99000-99999/100000"
    assert open_ended.content == content[99000:]
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == "bytes */100000"


def test_a_chunked_body_with_a_malformed_chunk_size_is_a_bad_request(live_registry: LiveRegistry) -> None:
    # Issue 12: a chunk size `zz` made gunicorn raise inside the view's read, answered 500.
    location = start_upload(live_registry, "raw/bad-chunk-size")
    since = (live_registry.data_dir / "server.log").stat().st_size
    basic = base64.b64encode(live_registry.admin_creds.encode()).decode()
    request = (
        f"PATCH {urlsplit(location).path} HTTP/1.1\r\nHost: {live_registry.host}\r\nAuthorization: Basic {basic}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_registry.port), timeout=5) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request", answer
    assert b'"code": "BLOB_UPLOAD_INVALID"' in rest
    assert wait_for_upload_size(live_registry, location, 0).headers["Range"] == "0-0"
    log = (live_registry.data_dir / "server.log").read_bytes()[since:].decode(errors="replace")
    assert "Traceback" not in log
