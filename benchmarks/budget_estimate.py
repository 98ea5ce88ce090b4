"""How well the new-run page's estimate ("about N candidate networks") predicts what a search trains.

    .venv/bin/python -m benchmarks.budget_estimate [--budget 300]

Runs `auto` searches of the Quick preset's budget on the benchmark datasets (MNIST-5k also at 16 px), then
predicts each run's candidates from the speed measured on the *other* runs, as the page does when a dataset has
no finished run of its own, and from the built-in CPU default. Prints a markdown table, each run's speed and the
pooled speed (what apps.runs.budgets.CPU_DEFAULT holds).
"""

import argparse
import tempfile
from dataclasses import asdict

import torch

from apps.nas.config import SearchConfig
from apps.nas.data import load_image_folder
from apps.nas.search import run_search
from apps.runs.budgets import CPU_DEFAULT, candidates_estimate, speed_measured
from benchmarks.datasets import digits_folder, mnist5k_folder

CASES = [("digits", digits_folder, None), ("MNIST-5k", mnist5k_folder, None), ("MNIST-5k", mnist5k_folder, 16)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300)
    budget = parser.parse_args().budget
    torch.set_num_threads(1)
    runs = []
    for name, folder, side in CASES:
        dataset = load_image_folder(folder(), side)
        with tempfile.TemporaryDirectory() as work_dir:
            result = run_search(SearchConfig(budget_seconds=budget, strategy="auto", seed=0), dataset, work_dir)
        runs.append({"name": name, "images": len(dataset), "side": dataset.input_shape[-1],
                     "summary": asdict(result.summary)})
    print("| dataset | side | candidates trained | estimate from the other runs | estimate from the default |")
    print("| --- | --- | --- | --- | --- |")
    for run in runs:
        others = speed_measured(other["summary"] for other in runs if other is not run)
        print(f"| {run['name']} | {run['side']} | {run['summary']['candidates_trained']} | "
              f"{candidates_estimate(others, images=run['images'], budget_seconds=budget)[1]} | "
              f"{candidates_estimate(CPU_DEFAULT, images=run['images'], budget_seconds=budget)[1]} |")
    for run in runs:
        summary = run["summary"]
        print(f"{run['name']} at {run['side']} px: {speed_measured([summary])}")
    print("pooled:", speed_measured(run["summary"] for run in runs))


if __name__ == "__main__":
    main()
