"""Multi-fidelity early stopping compares candidates at equal points of their own training schedules."""

import optuna

from apps.nas.scoring import create_pruner, train_candidate
from apps.nas.train import EpochStats


class PlannedTrainer:
    """Stands in for a Trainer: its validation accuracy follows a curve over the fraction of its schedule done."""

    def __init__(self, total_epochs: int, accuracy_at):
        self.total_epochs = total_epochs
        self.epochs_done = 0
        self.accuracy_at = accuracy_at

    def run_epoch(self) -> EpochStats:
        self.epochs_done += 1
        accuracy = self.accuracy_at(self.epochs_done / self.total_epochs)
        return EpochStats(epoch=self.epochs_done, train_loss=1.0, train_accuracy=accuracy, val_loss=1.0,
                          val_accuracy=accuracy, seconds=0.01, images_per_second=1.0, lr=0.01)

    def state_dict(self) -> dict:
        return {"epochs_done": self.epochs_done}


def train(study, trainer, tmp_path):
    trial = study.ask()
    return train_candidate(trial, trainer, checkpoint_path=tmp_path / f"{trial.number}.pt", curve=[],
                           pruning=True, stop_reason=lambda seconds: None, on_epoch=lambda total_epochs, stats: None)


def test_a_long_schedule_ahead_at_equal_points_is_not_stopped_by_a_short_schedules_early_lead(tmp_path):
    """After its first epoch a 5-epoch candidate is a fifth through its schedule, a 40-epoch one a fortieth: judged
    by epoch count, the long one always looks worse at the first rungs, however good it is."""
    study = optuna.create_study(direction="maximize", pruner=create_pruner(multi_fidelity=True))
    for _ in range(3):
        short = train(study, PlannedTrainer(5, lambda done: 0.5 + 0.3 * done), tmp_path)
        assert short.status == "complete"

    long = train(study, PlannedTrainer(40, lambda done: 0.6 + 0.3 * done), tmp_path)

    assert long.status == "complete" and long.val_accuracy > short.val_accuracy
    assert len(long.curve) == 40


def test_a_long_schedule_behind_at_equal_points_is_stopped_within_its_first_third(tmp_path):
    study = optuna.create_study(direction="maximize", pruner=create_pruner(multi_fidelity=True))
    for _ in range(3):
        train(study, PlannedTrainer(5, lambda done: 0.6 + 0.3 * done), tmp_path)

    long = train(study, PlannedTrainer(40, lambda done: 0.5 + 0.3 * done), tmp_path)

    assert long.status == "pruned"
    assert len(long.curve) == 5  # the first epoch past a ninth of its schedule
