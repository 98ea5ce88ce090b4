"""Search quality: every strategy at equal wall-clock budgets vs two baselines, on the same splits.

    .venv/bin/python -m benchmarks.search_quality --datasets digits --budgets 120 --seeds 0 --strategies auto
    .venv/bin/python -m benchmarks.search_quality              # the full grid: hours on a 2-core CPU

    .venv/bin/python -m benchmarks.search_quality --datasets caltech10 eurosat --budgets 300 --strategies auto \
        scratch --baselines frozen finetune                  # the photo comparison of docs/benchmarks.md

"scratch" is auto with the pretrained networks switched off (SearchSpace(backbones=())). Baselines, run side by
side with the same train+validation / test split as the searches:
  recipe    the fixed hand-designed CNN (apps.nas.space.baseline_genotype) trained on train+validation for as many
            epochs as the budget allows (one epoch is timed first, then the schedule is stretched to fill it);
  svc       scikit-learn's RBF SVC on raw pixels, C and gamma chosen by 3-fold cross-validation on train+validation;
  frozen    EfficientNet-Lite0's frozen ImageNet features at 224 px and a logistic regression (the way Teachable
            Machine and Create ML work);
  finetune  EfficientNet-Lite0 fine-tuned throughout with one fixed recipe (AdamW, 10x lower rate for the
            backbone, flips and mild shifts), timed and stretched to the budget like the recipe;
  cnn       a plain CNN written by hand in plain PyTorch, trained for the budget (benchmarks.hand_cnn).
Prints one markdown table: test accuracy mean, standard deviation and range (min..max over seeds), trials run,
seconds, and how many runs failed (ended with no model; left out of the accuracy).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from apps.nas.build import build
from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset, load_image_folder, split_dataset
from apps.nas.features import FeatureCache
from apps.nas.final import SearchFailed
from apps.nas.search import run_search
from apps.nas.shares import fraction_to_test
from apps.nas.space import SearchSpace, baseline_genotype, probe_genotype
from apps.nas.state import resolve_device
from apps.nas.strategies import STRATEGIES
from apps.nas.train import Trainer
from benchmarks import hand_cnn
from benchmarks.datasets import digits_folder, mnist5k_folder, photos_per_class_folder, shared_photos_folder

DATASETS = {"digits": digits_folder, "mnist5k": mnist5k_folder,
            "caltech10": lambda: shared_photos_folder("caltech10"), "eurosat": lambda: shared_photos_folder("eurosat"),
            "caltech10-20": lambda: photos_per_class_folder("caltech10", 20),
            "caltech10-40": lambda: photos_per_class_folder("caltech10", 40),
            "eurosat-20": lambda: photos_per_class_folder("eurosat", 20)}
BASELINES = {"recipe": "fixed recipe", "svc": "RBF SVC", "frozen": "frozen Lite0 + logistic regression",
             "finetune": "Lite0 fine-tuned, fixed recipe", "cnn": "hand-written CNN"}
SCRATCH = "scratch"  # auto without pretrained networks
SVC_GRID = {"C": [1, 10, 100], "gamma": ["scale", 0.01, 0.03]}
# The recipe's timed epoch and test scoring also come out of its budget; keep this share of it for them.
RECIPE_TIME_SHARE = 0.85
TIMING_EPOCHS = 2
TIMING_IMAGES = 256


def search_run(folder: Path, strategy: str, budget: float, seed: int) -> dict:
    space = SearchSpace(backbones=()) if strategy == SCRATCH else SearchSpace()
    config = SearchConfig(budget_seconds=budget, strategy="auto" if strategy == SCRATCH else strategy, seed=seed,
                          space=space)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work_dir:
        try:
            result = run_search(config, folder, work_dir)
        except SearchFailed as failure:  # the run a user would have got: counted, not left out of the grid
            return {"test_accuracy": None, "failed": str(failure), "seconds": time.monotonic() - started,
                    "trials": 0}
    trials = result.summary.trials
    return {"test_accuracy": result.best.test_accuracy, "seconds": result.summary.elapsed_seconds,
            "trials": sum(count for status, count in trials.items() if status != "infeasible"),
            "best": result.best.genotype_summary, "best_val_accuracy": result.best.val_accuracy,
            "cv_accuracy": result.best.cross_validation.accuracy if result.best.cross_validation else None,
            "final_epochs": result.best.final_epochs, "retrained": result.best.retrained,
            # What the search did, candidate by candidate: what to read when a seed stands out.
            "candidates": [{"id": row.id, "origin": row.origin, "status": row.status, "val": row.val_accuracy,
                            "cv": row.cross_validation.accuracy if row.cross_validation else None,
                            "epochs": row.epochs, "planned": row.planned_epochs, "seconds": row.seconds,
                            "reason": row.reason, "network": row.genotype_summary}
                           for row in sorted(result.leaderboard, key=lambda row: row.id)]}


def engine_splits(dataset: ImageDataset, seed: int):
    """The train / validation / test split the engine makes of this dataset with this seed."""
    return split_dataset(dataset, seed=seed, test_fraction=fraction_to_test(len(dataset)))


def finetune_genotype(dataset: ImageDataset, epochs: int) -> dict:
    """Lite0 fine-tuned throughout at 224 px (small images upsampled to 96 at least), one fixed recipe."""
    return {"backbone": "lite0", "side": max(96, min(224, dataset.input_shape[-1])), "finetune": 9, "head_hidden": 0,
            "train": {"optimizer": "adamw", "lr": 0.001, "backbone_lr": 0.0001, "weight_decay": 0.01,
                      "dropout": 0.2, "batch_size": 32, "augment": 0.3, "flip": True, "label_smoothing": 0.1,
                      "epochs": epochs}}


def recipe_genotype(dataset: ImageDataset, epochs: int) -> dict:
    return baseline_genotype(epochs=epochs)


def recipe_run(dataset: ImageDataset, budget: float, seed: int, recipe=recipe_genotype) -> dict:
    """A fixed recipe trained on train+validation for as many epochs as fit in the budget."""
    started = time.monotonic()
    splits = engine_splits(dataset, seed)
    train = splits.train_and_val
    device = resolve_device("auto")
    # Timed on a slice: an epoch of a fine-tuned backbone on all the photos can take a third of the budget.
    sample = train.subset(range(min(len(train), TIMING_IMAGES)))
    timing = Trainer(recipe(dataset, TIMING_EPOCHS), sample, None, device=device, seed=seed)
    # The slower epoch, to stay in budget.
    epoch_seconds = max(timing.run_epoch().seconds for _ in range(TIMING_EPOCHS)) * len(train) / len(sample)
    epochs = max(1, int((RECIPE_TIME_SHARE * budget - (time.monotonic() - started)) / epoch_seconds))
    trainer = Trainer(recipe(dataset, epochs), train, None, device=device, seed=seed)
    for _ in range(epochs):
        trainer.run_epoch()
    predictions = trainer.predict_logits(splits.test.images).argmax(1).cpu()
    accuracy = (predictions == splits.test.labels).float().mean().item()
    return {"test_accuracy": accuracy, "seconds": time.monotonic() - started, "trials": 1, "epochs": epochs}


def svc_run(dataset: ImageDataset, seed: int) -> dict:
    """RBF SVC on raw pixels scaled to 0..1, hyperparameters by cross-validation on train+validation."""
    started = time.monotonic()
    splits = engine_splits(dataset, seed)
    train = splits.train_and_val

    def pixels(ds: ImageDataset) -> np.ndarray:
        return ds.images.reshape(len(ds), -1).float().div(255).numpy()

    grid = GridSearchCV(SVC(kernel="rbf"), SVC_GRID, cv=3, n_jobs=1).fit(pixels(train), train.labels.numpy())
    accuracy = float((grid.predict(pixels(splits.test)) == splits.test.labels.numpy()).mean())
    return {"test_accuracy": accuracy, "seconds": time.monotonic() - started, "trials": len(grid.cv_results_["params"])}


def frozen_run(dataset: ImageDataset, seed: int) -> dict:
    """Lite0's frozen features of train+validation, a logistic regression on them, scored on the test split."""
    started = time.monotonic()
    splits = engine_splits(dataset, seed)
    train = splits.train_and_val
    # auto's own probe network (Lite0, frozen, at the largest side) and feature computation.
    network = build(probe_genotype(SearchSpace()), dataset.input_shape, dataset.num_classes)
    cache = FeatureCache()
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(cache.features(network, train.images).numpy(), train.labels.numpy())
    accuracy = probe.score(cache.features(network, splits.test.images).numpy(), splits.test.labels.numpy())
    return {"test_accuracy": accuracy, "seconds": time.monotonic() - started, "trials": 1}


