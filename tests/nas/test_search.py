import json
from dataclasses import replace

import pytest
import torch

import apps.nas.admission
import apps.nas.budget
import apps.nas.clock
import apps.nas.search
import apps.nas.start_points
from apps.nas.budget import LeaseLost
from apps.nas.search import run_search
from apps.nas.space import SearchSpace, baseline_genotype
from apps.nas.train import Trainer
from tests.nas.tiny_search import TINY_SPACE, EventLog, assert_scored_on_the_test_split, epochs_take, tiny_config

EVENT_TYPES = {"run_started", "trial_started", "epoch_finished", "trial_finished", "trial_pruned", "trial_failed",
               "new_best", "final_training_started", "run_finished"}


class Control:
    """Cancels the search as soon as the first epoch of the first candidate has finished."""

    def __init__(self, log: EventLog):
        self.log = log

    def cancelled(self) -> bool:
        return bool(self.log.of_type("epoch_finished"))

    def budget_seconds(self) -> float:
        return 60.0


def test_it_searches_retrains_tests_and_exports_the_best_model(make_image_folder, tmp_path):
    log = EventLog()
    result = run_search(tiny_config(strategy="auto", export=True, max_trials=4), make_image_folder(), tmp_path,
                        on_event=log)

    assert result.best.retrained
    # The final retrain stretches the searched schedule to fill the time the search left it (at most 3x).
    searched_epochs = result.best.genotype["train"]["epochs"]
    assert searched_epochs <= result.best.final_epochs <= 3 * searched_epochs
    [final] = log.of_type("final_training_started")
    assert final["epochs"] == result.best.final_epochs
    assert final["genotype_summary"].endswith(f"· {final['epochs']} ep")  # not the searched schedule's
    assert len([e for e in log.of_type("epoch_finished") if e["phase"] == "final"]) == final["epochs"]
    assert_scored_on_the_test_split(result)
    assert (tmp_path / "bundle.zip").exists()
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["best"]["genotype"] == result.best.genotype
    assert {"leaderboard", "pareto_front", "test_report", "summary"} <= saved.keys()
    rows = result.leaderboard
    assert [row.id for row in rows if row.status != "infeasible"]
    assert all(len(row.curve) == row.epochs for row in rows)
    complete = {row.id for row in rows if row.status == "complete"}
    assert result.pareto_front and {point.id for point in result.pareto_front} <= complete
    assert len(log.of_type("trial_started")) == len(rows)
    assert all(m.true != m.predicted and m.path for m in result.misclassified)
    assert 0.0 <= result.baseline.test_accuracy <= 1.0 and result.baseline.method


def test_every_event_carries_the_run_clock_for_a_dashboard(make_image_folder, tmp_path):
    log = EventLog()
    run_search(tiny_config(max_trials=2), make_image_folder(), tmp_path, on_event=log)
    assert {event["type"] for event in log} <= EVENT_TYPES
    assert log[0]["type"] == "run_started" and log[-1]["type"] == "run_finished"
    progress = [event["progress"] for event in log]
    assert progress == sorted(progress) and progress[0] >= 0 and progress[-1] <= 1
    assert all(event["eta_seconds"] >= 0 and event["elapsed_seconds"] >= 0 for event in log)
    epoch = log.of_type("epoch_finished")[0]
    assert {"trial_id", "epoch", "total_epochs", "train_loss", "val_accuracy", "images_per_second"} <= epoch.keys()
    assert log.of_type("trial_started")[0]["device"] == "cpu"
    json.dumps(list(log))  # everything is JSON-able


def test_a_failing_candidate_is_recorded_with_its_reason_and_the_search_goes_on(make_image_folder, tmp_path,
                                                                              monkeypatch):
    original = apps.nas.search.train_candidate

    def fail_second_candidate(trial, *args, **kwargs):
        if trial.number == 1:
            raise RuntimeError("simulated kernel failure")
        return original(trial, *args, **kwargs)

    monkeypatch.setattr(apps.nas.search, "train_candidate", fail_second_candidate)
    log = EventLog()
    result = run_search(tiny_config(max_trials=3), make_image_folder(), tmp_path, on_event=log)
    [failed] = log.of_type("trial_failed")
    assert failed["trial_id"] == 1 and "simulated kernel failure" in failed["reason"]
    assert {row.id: row.status for row in result.leaderboard}[1] == "failed"
    assert result.summary.trials["complete"] == 2


