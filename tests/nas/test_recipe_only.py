"""auto on a budget too small for a search to pay: the recipe alone, trained on train+validation for all of it."""

import time
from dataclasses import replace
from types import SimpleNamespace

import optuna
import pytest

import apps.nas.budget
import apps.nas.clock
import apps.nas.search
from apps.nas.budget import RECIPE_ONLY_MAX_EPOCHS, epochs_that_fit, recipe_only_epochs, steps_that_fit
from apps.nas.config import Constraints
from apps.nas.search import run_search
from apps.nas.space import SearchSpace, baseline_genotype
from apps.nas.start_points import recipe_takes_the_rest
from apps.nas.train import Trainer
from tests.nas.test_search import Control
from tests.nas.tiny_search import EventLog, assert_scored_on_the_test_split, tiny_config

BUDGET_SECONDS = 8.0


class SimulatedKill(BaseException):
    """Like SIGKILL: no handler in the engine catches it."""


@pytest.fixture
def small_budgets_train_the_recipe_alone(monkeypatch):
    # On the tiny test images the recipe's epoch takes milliseconds, so any test budget would buy a search.
    monkeypatch.setattr(apps.nas.budget, "RECIPE_ONLY_MAX_EPOCHS", 10**6)


def recipe_config(**overrides):
    # Without pretrained networks: with them, auto's frozen-feature probe goes first while it is affordable.
    return tiny_config(strategy="auto", space=SearchSpace(backbones=()), budget_seconds=BUDGET_SECONDS, **overrides)


@pytest.mark.parametrize("probe_affordable", [True, False])
def test_pretrained_networks_make_way_for_the_recipe_alone_when_their_probe_costs_too_much(
        make_image_folder, tmp_path, monkeypatch, small_budgets_train_the_recipe_alone, probe_affordable):
    # 20,000 photos at 224 px: the probe's features would take 15 minutes of a 5-minute budget on one CPU thread.
    if not probe_affordable:
        monkeypatch.setattr(apps.nas.clock, "PROBE_FEATURES_SHARE", 0.0)
    space = SearchSpace(backbones=("lite0",), pretrained_sides=(96,))
    result = run_search(tiny_config(strategy="auto", space=space, budget_seconds=BUDGET_SECONDS),
                        make_image_folder(mode="RGB"), tmp_path)

    genotypes = {row.id: row.genotype for row in result.leaderboard}
    if probe_affordable:  # the probe first, then a search
        assert genotypes[0]["backbone"] == "lite0" and genotypes[0]["finetune"] == 0 and len(genotypes) > 1
    else:
        assert list(genotypes.values()) == [baseline_genotype()]


def test_the_recipe_alone_is_planned_only_while_the_budget_buys_few_of_its_epochs():
    assert recipe_only_epochs(available_seconds=111.0, epoch_seconds=1.0) == 100  # 10% margin
    most = RECIPE_ONLY_MAX_EPOCHS
    assert recipe_only_epochs(available_seconds=1.1 * most + 0.01, epoch_seconds=1.0) == most
    assert recipe_only_epochs(available_seconds=1.1 * (most + 1) + 0.01, epoch_seconds=1.0) == 0  # time to search
    assert recipe_only_epochs(available_seconds=1.0, epoch_seconds=1.0) == 0  # not even one epoch


def test_the_plan_made_again_from_real_epochs_fills_the_time_left_within_the_epoch_limit():
    most = RECIPE_ONLY_MAX_EPOCHS
    assert epochs_that_fit(epochs_done=2, planned_epochs=most, seconds_left=55.2, epoch_seconds=0.5) == 2 + 110
    assert epochs_that_fit(epochs_done=2, planned_epochs=most, seconds_left=5.6, epoch_seconds=1.0) == 2 + 5
    assert epochs_that_fit(epochs_done=60, planned_epochs=most, seconds_left=0.9, epoch_seconds=1.0) == 60  # it ends
    assert epochs_that_fit(epochs_done=2, planned_epochs=most, seconds_left=1e6, epoch_seconds=0.5) == most


