"""A real HTTP receiver on loopback for webhook tests: it keeps what it was sent, answers with the
status the test sets, and can go down and come back on the same port."""

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        # Answers https as `localhost` with this server context, or plain http on 127.0.0.1.
        self.tls = tls
        # The requests it answered 2xx, and every request it took.
        self.received: list[Received] = []
        self.requests: list[Received] = []
        self.status = 200
        # Extra headers of each answer (a Location for a redirect).
        self.answer_headers: dict[str, str] = {}
        self.answer = b'{"ok": true}'
        # A slow receiver: each request is answered this long after it arrived (`arrival` is set).
        self.delay_seconds = 0.0
        self.arrival = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._arrived = threading.Condition()

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"https://localhost:{self.port}/hooks"
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrival.set()
                time.sleep(receiver.delay_seconds)
                self.send_response(receiver.status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)
                request = Received(self.path, dict(self.headers.items()), body)
                with receiver._arrived:
                    receiver.requests.append(request)
                    if 200 <= receiver.status < 300:
                        receiver.received.append(request)
                    receiver._arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections to its port are refused until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, seconds: float = 30) -> list[Received]:
        """The requests it took, once it has taken `count` (or the time is up)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout=seconds)
            return list(self.received)
