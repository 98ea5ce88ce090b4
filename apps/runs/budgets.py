"""Budgets: the presets and limits a run's budget may take, and what a budget buys: how many candidates a search
trains, from how fast this deployment's workers trained.

On a budget too short for a search to pay, `auto` trains its proven recipe alone instead (see
apps.nas.budget.recipe_only_epochs); the estimate says that too.

The speed comes from the summaries of recent finished runs, so the estimate follows the hardware; with no
finished run yet, from figures measured on a 2-core CPU. It is counted per image and epoch, not per pixel: the
search space adapts its networks to the image side (a strided stem above 16 px), and on the 2-core CPU 16 px
MNIST trained no faster per image than 28 px (docs/benchmarks.md).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from apps.nas.budget import EXPORT_SECONDS, FINISH_SECONDS, recipe_only_epochs
from apps.nas.shares import TRAIN_FRACTION, VAL_FRACTION

BUDGET_PRESETS = {"quick": 5 * 60, "standard": 30 * 60, "thorough": 2 * 60 * 60}
MIN_BUDGET_SECONDS = 30
MAX_BUDGET_SECONDS = 24 * 60 * 60
# A running search may be extended until it has this many times its original budget.
MAX_EXTENSION_FACTOR = 2


def budget_label(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"


@dataclass(frozen=True)
class WorkerSpeed:
    seconds_per_image_epoch: float  # a candidate's training + validation time per training image and epoch
    epochs_per_candidate: float  # multi-fidelity stops most candidates after a few epochs
    search_share: float  # of the budget spent on candidates; the rest retrains the winner, tests and exports
    runs: int  # finished runs measured, 0 for the defaults
    # The candidates one run trained, as factors of what this pooled speed estimates for it: the fewest and the most
    # seen. A run that draws cheap heads on cached features trains many, one that draws fine-tunes few.
    spread: tuple[float, float] = (1.0, 1.0)


# benchmarks/budget_estimate.py: every strategy for the Quick preset's 5 minutes, seed 0, one PyTorch thread, on the
# 2-core CPU, pooled (docs/benchmarks.md, "What a budget buys"). On MNIST-5k each trained 1 or 2 candidates; the
# strategies differed no more than runs of one strategy do, so one default serves them all, and the runs of a
# deployment then tell strategies apart (apps.runs.selectors.worker_speed). The spread is how far runs of `auto` on
# digits and MNIST-5k strayed from the estimate: 0.17-1.5 times.
CPU_DEFAULT = WorkerSpeed(seconds_per_image_epoch=0.00127, epochs_per_candidate=20.2, search_share=0.57, runs=0,
                          spread=(0.17, 1.5))
# The same on Caltech-10's photos, where they trained 1 to 5 candidates; the spread from 9 runs of `auto` on
# Caltech-10 at 20 and 40 photos a class: 0.35-2.4 times the estimate. Photos train slower per image (pretrained
# networks at up to 224 px).
CPU_PHOTOS_DEFAULT = WorkerSpeed(seconds_per_image_epoch=0.0064, epochs_per_candidate=10.7, search_share=0.69,
                                 runs=0, spread=(0.35, 2.4))


def default_speed(*, colour: bool) -> WorkerSpeed:
    """The speed measured on a small CPU, for colour photos or for small grey images."""
    return CPU_PHOTOS_DEFAULT if colour else CPU_DEFAULT


def speed_measured(summaries: Iterable[dict], default: WorkerSpeed = CPU_DEFAULT) -> WorkerSpeed:
    """Pooled speed of finished runs from their engine summaries; `default` when none trained anything. The spread
    is measured where two runs or more searched, else the default's."""
    summaries = [summary for summary in summaries
                 # nothing trained, or a run from before the engine reported its training time
                 if summary and summary.get("training_seconds") and summary.get("candidates_trained")]
    pooled = pooled_speed(summaries, default)
    searched = [summary for summary in summaries if not summary.get("recipe_only", False)]
    if len(searched) < 2:
        return pooled
    factors = [summary["candidates_trained"] / candidates_expected(
        pooled, train_images=summary["splits"]["train"], budget_seconds=summary["elapsed_seconds"])
        for summary in searched]
    return replace(pooled, spread=(min(factors), max(factors)))


def pooled_speed(summaries: list[dict], default: WorkerSpeed) -> WorkerSpeed:
    seconds = image_epochs = epochs = candidates = search_seconds = search_elapsed = 0.0
    count = 0
    for summary in summaries:
        count += 1
        recipe_only = summary.get("recipe_only", False)  # absent from runs before auto could train it alone
        splits = summary["splits"]
        seconds += summary["training_seconds"]
        image_epochs += summary["epochs_trained"] * (splits["train"] + (splits["val"] if recipe_only else 0))
        if recipe_only:
            continue  # one network for the whole budget: its speed counts, its schedule says nothing of a search's
        epochs += summary["epochs_trained"]
        candidates += summary["candidates_trained"]
        search_seconds += summary["training_seconds"]
        search_elapsed += summary["elapsed_seconds"]
    if not count:
        return default
    return WorkerSpeed(
        seconds_per_image_epoch=seconds / image_epochs,
        epochs_per_candidate=epochs / candidates if candidates else default.epochs_per_candidate,
        search_share=min(1.0, search_seconds / search_elapsed) if search_elapsed else default.search_share,
        runs=count, spread=default.spread,
    )


def candidates_expected(speed: WorkerSpeed, *, train_images: int, budget_seconds: float) -> float:
    candidate_seconds = speed.epochs_per_candidate * train_images * speed.seconds_per_image_epoch
    return budget_seconds * speed.search_share / candidate_seconds


def candidates_estimate(speed: WorkerSpeed, *, images: int, budget_seconds: float) -> tuple[int, int, int]:
    """Candidates a search of `budget_seconds` on a dataset of `images` images trains: the fewest, the most likely
    and the most, by the speed's spread; at least one."""
    expected = candidates_expected(speed, train_images=round(images * TRAIN_FRACTION), budget_seconds=budget_seconds)
    low, high = speed.spread
    return (max(1, math.floor(expected * low)), max(1, round(expected)), max(1, math.ceil(expected * high)))


def recipe_epochs_estimate(speed: WorkerSpeed, *, images: int, budget_seconds: float) -> int:
    """Epochs `auto` trains its recipe alone for when `budget_seconds` is too short for a search; 0 if it searches."""
    epoch_seconds = speed.seconds_per_image_epoch * images * (TRAIN_FRACTION + VAL_FRACTION)
    return recipe_only_epochs(available_seconds=budget_seconds - FINISH_SECONDS - EXPORT_SECONDS,
                              epoch_seconds=epoch_seconds)
