"""Results stored before the typed result contract still open on the result page."""

import pytest

from apps.nas.leaderboard import plain_name
from apps.runs.models import RUN_BEST_FIELDS
from tests.fake_results import fake_result
from tests.migrations import migrate

BEFORE = [("runs", "0004_alter_run_strategy")]
AFTER = [("runs", "0005_result_contract")]


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


@pytest.mark.django_db(transaction=True)
def test_an_old_runs_best_model_and_candidates_gain_their_plain_names(alice, back_to_the_latest_schema):
    old = migrate([("runs", "0009_run_slot_per_attempt")])
    best = fake_result().to_dict()["best"]
    del best["name"]
    dataset = old.get_model("datasets", "Dataset").objects.create(team_id=alice.teams.get().pk, name="Digits",
                                                                  status="ready")
    run = old.get_model("runs", "Run").objects.create(
        team_id=dataset.team_id, dataset=dataset, name="old", budget_seconds=60, original_budget_seconds=60,
        status="finished", best={key: best[key] for key in RUN_BEST_FIELDS if key != "name"},
        result={"best": best, "leaderboard": [{"genotype": best["genotype"], "name": ""}, {"genotype": None}]})

    migrated = migrate([("runs", "0010_plain_names")]).get_model("runs", "Run").objects.get(pk=run.pk)
    name = plain_name(best["genotype"])
    assert migrated.best["name"] == migrated.result["best"]["name"] == name
    assert [row.get("name") for row in migrated.result["leaderboard"]] == [name, None]
