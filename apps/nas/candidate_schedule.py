"""A candidate's schedule fitted to the run's clock while it trains: a start point's epochs to what the time left
buys, and any candidate's shortened to end by the search's deadline. The clock (apps.nas.clock) decides how many
epochs fit; this module changes the candidate's plan accordingly and records it on its trial."""

import optuna

from apps.nas.space import with_epochs
from apps.nas.state import RunState
from apps.nas.train import Trainer


def start_point_epochs(run: RunState, trial: optuna.Trial, *, epochs_done: int, epoch_seconds: float) -> int:
    """The epochs the time left affords a start point's schedule (RunClock.start_point_epochs)."""
    own_epochs = run.strategy.start_point(trial.user_attrs["origin"])["train"]["epochs"]
    return run.clock.start_point_epochs(own_epochs, epochs_done=epochs_done, epoch_seconds=epoch_seconds)


def fit_schedule(trial: optuna.Trial, genotype: dict, epochs: int) -> dict:
    """The genotype with its schedule over `epochs`, recorded on the trial (a resumed search rebuilds it)."""
    if epochs != genotype["train"]["epochs"]:
        genotype = with_epochs(genotype, epochs)
        trial.set_user_attr("genotype", genotype)
    return genotype


class ScheduleFitter:
    """Called after each of a candidate's epochs with that epoch's real seconds (train_candidate's `replan`)."""

    def __init__(self, run: RunState, trial: optuna.Trial, trainer: Trainer, *, start_point: bool):
        self.run, self.trial, self.trainer, self.start_point = run, trial, trainer, start_point

    def __call__(self, epoch_seconds: float) -> None:
        if self.start_point:
            self.replan_start_point(epoch_seconds)
        self.end_before_deadline(epoch_seconds)

    def replan_start_point(self, epoch_seconds: float) -> None:
        """After a start point's first epoch, fit its schedule to the time left from that epoch's real time (the
        recipe's plan came from a probe on a slice; the fine-tuning recipe's from nothing). Later, its learning rate
        has left the warm-up and its schedule stays."""
        trainer = self.trainer
        if trainer.epochs_done != 1:
            return
        epochs = start_point_epochs(self.run, self.trial, epochs_done=1, epoch_seconds=epoch_seconds)
        epochs = max(min(self.run.space.min_epochs, trainer.total_epochs), epochs)
        trainer.total_epochs = fit_schedule(self.trial, trainer.genotype, epochs)["train"]["epochs"]

    def end_before_deadline(self, epoch_seconds: float) -> None:
        """Once a fully trained candidate is best, shorten the schedule of one that would not finish by the search's
        deadline to the epochs that fit, when they are at least the space's min_epochs (fewer: stop_reason stops it).

        Its learning rate then decays to zero on time, and the candidate is compared fully trained: stopped
        instead, a candidate drawn near the deadline is one epoch of warm-up, which tells the search nothing (one
        worker on MNIST-5k at 300 s spent the last 90 s of its search on 24 such stops)."""
        trainer = self.trainer
        epochs = self.run.clock.epochs_before_deadline(epochs_done=trainer.epochs_done,
                                                       planned_epochs=trainer.total_epochs, epoch_seconds=epoch_seconds)
        if self.run.space.min_epochs <= epochs < trainer.total_epochs:
            trainer.total_epochs = fit_schedule(self.trial, trainer.genotype, epochs)["train"]["epochs"]
