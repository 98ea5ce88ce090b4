"""Whether a drawn candidate may train, decided before any training: what it costs as it would be exported (a
limit broken is a skip), and whether a CPU can train it in the search time left."""

import math
import time

import torch
from torch.nn import functional as F

from apps.nas.build import PretrainedClassifier, build, is_pretrained
from apps.nas.features import CPU_BATCH_SIZE, cacheable
from apps.nas.measure import deployment_costs
from apps.nas.names import BACKBONE_STAGES
from apps.nas.state import RunState


def measure(run: RunState, genotype: dict) -> dict:
    """Parameters, FLOPs, CPU latency and size of a freshly built model (before any training), as it would be
    exported: a limit checked here holds for the shipped model, test-time flips included."""
    shape = run.splits.train.input_shape
    return deployment_costs(build(genotype, shape, run.splits.train.num_classes), genotype, shape)


def too_slow(run: RunState, genotype: dict, measured: dict) -> str | None:
    """Why a slow candidate cannot train in the search time left on a CPU, or None; on a GPU the CPU's speed says
    nothing about training time, and nothing is judged.

    A network that runs whole every step is judged by an epoch estimated from the batch-1 latency measured for the
    limits (RunClock.too_slow): a fully fine-tuned EfficientNet-Lite2 on a thousand photos at 224 px needs minutes
    per epoch on a small CPU, and would take the whole budget before it could be compared. One that fine-tunes its
    last stages on their cached input is judged by its pass to cache it and its epochs, both timed on a batch
    (RunClock.cached_too_slow): on EuroSAT at 300 s on one busy thread, the fine-tuning start point's pass took 60-90
    s and its epochs 30 s, and it was stopped after its first epoch with a third of the budget spent. A frozen
    backbone's head trains in milliseconds an epoch, and its pass stops early when it cannot finish (see
    FeatureCache.features): it is not judged.
    """
    if run.device != "cpu":
        return None
    cached = cached_model(run, genotype)
    if cached is None:
        return run.clock.too_slow(measured["latency_ms"], flips=genotype["train"]["flip"])
    # The first candidate trains whatever it costs; past the deadline, the clock stops one at its first batches.
    if cached.frozen or not (run.best and run.best.complete) or run.clock.search_seconds_left() <= 0:
        return None
    features_seconds, epoch_seconds = cached_training_seconds(run, genotype, cached)
    return run.clock.cached_too_slow(features_seconds=features_seconds, epoch_seconds=epoch_seconds,
                                     min_epochs=run.space.min_epochs)


def cached_model(run: RunState, genotype: dict) -> PretrainedClassifier | None:
    """The candidate's network when the Trainer will run its frozen stages once per image and view (Trainer.cached),
    else None."""
    if not is_pretrained(genotype) or genotype["finetune"] == BACKBONE_STAGES:
        return None
    train, val = run.splits.train, run.splits.val
    model = build(genotype, train.input_shape, train.num_classes)
    views = 2 if genotype["train"]["flip"] else 1
    return model if cacheable(model, train.input_shape, len(train) + len(val), views) else None


def cached_training_seconds(run: RunState, genotype: dict, model: PretrainedClassifier) -> tuple[float, float]:
    """(seconds the frozen stages' pass over the train and validation images not yet cached would take, seconds one
    epoch on the cached output would take), as the Trainer runs them: timed on a batch of training images, after a
    first one that pays the one-off setup (oneDNN picks its kernels)."""
    train, val = run.splits.train, run.splits.val
    views = (False, True) if genotype["train"]["flip"] else (False,)
    uncached = sum(run.features.missing(model, images, mirrored=mirrored)
                   for images in (train.images, val.images) for mirrored in views)
    batch_size = min(int(genotype["train"]["batch_size"]), len(train))
    model = model.to(memory_format=torch.channels_last)
    images = train.images[:CPU_BATCH_SIZE].float().contiguous(memory_format=torch.channels_last)
    model.eval()
    with torch.no_grad():
        model.frozen_part(images)
        started = time.monotonic()
        frozen = model.frozen_part(images)
        features_seconds = (time.monotonic() - started) / len(images) * uncached
    batch = frozen.repeat(math.ceil(batch_size / len(frozen)), *[1] * (frozen.ndim - 1))[:batch_size]
    labels = torch.zeros(batch_size, dtype=torch.long)
    model.train()
    optimizer = torch.optim.AdamW([parameter for parameter in model.parameters() if parameter.requires_grad])
    for _ in range(2):
        started = time.monotonic()
        loss = F.cross_entropy(model.learned_part(batch), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    step_seconds = time.monotonic() - started
    model.eval()
    with torch.no_grad():
        started = time.monotonic()
        model.learned_part(batch)
        scoring_seconds = (time.monotonic() - started) / batch_size * len(val) * len(views)
    return features_seconds, step_seconds * max(1, len(train) // batch_size) + scoring_seconds
