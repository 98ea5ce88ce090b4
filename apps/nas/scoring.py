"""Performance estimation: hold-out validation accuracy per epoch, with multi-fidelity early stopping.

Each candidate trains for its own epoch budget (genotype["train"]["epochs"], 5 to 40) and reports validation
accuracy as it goes. With multi-fidelity on, Optuna's SuccessiveHalvingPruner (asynchronous successive halving,
ASHA) stops a candidate at a rung unless it is in the top third of the candidates that reached that rung, so weak
candidates get little training and the budget goes to promising ones.

Rungs sit at equal points of each candidate's own schedule (a ninth and a third of it), not at equal epoch
counts: a candidate's learning rate follows its schedule, so after 3 epochs a 5-epoch candidate is nearly done
and a 40-epoch one is still warming up. Counted in epochs, the rungs pruned random search's eventual winner, a
long-schedule candidate (docs/benchmarks.md).
"""

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import optuna

from apps.nas.checkpoint import save_torch_atomic
from apps.nas.train import EpochStats, Trainer, TrainingInterrupted

# Progress is reported in 27ths of the candidate's schedule, at the first epoch that reaches each 27th. ASHA's
# rungs at min_resource * reduction_factor**k: 3 and 9 (a ninth and a third of the schedule), then the end. A
# factor of 3 keeps the top third at each rung, the setting of the Hyperband and ASHA papers.
SCHEDULE_STEPS = 27
ASHA_REDUCTION_FACTOR = 3
ASHA_MIN_STEP = 3


def create_pruner(multi_fidelity: bool) -> optuna.pruners.BasePruner:
    """ASHA when multi-fidelity is on, otherwise a pruner that never stops a candidate early."""
    if not multi_fidelity:
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=ASHA_MIN_STEP, reduction_factor=ASHA_REDUCTION_FACTOR
    )


def schedule_step(epochs_done: int, total_epochs: int) -> int:
    """How far into its schedule a candidate is, in SCHEDULE_STEPS-ths (rounded down): the pruner's resource."""
    return SCHEDULE_STEPS * epochs_done // total_epochs


def report_epoch(trial: optuna.Trial, val_accuracy: float, epochs_done: int, total_epochs: int) -> None:
    """Report the epoch's accuracy when it reaches a new step of the schedule (a long schedule's epochs share
    steps; the first epoch to reach one speaks for it)."""
    step = schedule_step(epochs_done, total_epochs)
    if step > schedule_step(epochs_done - 1, total_epochs):
        trial.report(val_accuracy, step=step)


@dataclass
class CandidateResult:
    """How a candidate's training ended."""

    status: str  # "complete", "pruned" (early stopping) or "interrupted" (budget over, cancelled)
    val_accuracy: float | None  # after the last finished epoch
    curve: list[dict] = field(default_factory=list)  # EpochStats of every finished epoch, as dicts
    seconds: float = 0.0  # training wall time, all attempts together
    reason: str = ""


def train_candidate(
    trial: optuna.Trial,
    trainer: Trainer,
    *,
    checkpoint_path: Path,
    curve: list[dict],
    pruning: bool,
    stop_reason: Callable[[float], str | None],
    replan: Callable[[float], None] | None = None,
    on_epoch: Callable[[int, EpochStats], None],
) -> CandidateResult:
    """Train a candidate epoch by epoch, checkpointing and reporting validation accuracy after each.

    Args:
        trial: the Optuna trial the candidate belongs to (its study's pruner decides early stopping).
        trainer: a fresh Trainer, or one restored from the trial's checkpoint (then curve holds its epochs).
        checkpoint_path: where the Trainer state and curve go after every epoch.
        curve: the epochs finished before a resume ([] for a fresh candidate).
        pruning: whether to ask the pruner after each epoch.
        stop_reason: given the projected seconds still needed, a reason to stop now (e.g. out of time) or None.
        replan: given the last epoch's seconds, may change trainer.total_epochs (a start point fits its schedule
            to the time left); None: the schedule stays.
        on_epoch: called with the schedule's epochs and every finished epoch's stats.
    """
    started = time.monotonic()
    seconds_before = sum(stats["seconds"] for stats in curve)
    # A kill between saving the checkpoint and reporting can leave epochs unreported: report them again
    # (Optuna ignores, with a warning, steps it already has).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epochs_done, stats in enumerate(curve, start=1):
            report_epoch(trial, stats["val_accuracy"], epochs_done, trainer.total_epochs)

    def result(status: str, reason: str = "") -> CandidateResult:
        last = curve[-1]["val_accuracy"] if curve else None
        seconds = seconds_before + time.monotonic() - started
        return CandidateResult(status, last, curve, seconds, reason)

    while trainer.epochs_done < trainer.total_epochs:
        try:
            stats = trainer.run_epoch()
        except TrainingInterrupted as interrupted:
            return result("interrupted", stop_reason(0.0) or str(interrupted))
        curve.append(asdict(stats))
        if replan is not None:
            replan(stats.seconds)
        save_torch_atomic({"trial": trial.number, "trainer": trainer.state_dict(), "curve": curve}, checkpoint_path)
        report_epoch(trial, stats.val_accuracy, trainer.epochs_done, trainer.total_epochs)
        on_epoch(trainer.total_epochs, stats)
        if pruning and trainer.epochs_done < trainer.total_epochs and trial.should_prune():
            return result("pruned", f"after {trainer.epochs_done} epoch{'s' if trainer.epochs_done > 1 else ''} it was "
                                    "behind most candidates at the same point of their training")
        epochs_left = trainer.total_epochs - trainer.epochs_done
        reason = stop_reason(epochs_left * stats.seconds) if epochs_left else None
        if reason:
            return result("interrupted", reason)
    return result("complete")
