"""gunicorn's threaded worker, changed so that a client costs no thread until its request is whole.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and the
thread then blocks reading the rest. About 60 connections sending their headers a line every 3 s
held all 16 threads of a default installation, and every other client waited (issue 12, item 2).

Here the worker's main loop, which already waits on every idle socket, also reads the request line,
the headers and a small body (at most SMALL_BODY bytes: logins, tokens, manifests, the management
API) without blocking. Only a whole request goes to a thread, with the bytes read so far handed to
gunicorn's parser. A body too large to hold (a layer) is streamed by the thread as before, but a
`BodyRateGuard` cuts it off when it arrives slower than a minimum rate, and one client address may
stream at most `threads - 1` bodies at once in a process, so a process always has a thread left for
somebody else. The limits follow Apache's mod_reqtimeout (header=20-40,MinRate=500 body=20,MinRate=500):
`REGISTRY_CLIENT_TIMEOUT` seconds for the headers, extended by a second per `REGISTRY_CLIENT_MIN_RATE`
bytes up to twice as long; the same time for a body, then at least that rate. A process also holds
at most `REGISTRY_MAX_CONNECTIONS_PER_ADDRESS` connections from one address (not counting a trusted
proxy, which keeps its own limit: see deploy/nginx).

TLS and HTTP/2 are nginx's business here (gunicorn_conf.py configures neither): the worker refuses
to start with them, since it reads the bytes of a request before gunicorn's parser does.
"""

import selectors
import time
from collections import Counter, deque
from functools import partial
from typing import Any

from django.conf import settings
from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from registry_ui.client_limits import (
    HEAD_TOO_LARGE,
    NOT_HTTP,
    TOO_MANY_CONNECTIONS,
    TOO_SLOW,
    BodyRateGuard,
    PendingRequest,
    send_and_forget,
)

# The most the main loop reads for one request before a thread takes it: headers (docker's bearer
# tokens and Accept lists stay far below) and a body that fits.
MAX_HEAD = 64 * 1024
SMALL_BODY = 64 * 1024
RECV_SIZE = 64 * 1024


class AddressedConn(TConn):  # type: ignore[misc]
    """A connection that gives back its place in the per-address count when it closes, whichever
    path of gunicorn's closes it."""

    def __init__(self, cfg: Any, sock: Any, client: Any, server: Any, open_by_address: Counter[str]) -> None:
        super().__init__(cfg, sock, client, server)
        self.address = client[0] if isinstance(client, tuple) else str(client)
        self.open_by_address = open_by_address
        self.open_by_address[self.address] += 1
        self.streaming_for: str | None = None
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        if not self.closed:
            self.closed = True
            self.open_by_address[self.address] -= 1
            if self.open_by_address[self.address] <= 0:
                del self.open_by_address[self.address]
        super().close(graceful)


