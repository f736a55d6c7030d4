"""Django's PostgreSQL backend, with a health check that costs no round trip.

CONN_HEALTH_CHECKS makes Django check a persistent connection before the first query of each
request, with a `SELECT 1`: one more round trip on every request, about one in six statements of
a blob push (issue 18). A connection idle between requests has nothing to read: the server
answered each query in full. If its socket is readable, the server went away (a restart, or
`pg_terminate_backend`, which sends a FATAL error and closes) or said something unasked; either
way the connection is dropped and the request opens a new one, as a failed `SELECT 1` would.
After an error in a request Django still asks `is_usable`, the `SELECT 1`, as before.
"""

import select
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # Set by Django's BaseDatabaseWrapper; its stubs leave them out.
    health_check_enabled: bool
    health_check_done: bool

    def close_if_health_check_failed(self) -> None:
        if self.pool or self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if _server_went_away(self.connection):
            self.close()
        self.health_check_done = True


def _server_went_away(raw_connection: Any) -> bool:
    if raw_connection.closed:
        return True
    # poll, not select: select refuses descriptors past 1023, which a threaded worker holding
    # many sockets and files reaches, and every request would then open a new connection.
    watcher = select.poll()
    try:
        watcher.register(raw_connection.fileno(), select.POLLIN)
        return bool(watcher.poll(0))
    except (OSError, ValueError):
        return True
