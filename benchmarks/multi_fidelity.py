"""Search efficiency: random search with ASHA early stopping vs plain random search, counted in training epochs.

    .venv/bin/python -m benchmarks.multi_fidelity --dataset digits --trials 16 --seeds 0

Both runs use the same seed, so they draw the same candidates in the same order; ASHA (successive halving,
rungs at a ninth and a third of each candidate's schedule, top third promoted) only decides how long each one
trains. Plain random search trains `--trials` candidates fully; its best validation accuracy minus 0.5 points
is the target. The ASHA run may draw up to three times as many candidates and stops once one reaches the target.
Reported, in training epochs (independent of machine load, so stable on a shared CPU):
  ratio        ASHA's epochs to the target / plain random search's epochs (its whole run: what it spent to
               find that accuracy). The goal: at most 1/3.
  ratio@target ASHA's epochs to the target / random's epochs until its first candidate at the target (stricter:
               random cannot know a candidate is its best before the run ends).
"""

import argparse
import tempfile

from apps.nas.config import SearchConfig
from apps.nas.search import run_search
from benchmarks.datasets import digits_folder, mnist5k_folder

DATASETS = {"digits": digits_folder, "mnist5k": mnist5k_folder}
TOLERANCE = 0.005  # half a point of validation accuracy
GENEROUS_BUDGET_SECONDS = 24 * 3600  # trial counts end these runs, not the clock


class StopAtTarget:
    """Event callback and search control in one: cancels the search once a candidate reached the target."""

    def __init__(self, target: float):
        self.target = target
        self.reached = False

    def __call__(self, event: dict) -> None:
        if event["type"] in ("trial_finished", "trial_pruned") and (event["val_accuracy"] or 0) >= self.target:
            self.reached = True

    def cancelled(self) -> bool:
        return self.reached

    def budget_seconds(self) -> float:
        return GENEROUS_BUDGET_SECONDS


def trial_history(folder, *, trials: int, seed: int, multi_fidelity: bool, target: float = 2.0) -> list[dict]:
    """Every candidate in the order it was trained: last validation accuracy and epochs spent.

    The search stops early once a candidate reaches target (the default, 2.0, is never reached).
    """
    config = SearchConfig(budget_seconds=GENEROUS_BUDGET_SECONDS, strategy="random", seed=seed, max_trials=trials,
                          multi_fidelity=multi_fidelity, final_retrain=False, export=False)
    stop = StopAtTarget(target)
    with tempfile.TemporaryDirectory() as work_dir:
        result = run_search(config, folder, work_dir, on_event=stop, control=stop)
    trained = sorted((row for row in result.leaderboard if row.epochs), key=lambda row: row.id)
    return [{"val_accuracy": row.val_accuracy, "epochs": row.epochs} for row in trained]


def epochs_to_reach(history: list[dict], target: float) -> int | None:
    """Training epochs spent up to and including the first candidate at or above target (None: never)."""
    spent = 0
    for trial in history:
        spent += trial["epochs"]
        if trial["val_accuracy"] >= target:
            return spent
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    parser.add_argument("--trials", type=int, default=16, help="candidates plain random search trains fully")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    folder = DATASETS[args.dataset]()

    print("| seed | random best val % | target % | random epochs (total) | random epochs to target | "
          "ASHA epochs to target | ratio | ratio@target | ASHA candidates |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        plain = trial_history(folder, trials=args.trials, seed=seed, multi_fidelity=False)
        best = max(trial["val_accuracy"] for trial in plain)
        target = best - TOLERANCE
        asha = trial_history(folder, trials=3 * args.trials, seed=seed, multi_fidelity=True, target=target)
        plain_epochs, asha_epochs = epochs_to_reach(plain, target), epochs_to_reach(asha, target)
        plain_total = sum(trial["epochs"] for trial in plain)
        ratio, ratio_at_target = (
            (f"{asha_epochs / plain_total:.2f}", f"{asha_epochs / plain_epochs:.2f}") if asha_epochs
            else ("not reached", "not reached"))
        print(f"| {seed} | {100 * best:.2f} | {100 * target:.2f} | {plain_total} | {plain_epochs} | {asha_epochs} "
              f"| {ratio} | {ratio_at_target} | {len(asha)} |", flush=True)


if __name__ == "__main__":
    main()
