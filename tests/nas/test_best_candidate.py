"""Which candidate a search keeps as its best, and how the leaderboard ranks candidates: fully trained first, then
validation accuracy, then validation log-loss (on a few dozen validation images many tie on accuracy)."""

import optuna
from optuna.trial import TrialState

from apps.nas.leaderboard import Standing, leaderboard
from apps.nas.scoring import CandidateResult
from apps.nas.search import Search
from apps.nas.space import baseline_genotype
from apps.nas.state import RunState
from tests.nas.tiny_search import EventLog, tiny_config

MEASURED = {"params": 1000, "flops": 1, "latency_ms": 0.5, "size_mb": 0.01}


def curve(val_accuracy: float, val_loss: float, epochs: int = 3) -> list[dict]:
    return [{"epoch": epoch, "train_loss": 0.5, "train_accuracy": 0.9, "val_loss": val_loss,
             "val_accuracy": val_accuracy, "seconds": 1.0, "images_per_second": 100.0, "lr": 0.1}
            for epoch in range(1, epochs + 1)]


def test_of_candidates_tied_on_validation_accuracy_the_search_keeps_the_one_with_the_lower_log_loss(tmp_path):
    events = EventLog()
    search = Search(RunState(tiny_config(), tmp_path, events, None))
    files = search.run.files
    files.trial_path(0).parent.mkdir(parents=True, exist_ok=True)
    # 36 of 37 right for all three; candidate 1 is right with the most confidence, candidate 3 stopped early.
    outcomes = [(0, "complete", 0.40), (1, "complete", 0.25), (2, "complete", 0.30), (3, "pruned", 0.10)]
    for number, status, loss in outcomes:
        files.trial_path(number).write_bytes(b"checkpoint")
        result = CandidateResult(status, 36 / 37, curve(36 / 37, loss))
        standing = Standing(complete=status == "complete", val_accuracy=36 / 37, val_loss=loss)
        search.keep_if_best(number, baseline_genotype(), result, standing, MEASURED)

    assert files.best_record()["trial"] == 1
    assert [event["trial_id"] for event in events.of_type("new_best")] == [0, 1]
    assert files.best_trial_path.read_bytes() == b"checkpoint"


def test_the_leaderboard_breaks_ties_on_validation_log_loss_and_ranks_finished_candidates_first():
    rows = leaderboard([frozen_trial(0, "complete", 0.9, 0.5), frozen_trial(1, "pruned", 1.0, 0.1),
                        frozen_trial(2, "complete", 0.9, 0.3), frozen_trial(3, "complete", 0.8, 0.2)])

    assert [row.id for row in rows] == [2, 0, 3, 1]


def test_among_candidates_tied_on_validation_the_cross_validated_one_ranks_first_then_the_higher_score():
    """On 36 of 37 validation images several candidates tie; a cross-validated accuracy, from every image the test
    does not keep, tells them apart, before the validation loss does. It is never set against another candidate's
    validation score: a lucky 100% on a few dozen images would always win, and the order would go round in
    circles."""
    rows = leaderboard([frozen_trial(0, "complete", 36 / 37, 0.1),
                        frozen_trial(1, "complete", 36 / 37, 0.5, cross_validation(0.90)),
                        frozen_trial(2, "complete", 36 / 37, 0.4, cross_validation(0.95)),
                        frozen_trial(3, "complete", 1.0, 0.3),
                        frozen_trial(4, "complete", 35 / 37, 0.1, cross_validation(0.99))])

    assert [row.id for row in rows] == [3, 2, 1, 0, 4]
    assert rows[1].cross_validation.accuracy == 0.95 and rows[1].val_accuracy == 36 / 37


def test_the_search_keeps_the_candidate_its_leaderboard_ranks_first(tmp_path):
    search = Search(RunState(tiny_config(), tmp_path, EventLog(), None))
    files = search.run.files
    files.trial_path(0).parent.mkdir(parents=True, exist_ok=True)
    for number, val_accuracy, cv_accuracy in [(0, 36 / 37, None), (1, 36 / 37, 0.93), (2, 36 / 37, 0.91),
                                              (3, 35 / 37, 0.99)]:
        files.trial_path(number).write_bytes(b"checkpoint")
        result = CandidateResult("complete", val_accuracy, curve(val_accuracy, 0.3))
        standing = Standing(complete=True, val_accuracy=val_accuracy, val_loss=0.3, cv_accuracy=cv_accuracy)
        search.keep_if_best(number, baseline_genotype(), result, standing, MEASURED)

    assert files.best_record()["trial"] == 1


def cross_validation(accuracy: float) -> dict:
    return {"accuracy": accuracy, "loss": 0.3, "folds": 5, "images": 200}


def frozen_trial(number: int, status: str, accuracy: float, loss: float,
                 cross_validation: dict | None = None) -> optuna.trial.FrozenTrial:
    attrs = {"status": status, "curve": curve(accuracy, loss), "genotype": baseline_genotype(),
             "measurements": MEASURED}
    if cross_validation:
        attrs["cross_validation"] = cross_validation
    frozen = optuna.trial.create_trial(
        state=TrialState.COMPLETE if status == "complete" else TrialState.PRUNED, value=accuracy, user_attrs=attrs)
    frozen.number = number
    return frozen