def test_out_of_gpu_memory_is_retried_once_with_half_the_batch(make_image_folder, tmp_path, monkeypatch):
    original = Trainer.run_epoch
    batch_sizes = []

    def run_epoch_out_of_memory_at_full_batch(self):
        batch_sizes.append(self.hyper["batch_size"])
        if len(batch_sizes) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self)

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch_out_of_memory_at_full_batch)
    monkeypatch.setattr(apps.nas.start_points, "probe_epoch_seconds", lambda run: 0.01)  # trains nothing
    result = run_search(tiny_config(max_trials=1), make_image_folder(), tmp_path)
    [row] = result.leaderboard
    assert row.status == "complete"
    assert batch_sizes[1] == batch_sizes[0] // 2 == row.genotype["train"]["batch_size"]


def test_a_cancelled_search_stops_mid_candidate_and_still_keeps_its_best_model(make_image_folder, tmp_path,
                                                                              monkeypatch):
    monkeypatch.setattr(apps.nas.budget, "CONTROL_POLL_SECONDS", 0.0)  # see the cancel at once, not within 1 s
    log = EventLog()
    result = run_search(tiny_config(budget_seconds=60, export=True), make_image_folder(), tmp_path, on_event=log,
                        control=Control(log))
    assert result.summary.status == "cancelled"
    [started] = log.of_type("trial_started")
    [stopped] = log.of_type("trial_pruned")
    assert stopped["epochs"] < started["epochs"] and stopped["reason"] == "the search was stopped"
    assert result.best.trial_id == started["trial_id"] and not result.best.retrained
    assert log[-1]["type"] == "run_finished" and log[-1]["status"] == "cancelled"
    # "Stop" ships the best candidate as trained: no final training, and the model is exported.
    [final] = log.of_type("final_training_started")
    assert not final["retrain"] and "cancelled" in final["reason"]
    assert not [event for event in log.of_type("epoch_finished") if event["phase"] == "final"]
    assert (tmp_path / "bundle.zip").exists() and result.files
    cancelled_at = log.of_type("epoch_finished")[0]["elapsed_seconds"]
    print(f"from the cancel to the end of the run: {log[-1]['elapsed_seconds'] - cancelled_at:.1f} s")


class LosesItsLease:
    """Another worker takes the run over as soon as the first epoch of the first candidate has finished."""

    def __init__(self, log: EventLog, work_dir):
        self.log, self.state_path = log, work_dir / "search" / "state.json"
        self.state_when_lost = None

    def cancelled(self) -> bool:
        if self.log.of_type("epoch_finished"):
            self.state_when_lost = self.state_when_lost or self.state_path.read_text()
            raise LeaseLost("taken over")
        return False

    def budget_seconds(self) -> float:
        return 60.0


