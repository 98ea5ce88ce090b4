"""Zero-cost proxies against trained accuracy: do naswot or synflow rank from-scratch candidates better than their
parameter count does?

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.zero_cost --dataset digits --candidates 40 --epochs 3
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.zero_cost --dataset mnist5k --candidates 24 --epochs 2 \
        --training own

Candidates are drawn at random from the from-scratch space (SearchSpace(backbones=())), as auto's random start-up
proposals are. Each is scored untrained by every proxy (naswot on 64 training images) and its parameters counted,
then trained by the engine's Trainer on the engine's split for --epochs (the one-cycle schedule fits them) and its
validation accuracy taken after the last epoch. The proxies score the very initialisation that is trained (the
same seed). Two ways to train:
  own     the candidate's own sampled training hyperparameters: what a search faces, where a learning rate or a
          batch size can matter more than the architecture the proxies see;
  recipe  every architecture with the hand-designed recipe's hyperparameters: the architecture alone decides.
Printed, per way: Kendall tau and Spearman rho of each ranking against validation accuracy, and what choosing the
best-ranked of K random candidates buys (mean validation accuracy of the choice over PICK_DRAWS draws of K)
against choosing at random and against the best of the K.
"""

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from apps.nas.build import build
from apps.nas.data import load_image_folder
from apps.nas.measure import count_params
from apps.nas.space import SearchSpace, baseline_genotype, with_epochs
from apps.nas.train import Trainer
from apps.nas.zero_cost import PROXIES, score_genotype, scoring_batch
from benchmarks.datasets import digits_folder, mnist5k_folder
from benchmarks.search_quality import engine_splits

DATASETS = {"digits": digits_folder, "mnist5k": mnist5k_folder}
TRAININGS = {"own": "their own hyperparameters", "recipe": "the recipe's hyperparameters"}
PICK_SIZES = (5, 10)
PICK_DRAWS = 5000


def trained_genotype(genotype: dict, training: str, epochs: int) -> dict:
    """The candidate as trained here: its own hyperparameters or the recipe's, for `epochs`."""
    if training == "recipe":
        genotype = {**genotype, "train": baseline_genotype()["train"]}
    return with_epochs(genotype, epochs)


def measure_candidate(genotype: dict, splits, batch, *, seed: int, trainings: list[str], epochs: int) -> dict:
    """Parameters, every proxy's score and seconds, and the validation accuracy after each way of training."""
    train = splits.train
    row = {"genotype": genotype,
           "params": count_params(build(genotype, train.input_shape, train.num_classes))}
    for proxy in PROXIES:
        started = time.perf_counter()
        row[proxy] = score_genotype(genotype, batch, train.num_classes, proxy=proxy, seed=seed)
        row[f"{proxy}_seconds"] = time.perf_counter() - started
    for training in trainings:
        started = time.perf_counter()
        trainer = Trainer(trained_genotype(genotype, training, epochs), train, splits.val, device="cpu", seed=seed)
        row[training] = trainer.fit()[-1].val_accuracy
        row[f"{training}_seconds"] = time.perf_counter() - started
    return row


def pick_accuracy(scores: np.ndarray, accuracies: np.ndarray, size: int, rng: np.random.Generator) -> float:
    """Mean accuracy of the best-scored of `size` candidates drawn at random, over PICK_DRAWS draws."""
    draws = np.array([rng.choice(len(scores), size, replace=False) for _ in range(PICK_DRAWS)])  # (draws, size)
    chosen = draws[np.arange(PICK_DRAWS), scores[draws].argmax(1)]
    return float(accuracies[chosen].mean())


def markdown_row(*cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def ranking_table(rows: list[dict], training: str, seed: int) -> list[str]:
    accuracies = np.array([row[training] for row in rows])
    rankings = {"params (baseline)": "params", **{name: name for name in PROXIES}}
    sizes = [size for size in PICK_SIZES if size < len(rows)]
    header = ["ranking", "Kendall tau", "Spearman rho", *(f"val % of the top of {size}" for size in sizes),
              "seconds per score (median, max)"]
    lines = [markdown_row(*header), markdown_row(*["---"] * len(header))]
    for label, key in rankings.items():
        # -inf (a singular naswot kernel) ranks last; ties go to the first drawn, as argmax breaks them.
        scores = np.array([row[key] for row in rows], dtype=float)
        scores[np.isneginf(scores)] = np.finfo(float).min
        tau, rho = kendalltau(scores, accuracies).statistic, spearmanr(scores, accuracies).statistic
        picks = [pick_accuracy(scores, accuracies, size, np.random.default_rng(seed)) for size in sizes]
        seconds = [row[f"{key}_seconds"] for row in rows] if key in PROXIES else []
        timing = f"{statistics.median(seconds):.3f}, {max(seconds):.3f}" if seconds else "-"
        lines.append(markdown_row(label, f"{tau:+.2f}", f"{rho:+.2f}", *(f"{100 * p:.2f}" for p in picks), timing))
    oracle = [pick_accuracy(accuracies, accuracies, size, np.random.default_rng(seed)) for size in sizes]
    lines.append(markdown_row("random choice", 0, 0, *(f"{100 * accuracies.mean():.2f}" for _ in sizes), "-"))
    lines.append(markdown_row("best of the draw (oracle)", 1, 1, *(f"{100 * p:.2f}" for p in oracle), "-"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--training", nargs="+", default=list(TRAININGS), choices=list(TRAININGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=1200,
                        help="no new candidate starts after this; the tables cover the ones measured")
    parser.add_argument("--json", type=Path, help="also write every candidate's figures here")
    args = parser.parse_args()

    started = time.monotonic()
    dataset = load_image_folder(DATASETS[args.dataset]())
    splits = engine_splits(dataset, args.seed)
    batch = scoring_batch(splits.train.images, args.seed)
    space = SearchSpace(backbones=())
    rng = random.Random(args.seed)
    genotypes = [space.sample(rng) for _ in range(args.candidates)]
    rows = []
    for index, genotype in enumerate(genotypes):
        if time.monotonic() - started > args.max_seconds:
            break
        row = measure_candidate(genotype, splits, batch, seed=args.seed + index, trainings=args.training,
                                epochs=args.epochs)
        rows.append(row)
        print(f"candidate {index}: {row['params']} params, "
              + ", ".join(f"{key} {row[key]:.4g}" for key in (*PROXIES, *args.training)), flush=True)

    print(f"\n{args.dataset}: {len(rows)} candidates, {args.epochs} epochs each, seed {args.seed}, "
          f"{len(splits.train)} training / {len(splits.val)} validation images, {time.monotonic() - started:.0f} s")
    for training in args.training:
        accuracies = [100 * row[training] for row in rows]
        print(f"\nTrained with {TRAININGS[training]} "
              f"(validation accuracy {min(accuracies):.1f}..{max(accuracies):.1f}%):\n")
        print("\n".join(ranking_table(rows, training, args.seed)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
