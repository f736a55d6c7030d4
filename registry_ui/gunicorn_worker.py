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
bytes up to twice as long; the same time for a body, then at least that rate; and never that long
without a byte. A response is written under the same timeout, so a client that stops reading is
let go too. A process also holds at most `REGISTRY_MAX_CONNECTIONS_PER_ADDRESS` connections from one
address (an IPv6 /64 counts as one address; a trusted proxy keeps its own limit: see deploy/nginx).

The main loop never waits on a client: a connection that closes is half-closed and drained by the
poller (gunicorn lingered in a blocking read for up to 2 s, in the loop that now reads every
request), and an error about one connection drops that connection, never the process.

TLS and HTTP/2 are nginx's business here (gunicorn_conf.py configures neither): the worker refuses
to start with them, since it reads the bytes of a request before gunicorn's parser does.
"""

import contextlib
import errno
import logging
import selectors
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from gunicorn import http
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from registry_ui.client_limits import (
    HEAD_TOO_LARGE,
    NOT_HTTP,
    TOO_MANY_CONNECTIONS,
    TOO_SLOW,
    BodyRateGuard,
    PendingRequest,
    address_key,
    send_and_forget,
)

logger = logging.getLogger(__name__)

# The most the main loop reads for one request before a thread takes it: headers (docker's bearer
# tokens and Accept lists stay far below) and a body that fits.
MAX_HEAD = 64 * 1024
SMALL_BODY = 64 * 1024
RECV_SIZE = 64 * 1024
# A closed connection's last bytes are read and dropped for this long, so the kernel sends the
# peer our answer and a FIN, not a reset that could cut the answer short.
LINGER_SECONDS = 2.0
# After accept() fails for want of file descriptors, the listener is left alone this long.
ACCEPT_PAUSE_SECONDS = 1.0


class AddressedConn(TConn):  # type: ignore[misc]
    """A connection that gives back its place in the per-address count when it closes, whichever
    path of gunicorn's closes it, and that closes through the worker's poller, never waiting."""

    def __init__(
        self, cfg: Any, sock: Any, client: Any, server: Any, worker: "WholeRequestWorker", address: str
    ) -> None:
        super().__init__(cfg, sock, client, server)
        self.worker = worker
        self.address = address
        self.worker.open_by_address[address] += 1
        self.streaming_for: str | None = None
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.worker.open_by_address[self.address] -= 1
        if self.worker.open_by_address[self.address] <= 0:
            del self.worker.open_by_address[self.address]
        # gunicorn's graceful close lingers in a blocking read; called on the main loop it would
        # stop every other connection of the process while a client takes its time to close.
        self.worker.linger(self.sock)


class WholeRequestWorker(ThreadWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.cfg.is_ssl or self.cfg.http2_cleartext != "off":
            raise RuntimeError("WholeRequestWorker reads requests itself: terminate TLS and HTTP/2 in nginx")
        self.open_by_address: Counter[str] = Counter()
        self.reading: dict[AddressedConn, PendingRequest] = {}
        self.lingering: dict[socket.socket, float] = {}
        self.streaming_by_address: Counter[str] = Counter()
        self.waiting_for_a_thread: dict[str, deque[AddressedConn]] = {}
        self.accept_paused_until = 0.0
        self.stopping_since: float | None = None

    def run(self) -> None:
        # The application is loaded by now (gunicorn loads it before run()), and so are the settings.
        self.client_timeout = float(settings.REGISTRY_CLIENT_TIMEOUT)
        self.min_rate = float(settings.REGISTRY_CLIENT_MIN_RATE)
        self.max_per_address = settings.REGISTRY_MAX_CONNECTIONS_PER_ADDRESS
        self.behind_proxy = settings.REGISTRY_TRUST_PROXY_HEADERS
        self.streams_per_address = max(1, self.cfg.threads - 1)
        super().run()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """gunicorn's loop, except that what goes wrong with one connection ends that connection:
        an error escaping here would end the process and every request in it."""
        try:
            events = self.poller.select(timeout)
        except InterruptedError:
            return
        for key, _ in events:
            callback: Callable[[Any], None] = key.data
            try:
                callback(key.fileobj)
            except Exception:
                logger.exception("dropping a connection after an error in the web worker's loop")
                self.forget(key.fileobj)

    def forget(self, fileobj: Any) -> None:
        """Whatever this worker holds for a socket, after an error about it; never a listener nor
        the pipe that brings finished requests back, which the process cannot do without."""
        if fileobj in self.sockets or fileobj == self.method_queue.fileno():
            return
        if fileobj in self.lingering:
            self.close_lingering(fileobj)
            return
        with contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(fileobj)
        for conn in [conn for conn in self.reading if conn.sock is fileobj]:
            self.drop(conn)

    # Connections arrive, and kept-alive ones come back with a new request: both are read here.

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and time.monotonic() >= self.accept_paused_until)

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up first
        except OSError as error:
            logger.warning("cannot accept a connection: %s", error)
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # Out of descriptors: the listener stays readable, so stop asking for a moment.
                self.accept_paused_until = time.monotonic() + ACCEPT_PAUSE_SECONDS
                self.set_accept_enabled(False)
            return
        self.nr_conns += 1
        peer = client_addr[0] if isinstance(client_addr, tuple) else str(client_addr)
        conn = AddressedConn(self.cfg, client_sock, client_addr, listener.getsockname(), self, address_key(peer))
        if not self.behind_proxy and self.open_by_address[conn.address] > self.max_per_address:
            self.drop(conn, TOO_MANY_CONNECTIONS)
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
        if keepalive and conn.parser.unreader.buf.getvalue():
            # The client sent its next request behind the last one: read the rest of it here too.
            self.start_reading(conn, bytearray(conn.parser.unreader.take_buffered()))
            return
        super().finish_request(conn, fs)

    def start_reading(self, conn: AddressedConn, already: bytearray) -> None:
        conn.sock.setblocking(False)
        pending = PendingRequest(already, time.monotonic(), self.client_timeout, self.min_rate, MAX_HEAD, SMALL_BODY)
        self.reading[conn] = pending
        if not self.went_on(conn, pending):
            # Most requests are in the socket already: read now rather than on the next round.
            self.read_request_bytes(conn, registered=False)

    def on_request_bytes(self, conn: AddressedConn, client: Any) -> None:
        self.read_request_bytes(conn, registered=True)

    def read_request_bytes(self, conn: AddressedConn, registered: bool) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except BlockingIOError:
            if not registered:
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))
            return
        except OSError:
            data = b""
        if registered:
            self.poller.unregister(conn.sock)
        if not data:
            self.drop(conn)
            return
        pending = self.reading[conn]
        pending.add(data, time.monotonic())
        if not self.went_on(conn, pending):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def went_on(self, conn: AddressedConn, pending: PendingRequest) -> bool:
        """Refuse the request or hand it over, if the bytes so far decide it; else keep reading."""
        refusal = NOT_HTTP if pending.is_not_http() else HEAD_TOO_LARGE if pending.head_too_large() else None
        if refusal is not None:
            self.drop(conn, refusal)
        elif pending.is_whole():
            self.hand_over(conn, pending)
        else:
            return False
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
        address = address_key(pending.client_address(conn.address, self.behind_proxy))
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

    def handle_request(self, req: Any, conn: AddressedConn) -> bool:
        """Serve a request in a thread, writing the response under the client timeout: gunicorn
        writes on a blocking socket with none, so a client that stops reading held the thread."""
        conn.sock.settimeout(self.client_timeout)
        try:
            return bool(super().handle_request(req, conn))
        except TimeoutError:
            self.log.info("%s stopped reading its response; closing", conn.client)
            return False

    # Closing, and deadlines: the main loop calls murder_pending about once a second.

    def drop(self, conn: AddressedConn, answer: bytes | None = None) -> None:
        """End a connection no thread holds, telling the client why when there is a why."""
        self.reading.pop(conn, None)
        if answer is not None:
            send_and_forget(conn.sock, answer)
        self.nr_conns -= 1
        conn.close()

    def linger(self, sock: socket.socket) -> None:
        """Half-close, then let the poller drop what the client still sends until it closes too."""
        try:
            sock.setblocking(False)
            sock.shutdown(socket.SHUT_WR)
            self.poller.register(sock, selectors.EVENT_READ, self.on_lingering_bytes)
        except (OSError, ValueError, KeyError):
            self.close_lingering(sock)
            return
        self.lingering[sock] = time.monotonic() + LINGER_SECONDS

    def on_lingering_bytes(self, sock: socket.socket) -> None:
        try:
            if sock.recv(RECV_SIZE):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.close_lingering(sock)

    def close_lingering(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(sock)
        sock.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self.stopping_since is None:
            self.stopping_since = now
        for conn, pending in list(self.reading.items()):
            if self.stopping_since is not None and (
                not pending.buffer or now - self.stopping_since > STOP_KEEPALIVE_LINGER
            ):
                # Stopping: as gunicorn does with kept-alive connections, a moment for a request
                # on its way, no more.
                self.poller.unregister(conn.sock)
                self.drop(conn)
            elif pending.expired(now):
                self.poller.unregister(conn.sock)
                self.drop(conn, TOO_SLOW if pending.buffer else None)
        for sock, deadline in list(self.lingering.items()):
            if now >= deadline:
                self.close_lingering(sock)
