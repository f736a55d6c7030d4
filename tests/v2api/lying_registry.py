"""A hostile registry on loopback, for replication tests: it answers each path as the test says,
including what no honest registry sends (a blob longer than its digest, an error message of a
megabyte), and keeps the paths it was asked for."""

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Sent with a Content-Length, or chunk by chunk (without one) when it is a callable.
    body: bytes | Callable[[], Iterable[bytes]] = b""


@dataclass
class LyingRegistry:
    port: int
    # Keyed by the request's path without its query; anything else is a 404.
    answers: dict[str, Answer]
    asked: list[tuple[str, str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def lying_registry(answers: dict[str, Answer]) -> Iterator[LyingRegistry]:
    registry = LyingRegistry(0, answers, [])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, with_body: bool) -> None:
            path = self.path.split("?")[0]
            registry.asked.append((self.command, path))
            answer = registry.answers.get(path, Answer(404, body=b'{"errors": [{"code": "NAME_UNKNOWN"}]}'))
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if isinstance(answer.body, bytes):
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(answer.body)
                return
            self.send_header("Connection", "close")
            self.end_headers()
            if with_body:
                try:
                    for chunk in answer.body():
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            self.close_connection = True

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    registry.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()
