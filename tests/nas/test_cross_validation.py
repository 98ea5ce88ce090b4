"""On small data the search scores cheap candidates by k-fold cross-validation over train+validation, never the test
split, with copies of an image kept in one fold, and among candidates tied on validation ships the one that scored
best in it."""

import numpy as np
import torch

import apps.nas.cross_validation
from apps.nas.cross_validation import CrossValidationPlan, group_folds
from apps.nas.data import load_image_folder, split_dataset
from apps.nas.search import run_search
from apps.nas.shares import fraction_to_test
from apps.nas.space import SearchSpace
from apps.nas.train import Trainer
from tests.nas.tiny_search import EventLog, tiny_config


def test_folds_hold_out_every_image_once_spread_each_class_and_keep_copies_together():
    labels = torch.tensor([0] * 30 + [1] * 20)
    groups = torch.arange(50)
    groups[[0, 1, 2]] = 0  # three copies of one photo
    groups[[30, 31]] = 30

    folds = group_folds(labels, groups, folds=5, seed=0)

    assert len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))
    for fold in folds:
        assert {int(groups[i]) for i in fold}.isdisjoint(
            {int(groups[i]) for other in folds if other is not fold for i in other})
        assert 4 <= (labels[fold] == 0).sum() <= 8 and 2 <= (labels[fold] == 1).sum() <= 6


def test_a_class_with_too_few_distinct_images_to_fold_gives_no_folds():
    labels = torch.tensor([0] * 10 + [1] * 3)
    groups = torch.arange(13)
    groups[10:] = 10  # the second class is three copies of one image

    assert group_folds(labels, groups, folds=5, seed=0) is None
    assert len(group_folds(labels, torch.arange(13), folds=5, seed=0)) == 3  # as many folds as its smallest class


def test_a_large_validation_split_scores_candidates_on_it(tiny_dataset, monkeypatch):
    splits = split_dataset(tiny_dataset, seed=0)
    assert CrossValidationPlan.for_splits(splits, seed=0) is not None
    monkeypatch.setattr(apps.nas.cross_validation, "SMALL_VALIDATION_IMAGES", len(splits.val))
    assert CrossValidationPlan.for_splits(splits, seed=0) is None


def test_on_small_data_heads_on_frozen_features_are_cross_validated_without_the_test_images(
        make_image_folder, monkeypatch, tmp_path):
    folder = make_image_folder(classes=3, per_class=16, mode="RGB")
    config = tiny_config(strategy="random", max_trials=3, budget_seconds=600.0, device="cpu",
                         space=SearchSpace(backbones=("lite0",), pretrained_sides=(96,), finetune_stages=(0,)))
    splits = split_dataset(load_image_folder(folder, config.resolution), seed=config.seed,
                           test_fraction=fraction_to_test(48, config.test_fraction))
    test_paths = set(splits.test.paths)
    folded_paths = []

    class RecordingTrainer(Trainer):
        def __init__(self, genotype, train, val, **kwargs):
            folded_paths.append(set(train.paths))
            super().__init__(genotype, train, val, **kwargs)

    monkeypatch.setattr(apps.nas.cross_validation, "Trainer", RecordingTrainer)
    log = EventLog()
    result = run_search(config, folder, tmp_path, on_event=log)

    complete = [row for row in result.leaderboard if row.status == "complete"]
    assert len(complete) == 3 and all(row.cross_validation is not None for row in complete)
    for row in complete:
        assert row.cross_validation.images == len(splits.train_and_val) and row.cross_validation.folds == 5
    # Five trainings a candidate, each on four fifths of train+validation and never on a test image.
    assert len(folded_paths) == 15
    assert all(paths < set(splits.train_and_val.paths) and not paths & test_paths for paths in folded_paths)
    # Validation accuracy first; among ties there, the cross-validated accuracy; then the validation loss.
    best = max(complete, key=lambda row: (row.val_accuracy, row.cross_validation.accuracy, -row.curve[-1].val_loss))
    assert result.best.trial_id == best.id and result.best.cross_validation == best.cross_validation
    assert [event["cv_accuracy"] for event in log.of_type("trial_finished")] == [
        row.cross_validation.accuracy for row in sorted(complete, key=lambda row: row.id)]
    assert result.leaderboard[0].id == best.id
