"""Results stored before the typed result contract still open on the result page."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("runs", "0004_alter_run_strategy")]
AFTER = [("runs", "0005_result_contract")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest_schema():
    """The tests after this one need the tables as the models are now."""
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_old_result_gains_its_test_size_interval_and_input_shape(alice, back_to_the_latest_schema):
    old = migrate(BEFORE)
    dataset = old.get_model("datasets", "Dataset").objects.create(team_id=alice.teams.get().pk, name="Digits",
                                                                  status="ready")
    run = old.get_model("runs", "Run").objects.create(
        team_id=dataset.team_id, dataset=dataset, name="old", budget_seconds=60, original_budget_seconds=60,
        status="finished", result={"test_report": {"accuracy": 32 / 37, "per_class": [{"support": 20},
                                                                                       {"support": 17}]},
                                   "summary": {"status": "finished"}})
    old.get_model("runs", "RunEvent").objects.create(run=run, seq=1, type="run_started",
                                                     payload={"dataset": {"input_shape": [1, 8, 8]}})

    result = migrate(AFTER).get_model("runs", "Run").objects.get(pk=run.pk).result
    report = result["test_report"]
    assert report["images"] == 37
    assert report["accuracy_low"] < 32 / 37 < report["accuracy_high"]
    assert round(50 * (report["accuracy_high"] - report["accuracy_low"])) == 11
    assert result["summary"]["input_shape"] == [1, 8, 8]