def hand_cnn_run(dataset: ImageDataset, budget: float, seed: int) -> dict:
    """benchmarks.hand_cnn on train+validation for the budget, scored on the test split."""
    splits = engine_splits(dataset, seed)
    train = splits.train_and_val
    return hand_cnn.train_and_test(train.images, train.labels, splits.test.images, splits.test.labels,
                                   num_classes=dataset.num_classes, budget=budget, seed=seed)


def run_method(method: str, folder: Path, dataset: ImageDataset, budget: float, seed: int) -> dict:
    if method == BASELINES["recipe"]:
        return recipe_run(dataset, budget, seed)
    if method == BASELINES["finetune"]:
        return recipe_run(dataset, budget, seed, recipe=finetune_genotype)
    if method == BASELINES["svc"]:
        return svc_run(dataset, seed)
    if method == BASELINES["frozen"]:
        return frozen_run(dataset, seed)
    if method == BASELINES["cnn"]:
        return hand_cnn_run(dataset, budget, seed)
    return search_run(folder, method, budget, seed)


def summarize(runs: list[dict]) -> dict:
    """Test accuracy over the runs that ended with a model; runs that failed are counted apart."""
    finished = [run for run in runs if run["test_accuracy"] is not None]
    accuracies = [100 * run["test_accuracy"] for run in finished] or [float("nan")]
    return {"mean": statistics.mean(accuracies), "sd": statistics.stdev(accuracies) if len(finished) > 1 else 0.0,
            "min": min(accuracies), "max": max(accuracies),
            "trials": statistics.mean(run["trials"] for run in finished) if finished else 0.0,
            "seconds": statistics.mean(run["seconds"] for run in runs), "failed": len(runs) - len(finished)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=sorted(DATASETS), choices=sorted(DATASETS))
    parser.add_argument("--budgets", nargs="+", type=float, default=[60, 300])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="*", default=sorted(STRATEGIES), choices=[*sorted(STRATEGIES), SCRATCH])
    parser.add_argument("--baselines", nargs="*", default=["recipe", "svc"], choices=sorted(BASELINES))
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()

    rows, raw = [], {}
    for name in args.datasets:
        folder = DATASETS[name]()
        dataset = load_image_folder(folder)
        for budget in args.budgets:
            methods = [*args.strategies, *(BASELINES[b] for b in args.baselines)]
            for method in methods:
                runs = [run_method(method, folder, dataset, budget, seed) for seed in args.seeds]
                raw[f"{name}/{budget:g}/{method}"] = runs
                rows.append((name, budget, method, summarize(runs)))
                scores = [round(100 * r["test_accuracy"], 2) if r["test_accuracy"] is not None else "failed"
                          for r in runs]
                print(f"done: {name} {budget:g}s {method}: {scores}", flush=True)

    print(f"\n{torch.get_num_threads()} torch threads, device {resolve_device('auto')}, seeds {args.seeds}\n")
    print("| dataset | budget (s) | method | test accuracy % (mean ± sd) | min..max | trials | seconds | failed runs |")
    print("|---|---|---|---|---|---|---|---|")
    for name, budget, method, s in rows:
        print(f"| {name} | {budget:g} | {method} | {s['mean']:.2f} ± {s['sd']:.2f} | {s['min']:.2f}..{s['max']:.2f} | "
              f"{s['trials']:.1f} | {s['seconds']:.0f} | {s['failed']} |")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
