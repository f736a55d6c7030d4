"""Each request checks its persistent database connection before its first query, as
CONN_HEALTH_CHECKS asks, without a `SELECT 1` round trip (registry_ui/postgresql): a connection the
server closed between requests is replaced, a healthy one kept and used as it is."""

import os
import select
import time

import psycopg2
import pytest
from django.db import close_old_connections, connection

from tests.tcp_proxy import TcpProxy
from v2api.models import Repository

pytestmark = pytest.mark.django_db(transaction=True)

# What the stock health check sends: the simple-query message's text and its terminating NUL.
STOCK_HEALTH_CHECK = b"SELECT 1\x00"


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def terminate(pid: int) -> None:
    """What a database restart or an administrator does to the connection, from another session."""
    database = connection.settings_dict
    admin = psycopg2.connect(dbname=database["NAME"], user=database["USER"] or "postgres", host="127.0.0.1", port=5432)
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        admin.close()


def wait_for_the_server_to_hang_up() -> None:
    deadline = time.monotonic() + 10
    # poll, not select: after the rest of the suite this process's descriptors may be past 1023.
    watcher = select.poll()
    watcher.register(connection.connection.fileno(), select.POLLIN)
    while not watcher.poll(100):
        assert time.monotonic() < deadline, "the server never closed the terminated connection"


def test_a_healthy_connection_is_kept_without_a_query_to_check_it(database_through_proxy: TcpProxy) -> None:
    pid = backend_pid()
    # The stock check's SELECT 1 would cut the connection here and fail the next query.
    database_through_proxy.cut_before(STOCK_HEALTH_CHECK)

    close_old_connections()  # what Django does as each request starts and ends
    count = Repository.objects.count()

    assert count == 0
    assert backend_pid() == pid
    assert database_through_proxy.markers_seen == 0


def test_a_connection_the_server_closed_between_requests_is_replaced_before_the_next_query() -> None:
    pid = backend_pid()
    terminate(pid)
    wait_for_the_server_to_hang_up()

    close_old_connections()
    count = Repository.objects.count()

    assert count == 0
    assert backend_pid() != pid


def test_a_healthy_connection_with_a_descriptor_past_1023_is_kept() -> None:
    # A threaded worker holding many sockets and blob files gets descriptors past select()'s
    # FD_SETSIZE; a check that cannot look at the socket would reconnect on every request.
    connection.close()
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        pid = backend_pid()
        assert connection.connection.fileno() >= 1024

        close_old_connections()
        Repository.objects.count()

        assert backend_pid() == pid
    finally:
        connection.close()
        for descriptor in spare:
            os.close(descriptor)
