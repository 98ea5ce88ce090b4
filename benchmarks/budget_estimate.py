"""How well the new-run page's estimate ("3 to 9 candidate networks, most likely about 5") predicts what a search
trains, strategy by strategy.

    .venv/bin/python -m benchmarks.budget_estimate --datasets mnist5k caltech10 --strategies random tpe [--budget 300]
        [--json runs.json]

Runs each strategy for the Quick preset's budget on each dataset, one PyTorch thread, seed 0, then prints what each
run trained beside what the page says for it on a deployment with no finished run (apps.runs.budgets.defaults), and
the speed each run measured (what the defaults hold).
"""

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from apps.nas.config import SearchConfig
from apps.nas.data import load_image_folder
from apps.nas.search import run_search
from apps.nas.strategies import STRATEGIES
from apps.runs.budgets import candidates_estimate, default_speed, speed_measured
from benchmarks.search_quality import DATASETS


def search_summary(folder: Path, strategy: str, budget: float) -> dict:
    with tempfile.TemporaryDirectory() as work_dir:
        result = run_search(SearchConfig(budget_seconds=budget, strategy=strategy, seed=0), folder, work_dir)
    return asdict(result.summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=["mnist5k", "caltech10"])
    parser.add_argument("--strategies", nargs="+", choices=sorted(STRATEGIES), default=sorted(STRATEGIES))
    parser.add_argument("--budget", type=float, default=300)
    parser.add_argument("--json", type=Path, help="also write every run's summary here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = []
    for name in args.datasets:
        folder = DATASETS[name]()
        dataset = load_image_folder(folder)
        colour = dataset.input_shape[0] == 3
        for strategy in args.strategies:
            summary = search_summary(folder, strategy, args.budget)
            runs.append({"dataset": name, "strategy": strategy, "images": len(dataset), "summary": summary,
                         "estimate": candidates_estimate(default_speed(colour=colour), images=len(dataset),
                                                         budget_seconds=args.budget)})
            if args.json:
                args.json.write_text(json.dumps(runs, indent=2))
    print("| dataset | strategy | candidates trained | the page's estimate with no finished run |")
    print("| --- | --- | --- | --- |")
    for run in runs:
        low, likely, high = run["estimate"]
        print(f"| {run['dataset']} | {run['strategy']} | {run['summary']['candidates_trained']} | "
              f"{low} to {high}, most likely {likely} |")
    for run in runs:
        print(f"{run['dataset']}, {run['strategy']}: {speed_measured([run['summary']])}")


if __name__ == "__main__":
    main()
