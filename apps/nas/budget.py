"""The wall-clock budget of a search: elapsed time, ETA, deadlines, and the up-front "too small" check."""

import math
import time
from collections.abc import Callable
from typing import Protocol

# Seconds set aside for the TorchScript and ONNX export, the deployment measurements and the bundle (the parity
# check's passes over test images are counted apart, at the model's latency). Measured on the 2-core CPU this
# project targets at 0.2-0.3 s for networks from scratch (28-64 px), 1.6-3.1 s for fine-tuned EfficientNet-Lites
# at 96-260 px; at least doubled for a busy machine.
EXPORT_SECONDS = 2.0
PRETRAINED_EXPORT_SECONDS = 8.0
# Seconds set aside, export or not, for the rest of the end of a run: the first candidate's latency measurement,
# scoring the test split, fitting the baseline and writing the result. Measured at 0.3-1.0 s on MNIST-5k on the
# 2-core CPU; a 1 s budget with no reserve overran by 9% on a busy machine.
FINISH_SECONDS = 2.0
# Poll the web layer at most this often (seconds): each poll may be a database read.
CONTROL_POLL_SECONDS = 1.0
# The final retrain is planned for when its plain estimate (the best candidate's epochs on train+validation) is
# at most this share of the budget; a longer one is skipped and the best candidate is exported as trained.
MAX_RETRAIN_SHARE = 0.5
# A planned final retrain gets FINAL_TRAINING_SHARE of the budget (never more than it can use) and stretches the
# best candidate's schedule to fill it, up to MAX_FINAL_STRETCH times its searched epochs: training a found
# architecture longer is the cheapest accuracy there is (DARTS-style search-then-train). Measured on MNIST-5k at
# 300 s, auto with the recipe as its best: 30 final epochs 98.93% test, 52 epochs 99.07%, the recipe alone for
# 91 epochs 99.33%; so on small budgets most of the time goes to the final training.
FINAL_TRAINING_SHARE = 0.6
MAX_FINAL_STRETCH = 3
# auto trains its recipe alone, on train+validation, for the whole budget when that buys at most this many epochs
# of it: the recipe keeps gaining from longer training up to about there, and a search needs room for the final
# retrain (up to MAX_FINAL_STRETCH x 30 epochs), the recipe's own 30 and dozens of early-stopped candidates before
# it can beat it. Measured on MNIST-5k, train+validation, test accuracy: 99.07% after 30 epochs, 99.13% after 60,
# 99.27% after 120, 99.0% after 240 (two seeds); at 300 s (about 150 epochs, three seeds) the recipe scored 99.51%
# where searching first and retraining the winner had scored 98.93%.
RECIPE_ONLY_MAX_EPOCHS = 200
# When retraining from scratch no longer fits (a fine-tuned start point that took half the budget), the best
# candidate's own training continues on train+validation, its learning rates scaled by CONTINUED_LR_SHARE: the search
# keeps time for CONTINUED_SHARE of its schedule, and at the end it takes what is left, up to its whole schedule
# again. Measured with a fine-tuned Lite0 trained 7 epochs on the training split, test accuracy after 3 more epochs
# (one seed each): EuroSAT 93.67% before, 94.17% on train+validation at 0.3x its rates, 93.67% on train alone,
# 94.00% on either at 0.1x; Caltech-10 99.53% before, 99.53% on train+validation at 0.1x or 0.3x, 99.07% on train
# alone at either.
CONTINUED_SHARE = 0.5
CONTINUED_LR_SHARE = 0.3
# The search stops this much earlier than the retrain estimate strictly needs, so the final decision ("does the
# retrain fit?") still says yes after the last candidate overran a little or the machine got busier.
RETRAIN_MARGIN = 1.1
# ... plus this long (at most this share of the budget) to set the final training up: build the network (a
# pretrained one loads its weights) and gather its data. A head on cached features retrains in under a second, so
# without it the last candidate's overrun alone left the retrain no time at all.
FINAL_SETUP_SECONDS = 5.0
FINAL_SETUP_SHARE = 0.05


class BudgetTooSmall(ValueError):
    """The budget cannot train and export even one candidate; the message says the minimum that would."""

    def __init__(self, budget_seconds: float, minimum_seconds: int):
        self.budget_seconds = budget_seconds
        self.minimum_seconds = minimum_seconds
        super().__init__(
            f"A budget of {budget_seconds:g} s is too short for this dataset on this machine: loading it, "
            f"training one candidate for one epoch and exporting the model needs about {minimum_seconds} s. "
            f"Give the search at least {minimum_seconds} s (several minutes gives much better models)."
        )


