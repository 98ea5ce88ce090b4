"""The run's time policy: when its search ends, what its end keeps, which candidates the time left can still train
and for how many epochs. The arithmetic is apps.nas.budget's; RunClock applies it to one run's state (its budget,
its best candidate so far, its data), and the candidate loop and the run's end ask it rather than decide."""

import statistics
from dataclasses import dataclass
from typing import Protocol

from apps.nas import data_parallel
from apps.nas.budget import (
    EXPORT_SECONDS,
    FINISH_SECONDS,
    PRETRAINED_EXPORT_SECONDS,
    Budget,
    epochs_that_fit,
    recipe_only_epochs,
    search_deadline,
)
from apps.nas.build import is_pretrained
from apps.nas.config import SearchConfig
from apps.nas.data import DatasetSplits
from apps.nas.export import PARITY_IMAGES

# A training step (forward, backward, update) costs about this many forward passes of one image, as the batch-1
# CPU latency measures them; batching makes it cheaper, so the estimate errs towards "slow".
TRAINING_STEP_FORWARDS = 3
# A candidate is trained only when the search time left buys at least this many of its epochs: the first rung of
# successive halving, and a second epoch to learn anything from it.
MIN_AFFORDABLE_EPOCHS = 2
# ... judged only for candidates whose estimated epoch is at least this share of the whole search.
SLOW_EPOCH_SHARE = 0.05
# Near the deadline (less time left than MIN_AFFORDABLE_EPOCHS epochs of the smallest candidate judged above, so
# every judged one is skipped), once a complete candidate is best, the search ends after this many in a row too
# slow for the time left: the final training gets the rest. A strategy that proposes such networks there proposes
# them to the deadline (oneshot on MNIST-5k at 180 s: about 100 in its last 10-15 s, each measured and listed).
SLOW_IN_A_ROW_NEAR_THE_END = 3
# The frozen-feature probe runs only when its pass over train+validation would take at most this share of the time
# left for training.
PROBE_FEATURES_SHARE = 0.5
# A start point (the recipe, the fine-tuning recipe) trains for at most the epochs this share of the search time
# left buys, planned before it starts and again from its first real epoch, so that it finishes and leaves time for
# the start point after it and for the search.
START_POINT_SEARCH_SHARE = 0.5


@dataclass
class BestCandidate:
    """The best candidate so far (whose trained state the search keeps in SearchFiles.best_trial_path): what the
    clock plans the search's deadline and the run's end from."""

    trial: int
    complete: bool  # trained to the end of its schedule (ranks above any stopped early)
    val_accuracy: float | None
    epochs: int
    epoch_seconds: float  # mean over its epochs, validation included
    pretrained: bool  # built on a pretrained backbone (slower to export)
    scoring_seconds_per_image: float  # what scoring the test split costs per image (see from_curve)
    step_seconds: float  # one training step (a batch), what processes sharing its final training divide

    @classmethod
    def from_curve(cls, trial: int, complete: bool, curve: list[dict], genotype: dict,
                   measured: dict) -> "BestCandidate":
        """Args: the candidate's trial number, whether it finished its schedule, its learning curve (EpochStats as
        dicts), genotype, and deployment costs (apps.nas.measure.deployment_costs)."""
        images_per_second = statistics.mean(stats["images_per_second"] for stats in curve)
        return cls(trial=trial, complete=complete, val_accuracy=curve[-1]["val_accuracy"], epochs=len(curve),
                   epoch_seconds=sum(stats["seconds"] for stats in curve) / len(curve),
                   pretrained=is_pretrained(genotype), scoring_seconds_per_image=scoring_seconds_per_image(
                       curve, measured["latency_ms"]),
                   step_seconds=genotype["train"]["batch_size"] / images_per_second)


def scoring_seconds_per_image(curve: list[dict], latency_ms: float) -> float:
    """Seconds to score one test image: from the pace of the validation passes where they ran the whole network,
    else the batch-1 CPU latency, several times what a batched pass costs (MNIST-5k's recipe: 8.5 s kept for an
    end that took 2.2 s)."""
    paces = [stats.get("eval_images_per_second") for stats in curve]
    if paces and all(paces):
        return 1 / statistics.median(paces)
    return latency_ms / 1000