def test_the_final_plan_ends_with_the_share_of_an_epoch_its_last_seconds_buy():
    def steps(**plan):
        return steps_that_fit(epochs_done=2, planned_epochs=RECIPE_ONLY_MAX_EPOCHS, epoch_seconds=20.0,
                              steps_per_epoch=50, **plan)

    # 31.8 s left: one more whole epoch, and 11.8 s buy a little over half of another, less the 10% margin.
    assert steps(seconds_left=31.8) == 3 * 50 + int(11.8 / 22 * 50)
    assert steps(seconds_left=40.0) == 4 * 50  # two whole epochs: nothing spare
    assert steps(seconds_left=-3.0) == 2 * 50  # out of time: it ends
    assert steps_that_fit(epochs_done=2, planned_epochs=4, seconds_left=1e6, epoch_seconds=20.0,
                          steps_per_epoch=50) == 4 * 50  # its whole schedule fits: no partial epoch


def test_auto_trains_the_recipe_alone_on_train_and_validation_for_the_whole_budget(
        make_image_folder, tmp_path, small_budgets_train_the_recipe_alone):
    log = EventLog()
    result = run_search(recipe_config(), make_image_folder(), tmp_path, on_event=log)

    [row] = result.leaderboard
    assert row.genotype == baseline_genotype()
    assert row.status == "complete" and row.val_accuracy is None and "validation" in row.reason
    [started] = log.of_type("trial_started")
    [final] = log.of_type("final_training_started")
    assert final["retrain"] and "recipe" in final["reason"]
    epochs = log.of_type("epoch_finished")
    assert all(e["phase"] == "final" and e["val_accuracy"] is None for e in epochs)
    # Planned from the probe, re-planned from real epochs during warm-up, shortened if the machine slows down.
    assert started["epochs"] == final["epochs"] == epochs[0]["total_epochs"]
    assert final["genotype_summary"].endswith(f"· {final['epochs']} ep")  # the dashboard shows the planned schedule
    assert len(epochs) == row.epochs == result.best.final_epochs
    # The plan holds to its end, unless the machine stalls in the last epochs: the deadline then ends the training as
    # it stands (a busy CI host stopped it at 146 of 168 epochs).
    assert len(epochs) == epochs[-1]["total_epochs"] or result.summary.elapsed_seconds >= 0.9 * BUDGET_SECONDS
    # It fills the budget (how many epochs that buys depends on the machine) and ends on time.
    assert 0.6 * BUDGET_SECONDS <= result.summary.elapsed_seconds <= 1.05 * BUDGET_SECONDS
    [finished] = log.of_type("trial_finished")
    assert finished["val_accuracy"] is None and finished["epochs"] == row.epochs
    assert not log.of_type("trial_pruned") and not log.of_type("new_best")
    assert result.best.retrained and result.best.val_accuracy is None
    assert result.test_report.accuracy > 0.5  # it learnt: chance is 1 in 3
    assert result.pareto_front == []  # nothing validated to trade off


def test_one_slow_epoch_does_not_cut_the_recipes_training_short(make_image_folder, tmp_path, monkeypatch,
                                                                small_budgets_train_the_recipe_alone):
    run_epoch = Trainer.run_epoch

    def with_one_hiccup(trainer):  # another job takes the CPU for one epoch, well after the warm-up
        stats = run_epoch(trainer)
        if trainer.epochs_done == 30:
            time.sleep(0.5)
        return stats

    monkeypatch.setattr(Trainer, "run_epoch", with_one_hiccup)
    log = EventLog()
    result = run_search(recipe_config(), make_image_folder(), tmp_path, on_event=log)

    assert log.of_type("epoch_finished")[-1]["epoch"] > 30 + 5
    # Cut short at the hiccup, the run would end near 1.5 s; noise in later epochs may still trim the plan a little.
    assert 0.5 * BUDGET_SECONDS <= result.summary.elapsed_seconds <= 1.05 * BUDGET_SECONDS


def test_a_killed_recipe_training_resumes_at_its_last_epoch(make_image_folder, tmp_path,
                                                            small_budgets_train_the_recipe_alone):
    data, first, second = make_image_folder(), EventLog(), EventLog()

    def kill_after_epoch_3(event: dict) -> None:
        first(event)
        if event["type"] == "epoch_finished" and event["epoch"] == 3:
            raise SimulatedKill

    with pytest.raises(SimulatedKill):
        run_search(recipe_config(), data, tmp_path, on_event=kill_after_epoch_3)
    result = run_search(recipe_config(), data, tmp_path, on_event=second)

    assert not second.of_type("trial_started")  # the plan is kept, not made again from the probe
    before, after = first.of_type("epoch_finished"), second.of_type("epoch_finished")
    assert after[0]["total_epochs"] == before[-1]["total_epochs"]  # ... but continued as it stood at the kill
    resumed = [e["epoch"] for e in after]
    # Still in its warm-up, it may re-plan from real epochs; the budget bounds it (checked below).
    assert resumed == list(range(4, 4 + len(resumed)))
    [row] = result.leaderboard
    assert row.epochs == len(row.curve) == resumed[-1] == result.best.final_epochs
    assert result.summary.elapsed_seconds <= 1.05 * BUDGET_SECONDS


