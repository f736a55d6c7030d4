"""Server-side prepared statements for the lookups every pull runs.

psycopg2 sends each query as text, and Postgres plans it afresh every time. For the manifest
lookup (four tables joined) planning cost more than running it: 250 µs a query, against 110 µs
for `EXECUTE` of a statement prepared once per connection, and most of the difference was
Postgres CPU that the web workers then lacked under load (issue 6).

Each connection prepares a statement the first time it runs it; prepared statements outlive
transactions, rolled back or not, and go away with the connection. A migration run while the
registry serves may change the type of a column one returns: Postgres then refuses the old
statement ("cached plan must not change result type") and it is prepared again, at once outside
a transaction, at the next use inside one (the failed EXECUTE aborted it). SQLite runs the plain
SQL.
"""

import re
import weakref
from typing import Any

from django.db import NotSupportedError, connection
from django.utils import timezone

# Statement names prepared on each live psycopg2 connection, True while usable and False once
# a schema change made them stale; a closed connection's entry goes with its object.
_prepared_on: "weakref.WeakKeyDictionary[Any, dict[str, bool]]" = weakref.WeakKeyDictionary()

# SQLSTATE feature_not_supported, which Postgres raises for a stale plan.
_STALE_PLAN = "0A000"


class PreparedQuery:
    """A read query with `%s` placeholders, run as a prepared statement on PostgreSQL."""

    def __init__(self, name: str, sql: str, parameter_types: tuple[str, ...]) -> None:
        if sql.count("%s") != len(parameter_types):
            raise ValueError(f"{name}: {sql.count('%s')} placeholders for {len(parameter_types)} types")
        self.name = name
        self.sql = sql
        numbered = iter(range(1, len(parameter_types) + 1))
        self.prepare_sql = f"PREPARE {name} ({', '.join(parameter_types)}) AS " + re.sub(
            "%s", lambda _: f"${next(numbered)}", sql
        )
        self.execute_sql = f"EXECUTE {name} ({', '.join('%s' for _ in parameter_types)})"

    def fetchone(self, parameters: list[Any]) -> tuple[Any, ...] | None:
        with connection.cursor() as cursor:
            if connection.vendor != "postgresql":
                cursor.execute(self.sql, parameters)
                return cursor.fetchone()
            # connection.cursor() has connected, so the raw connection is the one this runs on.
            prepared = _prepared_on.setdefault(connection.connection, {})
            if not prepared.get(self.name):
                self._prepare(cursor, prepared)
            try:
                cursor.execute(self.execute_sql, parameters)
            except NotSupportedError as error:
                if getattr(error.__cause__, "pgcode", None) != _STALE_PLAN:
                    raise
                prepared[self.name] = False
                if connection.in_atomic_block:
                    raise
                self._prepare(cursor, prepared)
                cursor.execute(self.execute_sql, parameters)
            return cursor.fetchone()

    def _prepare(self, cursor: Any, prepared: dict[str, bool]) -> None:
        if self.name in prepared:
            cursor.execute(f"DEALLOCATE {self.name}")
            del prepared[self.name]
        cursor.execute(self.prepare_sql)
        prepared[self.name] = True


def sql_now() -> str | None:
    """Now, as a parameter of SQL written out (an upsert the ORM cannot spell): as the ORM writes
    a timestamp, so SQLite keeps the naive UTC text its comparisons with the ORM's values need."""
    return connection.ops.adapt_datetimefield_value(timezone.now())


def unix_time(column: str) -> str:
    """A timestamp column as seconds since 1970, each backend its own way (SQLite keeps text)."""
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})"
    return f"(julianday({column}) - 2440587.5) * 86400.0"
