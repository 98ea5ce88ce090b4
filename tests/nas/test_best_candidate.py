"""Which candidate a search keeps as its best, and how the leaderboard ranks candidates: fully trained first, then
validation accuracy, then validation log-loss (on a few dozen validation images many tie on accuracy)."""

import optuna
from optuna.trial import TrialState

from apps.nas.leaderboard import leaderboard
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
        search.keep_if_best(number, baseline_genotype(), CandidateResult(status, 36 / 37, curve(36 / 37, loss)),
                            MEASURED)

    assert files.best_record()["trial"] == 1
    assert [event["trial_id"] for event in events.of_type("new_best")] == [0, 1]
    assert files.best_trial_path.read_bytes() == b"checkpoint"


def test_the_leaderboard_breaks_ties_on_validation_log_loss_and_ranks_finished_candidates_first():
    def trial(number: int, status: str, accuracy: float, loss: float) -> optuna.trial.FrozenTrial:
        frozen = optuna.trial.create_trial(
            state=TrialState.COMPLETE if status == "complete" else TrialState.PRUNED, value=accuracy,
            user_attrs={"status": status, "curve": curve(accuracy, loss), "genotype": baseline_genotype(),
                        "measurements": MEASURED})
        frozen.number = number
        return frozen

    rows = leaderboard([trial(0, "complete", 0.9, 0.5), trial(1, "pruned", 1.0, 0.1),
                        trial(2, "complete", 0.9, 0.3), trial(3, "complete", 0.8, 0.2)])

    assert [row.id for row in rows] == [2, 0, 3, 1]
