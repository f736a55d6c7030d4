"""A TCP proxy in front of the real Redis that a test cuts or stalls (tests/conftest.py's
`redis_link` points the cache at it): a Redis outage made for real, without stopping the shared
server."""

import contextlib
import socket
import threading


class RedisLink:
    """Forwards connections to Redis until `cut()` (connections reset, new ones refused) or
    `stall()` (connections accepted and never answered, as a hung host would)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stalled = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        # shutdown() first: a close() alone leaves the accept() blocked in the other thread
        # holding the socket, which then keeps accepting (Linux).
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._drop_connections()

    def stall(self) -> None:
        self.stalled = True
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self.stalled:
                continue
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets.append(server)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
