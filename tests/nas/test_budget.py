import re
from dataclasses import asdict
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from apps.nas.budget import Budget, BudgetTooSmall
from apps.nas.clock import BestCandidate, ExportCost
from apps.nas.data import DatasetError
from apps.nas.final import failure_message
from apps.nas.search import run_search
from apps.nas.state import RunState
from tests.nas.tiny_search import EventLog, tiny_config


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Control:
    def __init__(self, budget: float):
        self.budget, self.cancel, self.polls = budget, False, 0

    def cancelled(self) -> bool:
        self.polls += 1
        return self.cancel

    def budget_seconds(self) -> float:
        return self.budget


def test_too_small_a_budget_is_refused_before_training_with_the_minimum_that_works(make_image_folder, tmp_path):
    data, log = make_image_folder(), EventLog()
    with pytest.raises(BudgetTooSmall) as refused:
        run_search(tiny_config(budget_seconds=0.5), data, tmp_path / "refused", on_event=log)
    minimum = refused.value.minimum_seconds
    assert minimum > 0.5
    assert re.search(rf"at least {minimum} s", str(refused.value))
    assert not log  # nothing started, nothing trained

    # The minimum it names is enough to leave a trained best model.
    result = run_search(tiny_config(budget_seconds=minimum), data, tmp_path / "minimum")
    assert result.best.val_accuracy is not None
    assert result.summary.elapsed_seconds <= 1.05 * minimum


def test_an_empty_folder_is_a_clear_dataset_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        run_search(tiny_config(), tmp_path / "empty", tmp_path / "work")


def test_a_single_class_is_a_clear_dataset_error(make_image_folder, tmp_path):
    with pytest.raises(DatasetError, match="class"):
        run_search(tiny_config(), make_image_folder(classes=1), tmp_path / "work")


def test_unreadable_images_are_listed_and_the_search_goes_on(make_image_folder, tmp_path):
    log = EventLog()
    result = run_search(tiny_config(max_trials=1), make_image_folder(corrupt=2), tmp_path / "work", on_event=log)
    skipped = log.of_type("run_started")[0]["dataset"]["skipped"]
    assert sorted(path for path, _ in skipped) == ["class_0/broken_0.png", "class_0/broken_1.png"]
    assert result.best.val_accuracy is not None


def test_budget_counts_time_before_a_resume_and_can_be_extended():
    clock, control = FakeClock(), Control(budget=60)
    budget = Budget(60, used_before=20, control=control, clock=clock)
    clock.now += 10
    assert budget.elapsed() == 30 and budget.remaining() == 30
    control.budget = 120
    clock.now += 1
    assert budget.total() == 120 and budget.progress() == pytest.approx(31 / 120)


def test_budget_polls_the_caller_at_most_once_a_second():
    clock, control = FakeClock(), Control(budget=60)
    budget = Budget(60, control=control, clock=clock)
    for _ in range(100):
        budget.cancelled()
    assert control.polls == 1
    control.cancel = True
    clock.now += 1.0
    assert budget.cancelled()


def test_a_shrinking_budget_from_the_caller_is_ignored():
    # Extensions only: a caller that lowers the number must not cut a run that was promised its time.
    clock, control = FakeClock(), Control(budget=10)
    assert Budget(60, control=control, clock=clock).total() == 60


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        tiny_config(budget_seconds=0)


@pytest.mark.parametrize("pretrained", [True, False])
def test_while_the_first_candidate_trains_the_run_keeps_the_end_it_would_need_to_ship_it(pretrained, tmp_path):
    state = RunState(tiny_config(export=True), tmp_path, None, None)
    state.splits = SimpleNamespace(test=range(600))
    kept_with_no_candidate = state.clock.finish_seconds
    cost = ExportCost(pretrained=pretrained, scoring_seconds_per_image=0.02)
    state.first_in_training = cost
    while_training = state.clock.finish_seconds

    state.first_in_training = None
    state.best = BestCandidate(trial=0, complete=False, val_accuracy=0.9, epochs=2, epoch_seconds=30.0,
                               step_seconds=0.1, **asdict(cost))

    # More than is kept with no candidate at all: the test pass alone takes 12 s here.
    assert while_training == state.clock.finish_seconds > kept_with_no_candidate + 600 * 0.02


def trained_candidate(curve: list[dict], latency_ms: float) -> BestCandidate:
    genotype = {"train": {"batch_size": 32}}
    return BestCandidate.from_curve(0, True, curve, genotype, {"latency_ms": latency_ms})


def test_the_end_kept_for_a_trained_candidate_costs_its_batched_pace_over_the_test_split(tmp_path):
    state = RunState(tiny_config(export=False), tmp_path, None, None)
    state.splits = SimpleNamespace(test=range(1000))
    epoch = {"val_accuracy": 0.9, "seconds": 10.0, "images_per_second": 500.0}
    state.best = trained_candidate([{**epoch, "eval_images_per_second": pace} for pace in (900, 1000, 1100)],
                                   latency_ms=5.0)
    batched = state.clock.finish_seconds
    # Validation passes that read cached features leave the batch-1 latency as the only measure.
    state.best = trained_candidate([{**epoch, "eval_images_per_second": None}], latency_ms=5.0)
    from_latency = state.clock.finish_seconds

    assert from_latency - batched == pytest.approx(1000 * (0.005 - 1 / 1000))


def ended(status: str, reason: str) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=TrialState.PRUNED if status != "failed" else TrialState.FAIL,
                                     user_attrs={"status": status, "reason": reason})


def test_a_search_that_ran_out_of_time_for_every_candidate_says_to_give_it_more_or_to_choose_auto():
    out_of_time = [ended("infeasible", "too slow for the time left: an epoch would take about 98 s"),
                   ended("interrupted", "the search's time ran out")]
    broken = [*out_of_time, ended("failed", "RuntimeError: shapes do not match")]

    assert "Give the search more time, or choose the automatic strategy" in failure_message(out_of_time)
    assert failure_message(broken) == ("No candidate could be trained (3 tried); the last problem: RuntimeError: "
                                       "shapes do not match.")
