"""What the web worker (registry_ui/gunicorn_worker.py) asks of a client before a thread serves it:
a request read whole in time, and a streamed body that keeps coming. Plain sockets and bytes only,
so each rule is tested without a server."""

import ipaddress
import json
import re
import select
import socket
import time

HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
# RFC 9110's token characters, of which a method is made; gunicorn accepts methods up to 20 long.
METHOD_CHARACTERS = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
LONGEST_METHOD = 20
# A length Python reads as a number and no client needs more of (not `²`, not 5,000 digits).
CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")


def _answer(status: str, message: str, extra_headers: str = "") -> bytes:
    """A whole HTTP response that closes the connection, with the OCI error body /v2/ clients read."""
    code = "TOOMANYREQUESTS" if status.startswith("429") else "UNKNOWN"
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{extra_headers}Connection: close\r\n\r\n"
    )
    return head.encode() + body


TOO_MANY_CONNECTIONS = _answer(
    "429 Too Many Requests", "too many connections from this address at once", "Retry-After: 5\r\n"
)
TOO_SLOW = _answer("408 Request Timeout", "the request did not arrive in time")
NOT_HTTP = _answer("400 Bad Request", "this port speaks plain HTTP")
HEAD_TOO_LARGE = _answer("431 Request Header Fields Too Large", "the request line and headers are too large")


def send_and_forget(sock: socket.socket, answer: bytes) -> None:
    """Tell a client we are closing on it, if its socket takes the bytes now; never wait for it."""
    try:
        sock.setblocking(False)
        sock.send(answer)
    except OSError:
        pass


class PendingRequest:
    """The bytes of one request read so far, and whether it is whole: the request line and headers,
    and a body of at most `small_body` bytes. A larger body, a chunked one or one the client sends
    only after `100 Continue` is streamed later by a thread, under a BodyRateGuard.

    The client has `timeout` seconds, one more for every `min_rate` bytes it sends, at most twice
    `timeout` for the headers, and never `timeout` seconds without sending anything."""

    def __init__(
        self, buffer: bytearray, now: float, timeout: float, min_rate: float, max_head: int, small_body: int
    ) -> None:
        self.buffer = buffer
        self.started = self.last_received = now
        self.scanned = 0
        self.timeout = timeout
        self.min_rate = min_rate
        self.max_head = max_head
        self.small_body = small_body
        self.head_end: int | None = None
        self.body_to_read = 0
        self.streamed = False
        self.headers: dict[str, list[str]] = {}
        self._find_head()

    def add(self, data: bytes, now: float) -> None:
        self.buffer += data
        self.last_received = now
        if self.head_end is None:
            self._find_head()

    def is_whole(self) -> bool:
        return self.head_end is not None and len(self.buffer) >= self.head_end + self.body_to_read

    def is_not_http(self) -> bool:
        """Whether the bytes so far cannot begin an HTTP request: skopeo, podman and docker first try
        TLS on a plain-HTTP registry, and fall back to HTTP only once they are answered, so such a
        client must be answered at once, not when its request "times out"."""
        start = bytes(self.buffer[:2]).lstrip(b"\r\n")  # one empty line may come before a request
        window = start + bytes(self.buffer[2 : 2 + LONGEST_METHOD + 1])
        method, space, _ = window.partition(b" ")
        if not all(byte in METHOD_CHARACTERS for byte in method):
            return True
        return not space and len(window) > LONGEST_METHOD

    def streams_body(self) -> bool:
        return self.streamed

    def head_too_large(self) -> bool:
        return (self.head_end or len(self.buffer)) > self.max_head

    def expired(self, now: float) -> bool:
        allowed = self.timeout + len(self.buffer) / self.min_rate
        if self.head_end is None:
            allowed = min(allowed, 2 * self.timeout)
        return now - self.started > allowed or now - self.last_received > self.timeout

    def client_address(self, peer: str, behind_proxy: bool) -> str:
        """Who sent this request: behind our proxy every peer is the proxy, which names the client
        in X-Real-IP (deploy/nginx sets it; oci.request_edge trusts it on the same setting)."""
        if behind_proxy:
            forwarded = self.headers.get("x-real-ip", [""])[0].strip()
            if forwarded:
                return forwarded
        return peer

    def _find_head(self) -> None:
        # From just before where the last search ended: a head sent a few bytes at a time would
        # otherwise be searched whole again for each of them, in the worker's only loop.
        start = max(0, self.scanned - 3)
        self.scanned = len(self.buffer)
        ends = [(index, marker) for marker in HEAD_ENDS if (index := self.buffer.find(marker, start)) >= 0]
        if not ends:
            return
        index, marker = min(ends)
        self.head_end = index + len(marker)
        lines = bytes(self.buffer[:index]).decode("latin-1").splitlines()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())
        self._decide_body()

    def _decide_body(self) -> None:
        """Which body the main loop reads before a thread takes the request. Anything unusual (a
        chunked body, Expect, several or bad Content-Lengths) goes to the thread at once: gunicorn's
        parser answers it, and the guard keeps its pace."""
        lengths = self.headers.get("content-length", [])
        if "transfer-encoding" in self.headers or "expect" in self.headers or len(lengths) > 1:
            self.streamed = True
            return
        if not lengths:
            return
        length = lengths[0]
        if not CONTENT_LENGTH.fullmatch(length) or int(length) > self.small_body:
            self.streamed = True
            return
        self.body_to_read = int(length)


class BodyRateGuard:
    """The socket as gunicorn's parser reads a streamed body from it in a thread: the body gets
    `timeout` seconds, and one more for every `min_rate` bytes, from the moment the thread took the
    request, and never `timeout` seconds without a byte (a burst early on buys no long silence). A
    body that falls behind raises TimeoutError, and keeps raising it, so the connection is closed
    rather than kept alive with a body half read."""

    def __init__(self, sock: socket.socket, timeout: float, min_rate: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.min_rate = min_rate
        self.poll = select.poll()
        self.poll.register(sock, select.POLLIN)
        self.restart()

    def restart(self) -> None:
        self.started = self.last_received = time.monotonic()
        self.received = 0
        self.tripped = False

    def recv(self, size: int) -> bytes:
        deadline = min(self.started + self.received / self.min_rate, self.last_received) + self.timeout
        remaining = deadline - time.monotonic()
        if self.tripped or remaining <= 0 or not self.poll.poll(remaining * 1000):
            self.tripped = True
            raise TimeoutError(f"the request body arrived slower than {self.min_rate:g} bytes/s")
        data = self.sock.recv(size)
        self.received += len(data)
        self.last_received = time.monotonic()
        return data

    # gunicorn bounds its drain of an unread body with the socket's own timeout.
    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)


def address_key(address: str) -> str:
    """The address limits count by: an IPv6 client holds a whole /64, so it counts as one."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address