@dataclass(frozen=True)
class ExportCost:
    """What ending the run with a candidate costs: its export (slower for a pretrained one) and scoring the test
    split."""

    pretrained: bool
    scoring_seconds_per_image: float


class ClockedRun(Protocol):
    """What the clock reads of a run's state (apps.nas.state.RunState, which holds it as `clock`)."""

    config: SearchConfig
    budget: Budget
    splits: DatasetSplits
    best: BestCandidate | None
    first_in_training: ExportCost | None

    def refresh_best(self) -> None: ...

    def final_data_growth(self) -> float: ...

    def final_training_processes(self) -> int: ...


class RunClock:
    """One run's time policy, read from its state."""

    def __init__(self, run: ClockedRun):
        self.run = run
        self.slow_in_a_row = 0  # candidates skipped as too slow for the time left since the last one that trained

    # -- the end of the run -------------------------------------------------------------------------------------

    @property
    def finish_seconds(self) -> float:
        """Seconds kept for the end of the run: the test score, and the export of the best candidate so far (which
        checks the exported file on a sample of the test split)."""
        run = self.run
        # A pretrained first candidate stopped by the search deadline is what the run ships: keeping only a small
        # network's end for it overran EuroSAT's 120 s budget by 20% (rl's fine-tuning start point).
        shipped = run.best or run.first_in_training
        if shipped is None:
            return FINISH_SECONDS + (EXPORT_SECONDS if run.config.export else 0.0)
        # The test pass, and with export the parity check's two passes (PyTorch and onnxruntime) over a sample.
        test_images = len(run.splits.test)
        images = test_images + (2 * min(PARITY_IMAGES, test_images) if run.config.export else 0)
        scoring = shipped.scoring_seconds_per_image * images
        if not run.config.export:
            return FINISH_SECONDS + scoring
        export = PRETRAINED_EXPORT_SECONDS if shipped.pretrained else EXPORT_SECONDS
        return FINISH_SECONDS + export + scoring

    def final_epoch_seconds(self, processes: int | None = None) -> float:
        """Estimated seconds of one final-retrain epoch on train+validation (0: no fully trained best yet), trained
        by `processes` (None: by as many as RunState.final_training_processes says)."""
        run = self.run
        if not run.config.final_retrain or run.best is None or not run.best.complete:
            return 0.0
        shared_by = processes or run.final_training_processes()
        speedup = data_parallel.speedup(shared_by, run.best.step_seconds) if shared_by > 1 else 1.0
        return run.best.epoch_seconds * run.final_data_growth() / speedup

    def training_seconds_left(self) -> float:
        """Seconds a final training may still use: the rest of the budget less the end of the run."""
        return self.run.budget.remaining() - self.finish_seconds

    def out_of_final_time(self) -> bool:
        """The retrain must leave the end of the run its time: past this, the best candidate is exported as trained."""
        return self.run.budget.cancelled() or self.training_seconds_left() <= 0

    def recipe_only_epochs(self, recipe_epoch_seconds: float) -> int:
        """Epochs of the recipe on train+validation that the time left for training buys, when that is too little
        for a search to pay (see budget.recipe_only_epochs); else 0.

        Args:
            recipe_epoch_seconds: one epoch of the recipe on the training split.
        """
        return recipe_only_epochs(available_seconds=self.training_seconds_left(),
                                  epoch_seconds=recipe_epoch_seconds * self.run.final_data_growth())

    # -- the search ---------------------------------------------------------------------------------------------

    def search_deadline(self) -> float:
        """Elapsed seconds at which the search stops, leaving time for the final training and the end."""
        run = self.run
        run.refresh_best()
        return search_deadline(total_seconds=run.budget.total(), elapsed_seconds=run.budget.elapsed(),
                               finish_seconds=self.finish_seconds, final_epoch_seconds=self.final_epoch_seconds(),
                               best_epochs=run.best.epochs if run.best else 0)

    def search_seconds_left(self) -> float:
        return self.search_deadline() - self.run.budget.elapsed()

    def out_of_search_time(self) -> bool:
        return self.run.budget.cancelled() or self.run.budget.elapsed() >= self.search_deadline()

    def only_slow_proposals_left(self) -> bool:
        """Whether the search ends early: see SLOW_IN_A_ROW_NEAR_THE_END."""
        near_the_end = self.search_seconds_left() < MIN_AFFORDABLE_EPOCHS * SLOW_EPOCH_SHARE * self.search_deadline()
        best = self.run.best
        return (self.slow_in_a_row >= SLOW_IN_A_ROW_NEAR_THE_END and near_the_end and best is not None
                and best.complete)

    def probe_affordable(self, features_seconds: float) -> bool:
        """Whether the frozen-feature probe, whose pass over train+validation takes `features_seconds`, fits in
        PROBE_FEATURES_SHARE of the time left for training."""
        return features_seconds <= PROBE_FEATURES_SHARE * self.training_seconds_left()

    def too_slow(self, latency_ms: float, flips: bool) -> str | None:
        """Why a candidate of this batch-1 CPU latency cannot train MIN_AFFORDABLE_EPOCHS epochs in the search time
        left, or None. Only candidates whose estimated epoch is a sizeable share of the search are judged: a small
        one near the deadline starts and is stopped by it."""
        forward_seconds = latency_ms / 1000 / (2 if flips else 1)
        epoch_seconds = TRAINING_STEP_FORWARDS * forward_seconds * len(self.run.splits.train)
        seconds_left = self.search_seconds_left()
        if epoch_seconds < SLOW_EPOCH_SHARE * self.search_deadline() or (
                epoch_seconds * MIN_AFFORDABLE_EPOCHS <= seconds_left):
            return None
        return (f"too slow for the time left: an epoch would take about {epoch_seconds:.0f} s, and "
                f"{max(0.0, seconds_left):.0f} s of search are left")

    def cached_too_slow(self, *, features_seconds: float, epoch_seconds: float, min_epochs: int) -> str | None:
        """Why a candidate that fine-tunes its last stages on their cached input cannot compute that input in
        `features_seconds` and then train `min_epochs` of `epoch_seconds` by the search's deadline, or None. The
        same bound stop_reason holds it to after its first epoch, known before its pass is paid for."""
        seconds_left = self.search_seconds_left()
        training_seconds = min_epochs * epoch_seconds
        if features_seconds + training_seconds <= seconds_left:
            return None
        return (f"too slow for the time left: caching its frozen stages' output would take about "
                f"{features_seconds:.0f} s and {min_epochs} epochs on it about {training_seconds:.0f} s, and "
                f"{max(0.0, seconds_left):.0f} s of search are left")

    def start_point_epochs(self, own_epochs: int, *, epochs_done: int, epoch_seconds: float) -> int:
        """The epochs a start point's schedule spans when START_POINT_SEARCH_SHARE of the search time left buys the
        rest of it, at most its own schedule's `own_epochs`.

        A start point that cannot finish is stopped, and one cut short after an epoch loses what it would have
        shown: on digits the recipe stopped after 1 of its 30 epochs left the frozen-feature probe's 95% to ship
        (MNIST-5k, busy CPU), and on EuroSAT the fine-tuning recipe stopped after 1 of its 10 at 89%."""
        affordable = int(START_POINT_SEARCH_SHARE * self.search_seconds_left() / epoch_seconds)
        return min(own_epochs, epochs_done + affordable)

    def epochs_before_deadline(self, *, epochs_done: int, planned_epochs: int, epoch_seconds: float) -> int:
        """A candidate's planned epochs, or fewer when, with a fully trained candidate best, the rest would not
        finish by the search's deadline (see ScheduleFitter.end_before_deadline)."""
        if not (self.run.best and self.run.best.complete):
            return planned_epochs
        return epochs_that_fit(epochs_done=epochs_done, planned_epochs=planned_epochs,
                               seconds_left=self.search_seconds_left(), epoch_seconds=epoch_seconds)

    def stop_reason(self, seconds_needed: float) -> str | None:
        """Why a running candidate must stop now (cancelled, out of time, cannot finish in time), or None."""
        run = self.run
        if run.budget.cancelled():
            return "the search was stopped"
        if run.budget.elapsed() >= self.search_deadline():
            return "the search's time ran out"
        # Once there is a fully trained candidate, do not spend the rest of the budget on one that cannot finish.
        if run.best and run.best.complete and run.budget.elapsed() + seconds_needed > self.search_deadline():
            return "it would not have finished in the time left"
        return None
