"""Moving the test database to the migrations of an earlier day and back, for the tests that
migrate rows made by the code of that day (tests/*/test_migrations.py).

transaction=True in those tests: Postgres will not alter a table whose deferred foreign-key checks
are still pending in the same transaction, and a test's transaction would hold them. Their
`back_to_the_latest_migrations` fixture (tests/conftest.py) leaves the database as it found it.
"""

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Migrate the test database to `targets`; the models as they stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_the_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
