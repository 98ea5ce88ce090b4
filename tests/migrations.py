"""Data migrations tested on the schema they were written for: migrate there, then back to the latest."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate the test database to `targets` ([(app, migration)]); the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest_schema():
    """The tests after this one need the tables as the models are now."""
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
