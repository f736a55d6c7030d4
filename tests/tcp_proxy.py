"""A TCP proxy a test controls, to cut Redis or Postgres away from the code under test for real.

The shared servers are never stopped (other sessions use them): the code under test reaches them
through this proxy instead, and the test cuts the proxy. `cut()` drops every connection and turns
new ones away until `restore()`; `stall()` drops every connection and then accepts new ones and
never answers them, as a hung host would; `cut_before(marker)` drops the one connection that is
about to send `marker` (a piece of SQL, say), before the server sees it.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._is_cut = False
        self._is_stalled = False
        self._marker: bytes | None = None
        self.markers_seen = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every connection, and every new one, until restore()."""
        with self._lock:
            self._is_cut = True
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def stall(self) -> None:
        """Drop every connection; new ones are accepted and never answered, until restore()."""
        with self._lock:
            self._is_stalled = True
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._is_cut = self._is_stalled = False

    def cut_before(self, marker: bytes) -> None:
        """Drop the next connection whose client sends `marker`, without forwarding that send; once."""
        with self._lock:
            self._marker = marker

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._is_cut:
                    _close(client)
                    continue
                if self._is_stalled:
                    self._open.add(client)
                    continue
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    _close(client)
                    continue
                server.settimeout(None)
                self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and self._should_drop(data):
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        _close(source)
        _close(sink)

    def _should_drop(self, data: bytes) -> bool:
        with self._lock:
            if self._marker is not None and self._marker in data:
                self._marker = None
                self.markers_seen += 1
                return True
            return False


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def tcp_proxy(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()