def test_a_search_that_lost_its_run_stops_without_writing_anything_more(make_image_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(apps.nas.budget, "CONTROL_POLL_SECONDS", 0.0)
    log = EventLog()
    control = LosesItsLease(log, tmp_path)

    with pytest.raises(LeaseLost):
        run_search(tiny_config(budget_seconds=60, export=True), make_image_folder(), tmp_path, on_event=log,
                   control=control)

    # Not a cancel: no candidate recorded as pruned, no new best, no export, no end of run, state.json untouched.
    assert [event["type"] for event in log] == ["run_started", "trial_started", "epoch_finished"]
    assert (tmp_path / "search" / "state.json").read_text() == control.state_when_lost
    assert not (tmp_path / "search" / "best.json").exists()
    assert not (tmp_path / "result.json").exists() and not (tmp_path / "bundle.zip").exists()


def test_the_recipe_as_a_start_point_trains_for_what_the_time_left_buys(make_image_folder, monkeypatch, tmp_path):
    """On a slow CPU the recipe's 30 epochs do not fit after the frozen-feature probe: cut short, it finishes and
    competes, where at full length it would be stopped after an epoch and leave the probe as the best."""
    monkeypatch.setattr(apps.nas.start_points, "probe_epoch_seconds", lambda run: 2.0)
    epochs_take(monkeypatch, 2.0, of=lambda genotype: "backbone" not in genotype)
    space = SearchSpace(backbones=("lite0",), pretrained_sides=(96,), finetune_stages=(0,))
    config = tiny_config(strategy="auto", space=space, budget_seconds=60.0, max_trials=2, device="cpu")
    result = run_search(config, make_image_folder(), tmp_path / "work")
    [recipe] = [row for row in result.leaderboard if row.origin == "recipe"]
    assert space.min_epochs <= recipe.planned_epochs < baseline_genotype()["train"]["epochs"]
    assert recipe.status == "complete" and recipe.epochs == recipe.planned_epochs


def test_a_candidate_that_would_not_finish_by_the_deadline_trains_the_epochs_that_fit_instead(
        make_image_folder, monkeypatch, tmp_path):
    """Drawn near the deadline, a long schedule is shortened to what the time left buys and the candidate is compared
    fully trained, instead of being stopped after an epoch of warm-up that tells the search nothing."""
    log = EventLog()
    epochs_take(monkeypatch, 12.0, of=lambda genotype: bool(log.of_type("new_best")))  # slow once a best is kept
    space = replace(TINY_SPACE, min_epochs=2, max_epochs=40)
    config = tiny_config(space=space, budget_seconds=40.0, max_trials=2, multi_fidelity=False)
    result = run_search(config, make_image_folder(), tmp_path / "work", on_event=log)

    first, second = sorted(result.leaderboard, key=lambda row: row.id)
    [drawn] = [event["epochs"] for event in log.of_type("trial_started") if event["trial_id"] == second.id]
    assert first.status == "complete"
    assert space.min_epochs <= second.planned_epochs < drawn  # 12 s epochs: two or three fit in the time left
    assert (second.status, second.epochs) == ("complete", second.planned_epochs)


def test_a_final_training_planned_from_a_pessimistic_estimate_grows_to_what_its_real_epochs_buy(
        make_image_folder, monkeypatch, tmp_path):
    """The final training is planned from the search's epochs on the training split, with margins; once its own
    epochs show it is faster, it trains longer rather than leave the budget unused (up to its longest stretch)."""
    log = EventLog()
    epochs_take(monkeypatch, 2.0, of=lambda genotype: not log.of_type("final_training_started"))
    space = replace(TINY_SPACE, min_epochs=4, max_epochs=4)
    config = tiny_config(space=space, budget_seconds=20.0, max_trials=1, multi_fidelity=False)
    result = run_search(config, make_image_folder(), tmp_path / "work", on_event=log)

    [started] = log.of_type("final_training_started")
    assert result.best.retrained and 4 <= started["epochs"] < result.best.final_epochs
    assert result.best.final_epochs == apps.nas.budget.MAX_FINAL_STRETCH * 4


def test_near_its_deadline_a_search_that_proposes_only_networks_too_slow_for_it_ends(tiny_dataset, monkeypatch,
                                                                                      tmp_path):
    """Once a complete candidate is best, a few proposals in a row too slow for the time left end the search: the
    rest goes to the final training, not to a leaderboard full of skipped rows."""
    measure = apps.nas.admission.deployment_costs
    first = []

    def slow_but_the_first(network, genotype, input_shape):
        architecture = {name: value for name, value in genotype.items() if name != "train"}
        first[:] = first or [architecture]
        costs = measure(network, genotype, input_shape)
        return costs if architecture == first[0] else {**costs, "latency_ms": 10_000.0}

    monkeypatch.setattr(apps.nas.admission, "deployment_costs", slow_but_the_first)
    monkeypatch.setattr(apps.nas.clock, "SLOW_EPOCH_SHARE", 0.5)  # "near the deadline" from the start
    result = run_search(tiny_config(budget_seconds=30.0, device="cpu"), tiny_dataset, tmp_path / "work")

    rows = sorted(result.leaderboard, key=lambda row: row.id)
    assert rows[0].status == "complete"
    assert [row.status for row in rows[1:]] == ["infeasible"] * apps.nas.clock.SLOW_IN_A_ROW_NEAR_THE_END
    assert all(row.reason.startswith("too slow for the time left") for row in rows[1:])
