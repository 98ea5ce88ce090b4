"""auto's start points, decided before and between the search's candidates: the recipe's epoch timed for the
minimum-budget check, whether the frozen-feature probe's pass over the images is affordable, the recipe trained
alone on a budget too small for a search to pay, and the recipe's clear win over the probe that ends the search."""

import random
import time

from optuna.trial import TrialState

from apps.nas.budget import recipe_only_epochs
from apps.nas.build import build
from apps.nas.features import CPU_BATCH_SIZE
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.state import RunState
from apps.nas.strategies.base import fits_space
from apps.nas.train import Trainer

# The probe that times one epoch for the minimum-budget check trains on this many images at most.
PROBE_IMAGES = 256
# The frozen-feature probe's pass over train+validation is timed on this many batches of images (after one that pays
# the one-off setup), for RunClock.probe_affordable.
PROBE_FEATURE_BATCHES = 4
# auto's recipe that beats the frozen-feature probe by this much on validation has shown that the pretrained
# features do not suit the data (MNIST-5k: 98.8-99.6% against 93.5-93.9%). On a budget that buys at most
# RECIPE_ONLY_MAX_EPOCHS of it, the search then ends and the recipe's final training takes the rest, as the recipe
# alone would have. At 300 s on MNIST-5k (three seeds), searching on after it and retraining it for 69-80 epochs
# scored 99.24%, ending the search and training it for 91-103 epochs 99.47%, the fixed recipe 99.38%.
RECIPE_CLEAR_WIN = 0.03


def probe_epoch_seconds(run: RunState) -> float:
    """Seconds one epoch of a typical candidate takes on the whole training split, timed on a slice of it."""
    train, val = run.splits.train, run.splits.val
    recipe = baseline_genotype()
    # The recipe auto starts from; in a space that excludes it, a candidate drawn from the space instead.
    space = run.space
    genotype = recipe if fits_space(space, recipe) else space.sample(random.Random(run.config.seed))
    probe = with_epochs(genotype, 2)
    n_train, n_val = min(len(train), PROBE_IMAGES), min(len(val), PROBE_IMAGES)
    trainer = Trainer(probe, train.subset(list(range(n_train))), val.subset(list(range(n_val))),
                      device=run.device, seed=run.config.seed)
    # The first pass pays one-off setup (oneDNN picks its kernels); timing it overestimated MNIST's epoch 3x.
    trainer.run_epoch()
    started = time.monotonic()
    trainer.run_epoch()
    return (time.monotonic() - started) * len(train) / n_train


def probe_affordable(run: RunState) -> bool:
    """Whether the time left affords the frozen-feature probe's pass over train+validation (20,000 photos at
    224 px need 15 minutes on one CPU thread; see RunClock.probe_affordable). Timed on a few batches, whose
    features the probe then reuses; a GPU can always afford it.

    The fastest batch prices the pass, as timeit takes the fastest of its repeats: a batch slowed by another
    process's burst says little of the pass, which stops itself when it cannot finish in the search time left
    (FeatureCache.features). Priced by the mean of 24 images on a busy machine, EuroSAT's 4,000 tiles, whose pass
    takes about 20 s of a 300 s budget, were once judged unaffordable, and the recipe from scratch trained alone scored
    69.67% where the probe scores 91-92%."""
    if run.device != "cpu":
        return True
    data = run.splits.train_and_val
    model = build(run.strategy.probe, data.input_shape, data.num_classes)
    batches = [data.images[start:start + CPU_BATCH_SIZE]
               for start in range(CPU_BATCH_SIZE, (PROBE_FEATURE_BATCHES + 1) * CPU_BATCH_SIZE, CPU_BATCH_SIZE)]
    batches = [batch for batch in batches if len(batch)]
    if not batches:
        return True
    run.features.features(model, data.images[:CPU_BATCH_SIZE])  # the first batch pays one-off setup
    seconds_per_image = []
    for batch in batches:
        started = time.monotonic()
        run.features.features(model, batch)
        seconds_per_image.append((time.monotonic() - started) / len(batch))
    return run.clock.probe_affordable(min(seconds_per_image) * len(data))


def recipe_only_plan(run: RunState, epoch_seconds: float) -> int:
    """Epochs of the recipe on train+validation that the whole budget buys, when that budget is too small for
    a search to pay (see budget.recipe_only_epochs); 0 when the search runs.

    Args:
        epoch_seconds: the probe's time for one epoch of the recipe on the training split.
    """
    recipe = run.strategy.baseline
    # The frozen-feature probe, where it is affordable, runs first on any budget, and a search then compares it
    # with the recipe on validation.
    if not (run.strategy.recipe_on_small_budgets and run.config.final_retrain and recipe is not None
            and fits_space(run.space, recipe) and run.strategy.probe is None):
        return 0
    return run.clock.recipe_only_epochs(epoch_seconds)


def recipe_takes_the_rest(run: RunState) -> bool:
    """Whether auto's recipe, fully trained, beat the frozen-feature probe by RECIPE_CLEAR_WIN on validation,
    on a budget whose rest buys at most RECIPE_ONLY_MAX_EPOCHS of it on train+validation. Asked between
    candidates only: it reads the study, which may be a database."""
    if run.best is None or not run.best.complete:
        return False
    trials = run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = next((trial for trial in trials if trial.number == run.best.trial), None)
    probe = next((trial for trial in trials if trial.user_attrs.get("origin") == "probe"), None)
    if best is None or best.user_attrs.get("origin") != "recipe" or probe is None:
        return False
    clock = run.clock
    # On the validation split, which both were scored on (a trial's value may be a cross-validated score).
    best_score, probe_score = (trial.user_attrs["curve"][-1]["val_accuracy"] for trial in (best, probe))
    return best_score >= probe_score + RECIPE_CLEAR_WIN and recipe_only_epochs(
        available_seconds=clock.training_seconds_left(), epoch_seconds=clock.final_epoch_seconds()) > 0