class LeaseLost(BaseException):
    """This process no longer owns the run: another took it over (or its owner stopped waiting for this one). It must
    stop at once and write nothing more, neither events nor files. A BaseException, as KeyboardInterrupt is, so that
    no `except Exception` that records a failed candidate or a failed run catches it on the way out."""


class SearchControl(Protocol):
    """What the caller (e.g. the web layer) can change while a search runs; polled every second at most, and before
    each write to the run's folder. Either method raises LeaseLost once this process no longer owns the run."""

    def cancelled(self) -> bool: ...

    def budget_seconds(self) -> float: ...


class Budget:
    """Wall clock of one search in seconds, counting time spent before a resume, extendable while running."""

    def __init__(
        self,
        seconds: float,
        *,
        used_before: float = 0.0,
        control: SearchControl | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._seconds = float(seconds)
        self._used_before = used_before
        self._control = control
        self._clock = clock
        self._started = clock()
        self._last_poll = -math.inf
        self._cancelled = False

    def _poll(self) -> None:
        now = self._clock()
        if self._control is None or now - self._last_poll < CONTROL_POLL_SECONDS:
            return
        self._last_poll = now
        self._cancelled = self._cancelled or bool(self._control.cancelled())
        self._seconds = max(self._seconds, float(self._control.budget_seconds()))

    def confirm_ownership(self) -> None:
        """Ask the control now, however recently it was asked: raises LeaseLost when this process lost the run."""
        self._last_poll = -math.inf
        self._poll()

    def elapsed(self) -> float:
        return self._used_before + self._clock() - self._started

    def total(self) -> float:
        self._poll()
        return self._seconds

    def remaining(self) -> float:
        return max(0.0, self.total() - self.elapsed())

    def cancelled(self) -> bool:
        self._poll()
        return self._cancelled

    def progress(self) -> float:
        return min(1.0, self.elapsed() / self.total())


def minimum_budget_seconds(*, seconds_so_far: float, epoch_seconds: float, finish_seconds: float) -> int:
    """Smallest budget that trains one candidate for one epoch and finishes the run, with a 25% safety margin.

    Args:
        seconds_so_far: time already spent (loading the data, the probe).
        epoch_seconds: measured time of one training + validation epoch of the first candidate.
        finish_seconds: time set aside for the end of the run (FINISH_SECONDS, plus EXPORT_SECONDS with export).
    """
    return math.ceil(1.25 * (seconds_so_far + epoch_seconds + finish_seconds))


def epochs_with_margin(seconds: float, epoch_seconds: float) -> int:
    """Whole epochs of a planned training that fit in `seconds`, keeping the RETRAIN_MARGIN."""
    return int(seconds / (RETRAIN_MARGIN * epoch_seconds))


def recipe_only_epochs(*, available_seconds: float, epoch_seconds: float) -> int:
    """Epochs of the recipe that the time available buys, when that is too little for a search to pay; else 0.

    Args:
        available_seconds: the budget left for training.
        epoch_seconds: one epoch of the recipe on the data it would train on (train+validation).
    """
    epochs = epochs_with_margin(available_seconds, epoch_seconds)
    return epochs if 1 <= epochs <= RECIPE_ONLY_MAX_EPOCHS else 0


def check_budget(budget: Budget, *, epoch_seconds: float, finish_seconds: float) -> None:
    """Raise BudgetTooSmall, before any candidate is trained, when the budget cannot give even one result."""
    minimum = minimum_budget_seconds(
        seconds_so_far=budget.elapsed(), epoch_seconds=epoch_seconds, finish_seconds=finish_seconds
    )
    if budget.total() < minimum:
        raise BudgetTooSmall(budget.total(), minimum)


def search_deadline(*, total_seconds: float, elapsed_seconds: float, finish_seconds: float,
                    final_epoch_seconds: float, best_epochs: int) -> float:
    """Elapsed seconds at which the search stops, leaving time for the final training and the end of the run.

    The final training is the best candidate retrained from scratch when that is planned and still fits, else its
    own training continued (see continued_steps).

    Args:
        total_seconds: the whole budget.
        elapsed_seconds: the time used so far.
        finish_seconds: time set aside for the end of the run (export included when on).
        final_epoch_seconds: one epoch of the best candidate on train+validation; 0 when no final training is
            planned.
        best_epochs: epochs the best candidate trained for in the search.
    """
    retrain = RETRAIN_MARGIN * final_epoch_seconds * best_epochs
    setup = min(FINAL_SETUP_SECONDS, FINAL_SETUP_SHARE * total_seconds) if final_epoch_seconds else 0.0
    still_fits = elapsed_seconds + retrain + setup + finish_seconds <= total_seconds
    if 0 < retrain <= MAX_RETRAIN_SHARE * total_seconds and still_fits:
        # At least the plain retrain, ideally FINAL_TRAINING_SHARE, never more than the stretched schedule can use.
        reserve = max(retrain, min(FINAL_TRAINING_SHARE * total_seconds, MAX_FINAL_STRETCH * retrain))
        return total_seconds - finish_seconds - reserve - setup
    continued = RETRAIN_MARGIN * final_epoch_seconds * math.ceil(CONTINUED_SHARE * best_epochs)
    return total_seconds - finish_seconds - continued - setup


def final_epochs(*, searched_epochs: int, epoch_seconds: float, seconds_left: float, most_epochs: int) -> int:
    """Epochs of the final retrain: the searched schedule stretched to fill the time left; 0 if it does not fit.

    Args:
        searched_epochs: the best candidate's schedule in the search.
        epoch_seconds: one epoch of it on train+validation (0: no retrain planned).
        seconds_left: the time the final training may use.
        most_epochs: the longest stretch (see apps.nas.final.most_final_epochs).
    """
    if epoch_seconds == 0 or seconds_left < searched_epochs * epoch_seconds:
        return 0
    # The search stopped RETRAIN_MARGIN early for the searched schedule; the stretch keeps that margin too.
    stretched = epochs_with_margin(seconds_left, epoch_seconds)
    return max(searched_epochs, min(stretched, most_epochs))


def continued_steps(*, searched_epochs: int, epoch_seconds: float, seconds_left: float, steps_per_epoch: int) -> int:
    """Batches for which the best candidate's training continues on train+validation when a retrain from scratch
    does not fit: what the time left buys, keeping the RETRAIN_MARGIN, at most its searched schedule again, the last
    epoch partial; 0 if not one batch. Whole epochs alone left up to one unused: a full fine-tune's 22 s epochs on
    Caltech-10 at 40 a class ended a 300 s run at 273 s, its last 18 s of training time unspent.

    Args: as final_epochs'; steps_per_epoch: the training's batches per epoch on train+validation.
    """
    if epoch_seconds == 0 or seconds_left <= 0:
        return 0
    affordable = int(seconds_left / (RETRAIN_MARGIN * epoch_seconds) * steps_per_epoch)
    return min(searched_epochs * steps_per_epoch, affordable)


def epochs_that_fit(*, epochs_done: int, planned_epochs: int, seconds_left: float, epoch_seconds: float) -> int:
    """A training's planned epochs, or fewer when the rest would overrun the time left (the plan was too hopeful,
    or the machine got busier): the learning-rate schedule then still ends at zero, on time.

    Args:
        epochs_done: epochs trained so far.
        planned_epochs: the epochs its schedule spans now.
        seconds_left: the time it may still use.
        epoch_seconds: a recent epoch's wall time, checkpoint and event included.
    """
    fit = epochs_done + int(seconds_left / epoch_seconds)
    return max(epochs_done, min(planned_epochs, fit))


def steps_that_fit(*, epochs_done: int, planned_epochs: int, seconds_left: float, epoch_seconds: float,
                   steps_per_epoch: int) -> int:
    """A final training's schedule in batches: epochs_that_fit's whole epochs and, where the time left buys fewer
    than planned, the share of one more epoch that its remainder buys, less RETRAIN_MARGIN (overrunning the
    partial epoch stops the training before its learning rate is down). Whole epochs alone left up to one
    epoch unused: a fine-tuned network's 20 s epochs ended digits' 300 s runs at 267-281 s.

    Args: as epochs_that_fit's; steps_per_epoch: the training's batches per epoch.
    """
    epochs = epochs_that_fit(epochs_done=epochs_done, planned_epochs=planned_epochs, seconds_left=seconds_left,
                             epoch_seconds=epoch_seconds)
    if epochs >= planned_epochs:
        return epochs * steps_per_epoch
    spare = seconds_left - (epochs - epochs_done) * epoch_seconds
    share = max(0.0, spare / (RETRAIN_MARGIN * epoch_seconds))
    return epochs * steps_per_epoch + int(share * steps_per_epoch)
