"""Scoring a candidate by k-fold cross-validation over train+validation, where the validation split is too small to
tell candidates apart.

On a few dozen validation images, candidates tie or differ by one image (245 photos: 6 candidates at 36 of 37), and
the search chooses blind. A candidate that trains on cached features (a head on a frozen backbone: milliseconds an
epoch) can instead be trained k times, each time holding out a different fifth of train+validation, and scored on
every one of those images, out of fold: five to six times the images a hold-out split scores it on. The test split
is never part of it, and copies of one image stay in one fold, as they stay in one split.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold
from torch.nn import functional as F

from apps.nas.data import DatasetSplits, ImageDataset
from apps.nas.features import FeatureCache
from apps.nas.results import CrossValidation
from apps.nas.train import Trainer, TrainingInterrupted

# A validation split smaller than this is where a hold-out score cannot tell candidates apart (at 300 images its
# 95% interval around 90% is +-3.4 points).
SMALL_VALIDATION_IMAGES = 300
FOLDS = 5
# Cross-validating a candidate may take at most this share of the search's time left, judged from its own epochs.
MAX_SHARE_OF_TIME_LEFT = 0.1


def group_folds(labels: torch.Tensor, groups: torch.Tensor, *, folds: int, seed: int) -> list[np.ndarray] | None:
    """The positions each fold holds out: every class spread over the folds as evenly as whole groups of copies
    allow, a group never in two folds. None when a class has fewer groups than two folds need."""
    labels_array, groups_array = labels.numpy(), groups.numpy()
    smallest_class = min(len(np.unique(groups_array[labels_array == label])) for label in np.unique(labels_array))
    folds = min(folds, smallest_class)
    if folds < 2:
        return None
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [held_out for _, held_out in splitter.split(np.zeros(len(labels_array)), labels_array, groups_array)]


@dataclass(frozen=True)
class CrossValidationPlan:
    """When a search scores its candidates by cross-validation, and how much time that may take."""

    data: ImageDataset  # train+validation
    folds: list[np.ndarray]

    @classmethod
    def for_splits(cls, splits: DatasetSplits, seed: int) -> "CrossValidationPlan | None":
        """The plan for a search's splits: None when validation is large enough, or too few images to fold."""
        if len(splits.val) >= SMALL_VALIDATION_IMAGES:
            return None
        data = splits.train_and_val
        folds = group_folds(data.labels, data.groups, folds=FOLDS, seed=seed)
        return None if folds is None else cls(data, folds)

    def affordable(self, epoch_seconds: list[float], train_images: int, seconds_left: float) -> bool:
        """Whether k trainings of a candidate fit MAX_SHARE_OF_TIME_LEFT of the time left, estimated from its own
        epochs on train_images (the median after the first: a first epoch that computed features is no guide)."""
        fold_images = len(self.data) * (len(self.folds) - 1) / len(self.folds)
        typical = statistics.median(epoch_seconds[1:] or epoch_seconds)
        seconds = typical * len(epoch_seconds) * len(self.folds) * fold_images / train_images
        return seconds <= MAX_SHARE_OF_TIME_LEFT * seconds_left

    def score(self, genotype: dict, *, device: str, seed: int, features: FeatureCache,
              should_stop: Callable[[], bool], seconds_left: float) -> CrossValidation | None:
        """The candidate trained once per fold and scored on the images that fold held out; None when stopped, or
        when the folds trained so far show that all of them would take more than MAX_SHARE_OF_TIME_LEFT of
        seconds_left (building the network, which its epochs do not show, costs a pretrained one a second)."""
        labels = self.data.labels
        logits = torch.zeros(len(labels), self.data.num_classes)
        started = time.monotonic()
        for done, fold in enumerate(self.folds):
            if done and (time.monotonic() - started) / done * len(self.folds) > MAX_SHARE_OF_TIME_LEFT * seconds_left:
                return None
            held_out = torch.from_numpy(fold)
            kept = np.setdiff1d(np.arange(len(labels)), fold)
            trainer = Trainer(genotype, self.data.subset(kept), None, device=device, seed=seed,
                              should_stop=should_stop, features=features)
            try:
                trainer.fit()
            except TrainingInterrupted:
                return None
            logits[held_out] = trainer.predict_logits(self.data.images[held_out])
        return CrossValidation(accuracy=(logits.argmax(1) == labels).float().mean().item(),
                               loss=F.cross_entropy(logits, labels).item(), folds=len(self.folds), images=len(labels))
