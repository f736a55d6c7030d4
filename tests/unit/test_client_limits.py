"""The rules the web worker applies to a request before a thread serves it (registry_ui/client_limits.py)."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from registry_ui.client_limits import BodyRateGuard, PendingRequest, address_key

HEAD = b"POST /auth/token HTTP/1.1\r\nHost: registry\r\n"


def pending(data: bytes, now: float = 0.0) -> PendingRequest:
    return PendingRequest(bytearray(data), now, timeout=20, min_rate=500, max_head=1024, small_body=100)


def test_a_request_is_whole_once_its_headers_end() -> None:
    request = pending(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n")
    assert not request.is_whole()

    request.add(b"\r\n", 1.0)

    assert request.is_whole()
    assert not request.streams_body()


def test_bare_line_feeds_end_the_headers_too() -> None:
    assert pending(b"GET /v2/ HTTP/1.1\nHost: registry\n\n").is_whole()


def test_a_small_body_is_read_whole_first() -> None:
    request = pending(HEAD + b"Content-Length: 10\r\n\r\n12345")
    assert not request.is_whole()

    request.add(b"67890", 1.0)

    assert request.is_whole()
    assert not request.streams_body()


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 101\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Content-Length: 10\r\nExpect: 100-continue\r\n",
        b"Content-Length: 10\r\nContent-Length: 10\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: ten\r\n",
        "Content-Length: \u00b2\r\n".encode("latin-1"),  # a digit to str.isdigit(), not to int()
        b"Content-Length: " + b"9" * 5000 + b"\r\n",  # past what int() reads from a string
    ],
)
def test_other_bodies_are_left_to_the_thread_and_its_parser(headers: bytes) -> None:
    request = pending(HEAD + headers + b"\r\n")

    assert request.is_whole()
    assert request.streams_body()


@pytest.mark.parametrize(
    "start", [b"", b"G", b"GET", b"GET /v2/", b"\r\nGET /", b"\nPATCH /v2/", b"M-SEARCH * HTTP/1.1"]
)
def test_what_may_begin_a_request_is_read_on(start: bytes) -> None:
    assert not pending(start).is_not_http()


@pytest.mark.parametrize(
    "start",
    [
        b"\x16\x03\x01\x02\x00\x01",  # a TLS ClientHello: skopeo, podman and docker probe for HTTPS first
        b"\x00\x00\x00",
        b"GET\x00/ HTTP/1.1",
        b"\r\n\r\nGET / HTTP/1.1",
        b"A" * 21,
    ],
)
def test_what_cannot_begin_a_request_is_refused_at_once(start: bytes) -> None:
    assert pending(start).is_not_http()


def test_headers_past_the_limit_are_too_large_whether_or_not_they_ended() -> None:
    assert pending(HEAD + b"X: " + b"a" * 1024).head_too_large()
    assert pending(HEAD + b"X: " + b"a" * 1024 + b"\r\n\r\n").head_too_large()
    assert not pending(HEAD + b"\r\n" + b"b" * 2000).head_too_large()  # a body is not a header


def test_the_time_allowed_grows_with_what_arrives_up_to_twice_the_timeout_for_headers() -> None:
    request = pending(b"GET /v2/ HTTP/1.1\r\n", now=100.0)
    assert not request.expired(119.0)
    assert request.expired(121.0)

    request.add(b"X-Padding: " + b"a" * 5000 + b"\r\n", 110.0)  # 10 s more at 500 bytes/s

    assert not request.expired(129.0)
    request.add(b"X-Padding: " + b"a" * 10000 + b"\r\n", 125.0)
    assert request.expired(141.0)


def test_the_head_is_found_when_its_end_arrives_split_across_reads() -> None:
    request = pending(b"GET /v2/ HTTP/1.1\r\nHost: registry\r")
    request.add(b"\n\r", 1.0)
    assert not request.is_whole()

    request.add(b"\n", 2.0)

    assert request.is_whole()


def test_a_client_that_goes_silent_is_cut_off_whatever_it_sent_before() -> None:
    request = PendingRequest(bytearray(HEAD + b"Content-Length: 60000\r\n\r\n"), 0.0, 20, 500, 1024, 100000)
    request.add(b"x" * 50000, 1.0)  # 100 s of credit at 500 bytes/s

    assert not request.expired(20.0)
    assert request.expired(21.5)


def test_a_body_has_no_ceiling_only_the_rate() -> None:
    request = PendingRequest(
        bytearray(HEAD + b"Content-Length: 100000\r\n\r\n" + b"x" * 20000), 0.0, 20, 500, 1024, 200000
    )

    for second in range(1, 56):  # keeps sending, a little at a time
        request.add(b"x", float(second))
    assert not request.expired(55.0)
    assert request.expired(65.0)


@pytest.mark.parametrize(
    "address, key",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "::ffff:192.0.2.7"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64(address: str, key: str) -> None:
    assert address_key(address) == key


def test_behind_the_proxy_the_client_is_who_the_proxy_names() -> None:
    request = pending(b"GET /v2/ HTTP/1.1\r\nX-Real-IP: 10.1.2.3\r\n\r\n")

    assert request.client_address("127.0.0.1", behind_proxy=True) == "10.1.2.3"
    assert request.client_address("127.0.0.1", behind_proxy=False) == "127.0.0.1"
    assert pending(b"GET / HTTP/1.1\r\n\r\n").client_address("127.0.0.1", behind_proxy=True) == "127.0.0.1"


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_body_that_keeps_up_is_read_as_it_comes(sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = sockets
    guard = BodyRateGuard(ours, timeout=0.5, min_rate=1000)

    def send() -> None:
        for _ in range(5):
            theirs.sendall(b"x" * 400)
            time.sleep(0.2)

    sender = threading.Thread(target=send)
    sender.start()
    received = 0
    while received < 2000:
        received += len(guard.recv(65536))
    sender.join()

    assert received == 2000


def test_a_burst_buys_no_long_silence(sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = sockets
    guard = BodyRateGuard(ours, timeout=0.3, min_rate=1000)
    theirs.sendall(b"x" * 100_000)  # 100 s of credit at 1000 bytes/s
    received = 0
    while received < 100_000:
        received += len(guard.recv(65536))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        guard.recv(65536)
    assert time.monotonic() - started < 1.0


def test_a_body_that_falls_behind_is_cut_off_and_stays_cut(sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = sockets
    guard = BodyRateGuard(ours, timeout=0.3, min_rate=1000)
    theirs.sendall(b"x" * 100)
    assert guard.recv(65536) == b"x" * 100

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="slower than 1000 bytes/s"):
        guard.recv(65536)
    assert 0.3 <= time.monotonic() - started < 1.0
    theirs.sendall(b"late")
    with pytest.raises(TimeoutError):
        guard.recv(65536)

    guard.restart()  # the next request on the connection has its own clock
    assert guard.recv(65536) == b"late"