def test_a_cancelled_recipe_training_exports_the_model_as_trained_so_far(make_image_folder, tmp_path, monkeypatch,
                                                                         small_budgets_train_the_recipe_alone):
    monkeypatch.setattr(apps.nas.budget, "CONTROL_POLL_SECONDS", 0.0)
    log = EventLog()
    result = run_search(recipe_config(), make_image_folder(), tmp_path, on_event=log, control=Control(log))

    assert result.summary.status == "cancelled"
    [row] = result.leaderboard
    assert 1 <= row.epochs < log.of_type("trial_started")[0]["epochs"]
    assert_scored_on_the_test_split(result)


def test_a_recipe_over_the_deployment_limits_leaves_the_budget_to_the_search(
        make_image_folder, tmp_path, small_budgets_train_the_recipe_alone):
    config = recipe_config(constraints=Constraints(max_params=20_000), max_trials=1)
    result = run_search(config, make_image_folder(), tmp_path)

    recipe = next(row for row in result.leaderboard if row.id == 0)
    assert recipe.status == "infeasible" and recipe.genotype == baseline_genotype()
    assert result.best.trial_id != 0 and result.best.val_accuracy is not None


@pytest.mark.parametrize(("probe_accuracy", "search_ends"), [(0.90, True), (0.98, False)])
def test_a_recipe_that_clearly_beats_the_probe_ends_the_search_on_a_short_budget(
        make_image_folder, tmp_path, monkeypatch, probe_accuracy, search_ends):
    """On digits the pretrained features lose to the recipe by 5 points: a search after it would only shorten the
    recipe's final training. A close win leaves the search to go on (to the fine-tuning start point next)."""
    run_epoch = Trainer.run_epoch

    def scored(trainer: Trainer):
        stats = run_epoch(trainer)
        # Epochs as slow as on a 2-core CPU, so that the rest of the budget buys few of the recipe's.
        stats = replace(stats, seconds=0.5)
        if trainer.val is None:
            return stats
        return replace(stats, val_accuracy=probe_accuracy if "backbone" in trainer.genotype else 0.99)

    monkeypatch.setattr(Trainer, "run_epoch", scored)
    space = SearchSpace(backbones=("lite0",), pretrained_sides=(96,), finetune_stages=(0, 3))
    config = tiny_config(strategy="auto", space=space, budget_seconds=30.0, max_trials=4)
    result = run_search(config, make_image_folder(), tmp_path)

    rows = sorted(result.leaderboard, key=lambda row: row.id)
    assert [row.origin for row in rows[:2]] == ["probe", "recipe"]
    assert (len(rows) == 2) == search_ends
    assert result.best.trial_id == rows[1].id and result.best.retrained


class FinishedStudy:
    """The two start points of a run on small data: the recipe, then the frozen-feature probe, which was also
    cross-validated (its trial's value)."""

    def __init__(self, recipe_val: float, probe_val: float, probe_cv: float):
        self.trials = [optuna.trial.create_trial(value=value, user_attrs={"origin": origin, "curve": [
            {"val_accuracy": val_accuracy}]}) for origin, value, val_accuracy in (
            ("recipe", recipe_val, recipe_val), ("probe", probe_cv, probe_val))]
        for number, trial in enumerate(self.trials):
            trial.number = number

    def get_trials(self, deepcopy, states):
        return self.trials


@pytest.mark.parametrize(("recipe_val", "probe_val", "probe_cv", "ends"), [
    (0.99, 0.95, 0.97, True),  # 4 points ahead on validation, though 2 on the probe's cross-validated score
    (0.99, 0.97, 0.95, False),  # 2 points ahead on validation, though 4 on the cross-validated score
])
def test_the_recipes_clear_win_is_judged_on_the_validation_split_both_were_scored_on(
        recipe_val, probe_val, probe_cv, ends):
    run = SimpleNamespace(
        best=SimpleNamespace(complete=True, trial=0), study=FinishedStudy(recipe_val, probe_val, probe_cv),
        clock=SimpleNamespace(training_seconds_left=lambda: 100.0, final_epoch_seconds=lambda: 1.0))

    assert recipe_takes_the_rest(run) is ends