class WholeRequestWorker(ThreadWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.cfg.is_ssl or self.cfg.http2_cleartext != "off":
            raise RuntimeError("WholeRequestWorker reads requests itself: terminate TLS and HTTP/2 in nginx")
        self.open_by_address: Counter[str] = Counter()
        self.reading: dict[AddressedConn, PendingRequest] = {}
        self.streaming_by_address: Counter[str] = Counter()
        self.waiting_for_a_thread: dict[str, deque[AddressedConn]] = {}

    def run(self) -> None:
        # The application is loaded by now (gunicorn loads it before run()), and so are the settings.
        self.client_timeout = float(settings.REGISTRY_CLIENT_TIMEOUT)
        self.min_rate = float(settings.REGISTRY_CLIENT_MIN_RATE)
        self.max_per_address = settings.REGISTRY_MAX_CONNECTIONS_PER_ADDRESS
        self.behind_proxy = settings.REGISTRY_TRUST_PROXY_HEADERS
        self.streams_per_address = max(1, self.cfg.threads - 1)
        super().run()

    # Connections arrive, and kept-alive ones come back with a new request: both are read here.

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return  # another worker took it
        except ConnectionAbortedError:
            return
        self.nr_conns += 1
        conn = AddressedConn(self.cfg, client_sock, client_addr, listener.getsockname(), self.open_by_address)
        if not self.behind_proxy and self.open_by_address[conn.address] > self.max_per_address:
            send_and_forget(client_sock, TOO_MANY_CONNECTIONS)
            self.drop(conn)
            return
        self.start_reading(conn, bytearray())

    def on_client_socket_readable(self, conn: AddressedConn, client: Any) -> None:
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.start_reading(conn, bytearray())

    def finish_request(self, conn: AddressedConn, fs: Any) -> None:
        if conn.streaming_for is not None:
            self.stream_ended(conn.streaming_for)
            conn.streaming_for = None
        keepalive = not fs.cancelled() and fs.exception() is None and fs.result() is True
        if keepalive and self.alive and conn.parser.unreader.buf.getvalue():
            # The client sent its next request behind the last one: read the rest of it here too.
            self.start_reading(conn, bytearray(conn.parser.unreader.take_buffered()))
            return
        super().finish_request(conn, fs)

    def start_reading(self, conn: AddressedConn, already: bytearray) -> None:
        conn.sock.setblocking(False)
        pending = PendingRequest(already, time.monotonic(), self.client_timeout, self.min_rate, MAX_HEAD, SMALL_BODY)
        self.reading[conn] = pending
        if not self.went_on(conn, pending):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn: AddressedConn, client: Any) -> None:
        pending = self.reading[conn]
        try:
            data = conn.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.poller.unregister(conn.sock)
            self.drop(conn)
            return
        pending.add(data)
        self.went_on(conn, pending, registered=True)

    def went_on(self, conn: AddressedConn, pending: PendingRequest, registered: bool = False) -> bool:
        """Refuse the request or hand it over, if the bytes so far decide it; else keep reading."""
        refusal = NOT_HTTP if pending.is_not_http() else HEAD_TOO_LARGE if pending.head_too_large() else None
        if refusal is None and not pending.is_whole():
            return False
        if registered:
            self.poller.unregister(conn.sock)
        if refusal is not None:
            send_and_forget(conn.sock, refusal)
            self.drop(conn)
        else:
            self.hand_over(conn, pending)
        return True

    def hand_over(self, conn: AddressedConn, pending: PendingRequest) -> None:
        """Give the whole request to a thread, or, when its body is to be streamed and this address
        already streams as many as it may, keep it until one of those ends."""
        del self.reading[conn]
        if conn.parser is None:
            conn.parser = http.get_parser(
                self.cfg, BodyRateGuard(conn.sock, self.client_timeout, self.min_rate), conn.client
            )
            conn.initialized = True
        conn.parser.unreader.unread(bytes(pending.buffer))
        conn.data_ready = True
        if not pending.streams_body():
            self.serve(conn)
            return
        address = pending.client_address(conn.address, self.behind_proxy)
        if self.streaming_by_address[address] >= self.streams_per_address:
            self.waiting_for_a_thread.setdefault(address, deque()).append(conn)
            return
        self.start_streaming(conn, address)

    def start_streaming(self, conn: AddressedConn, address: str) -> None:
        self.streaming_by_address[address] += 1
        conn.streaming_for = address
        self.serve(conn)

    def serve(self, conn: AddressedConn) -> None:
        conn.parser.unreader.sock.restart()  # the body's clock starts when a thread reads it
        self.enqueue_req(conn)

    def stream_ended(self, address: str) -> None:
        self.streaming_by_address[address] -= 1
        if self.streaming_by_address[address] <= 0:
            del self.streaming_by_address[address]
        waiting = self.waiting_for_a_thread.get(address)
        if waiting:
            self.start_streaming(waiting.popleft(), address)
            if not waiting:
                del self.waiting_for_a_thread[address]

    # Deadlines: the main loop calls this about once a second.

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, pending in list(self.reading.items()):
            if pending.expired(now):
                self.poller.unregister(conn.sock)
                del self.reading[conn]
                if pending.buffer:
                    send_and_forget(conn.sock, TOO_SLOW)
                self.drop(conn)

    def drop(self, conn: AddressedConn) -> None:
        self.reading.pop(conn, None)
        self.nr_conns -= 1
        conn.close()
