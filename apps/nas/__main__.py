"""Command line: `python -m apps.nas search DATA_DIR --budget 300 --out DIR`.

Shows a progress bar on stderr, prints the leaderboard, and writes DIR/bundle.zip and DIR/result.json.
Running the same command again with the same --out continues a search that was killed.
"""

import argparse
import sys
import textwrap

import torch

from apps.nas.budget import BudgetTooSmall
from apps.nas.config import Constraints, SearchConfig
from apps.nas.data import DatasetError
from apps.nas.final import SearchFailed
from apps.nas.names import ARTIFACT_FILES, STRATEGY_SENTENCES
from apps.nas.results import SearchResult
from apps.nas.search import run_search
from apps.nas.strategies import STRATEGIES
from apps.nas.train import default_cpu_threads

BAR_WIDTH = 24
HELP_WIDTH = 78  # argparse's own width on an 80-column terminal
LEADERBOARD_ROWS = 10


def strategies_help() -> str:
    """Every registered strategy with its sentence, for the end of `search --help`."""
    column = 2 + max(map(len, STRATEGIES)) + 2
    lines = ["strategies:"]
    for name in sorted(STRATEGIES):
        lines.append(textwrap.fill(STRATEGY_SENTENCES[name], width=HELP_WIDTH,
                                   initial_indent=f"  {name}".ljust(column), subsequent_indent=" " * column))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m apps.nas", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    # Raw: argparse would run the strategies' lines together into one paragraph.
    search = commands.add_parser("search", help="search, train and export an image classifier",
                                 epilog=strategies_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("data_dir", help="folder with one sub-folder of images per class")
    search.add_argument("--budget", type=float, default=300.0, help="wall-clock seconds for everything")
    search.add_argument("--strategy", default="auto", choices=sorted(STRATEGIES),
                        help="how the search picks candidates (default: auto; see strategies below)")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--max-latency-ms", type=float, help="CPU latency limit per image (batch 1)")
    search.add_argument("--max-params", type=int, help="parameter count limit")
    search.add_argument("--max-model-mb", type=float, help="model file size limit")
    search.add_argument("--resolution", type=int, help="image side in pixels (default: chosen from the images)")
    search.add_argument("--max-trials", type=int, help="stop after this many trained candidates")
    search.add_argument("--device", default="auto", help='"auto", "cpu", "cuda", ...')
    search.add_argument("--threads", type=int, default=default_cpu_threads(),
                        help="PyTorch threads for training on the CPU (default: cores minus one)")
    search.add_argument("--out", required=True, help="output folder (also holds the state to resume from)")
    return parser.parse_args(argv)


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class ProgressBar:
    """Plain-text progress on stderr: redrawn in place on a terminal, one line per milestone otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.best: float | None = None
        self.trial: str = ""

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == "new_best":
            self.best = event["val_accuracy"]
        if kind == "trial_started":
            self.trial = f"trial {event['trial_id']}"
        elif kind == "epoch_finished":
            where = "final" if event["phase"] == "final" else f"trial {event['trial_id']}"
            self.trial = f"{where} epoch {event['epoch']}/{event['total_epochs']}"
        elif kind == "final_training_started":
            self.trial = "final retrain" if event["retrain"] else "exporting"
        elif kind == "supernet_progress":
            self.trial = f"supernet step {event['step']}/{event['total_steps']}"
        filled = round(BAR_WIDTH * event["progress"])
        best = f"best val {100 * self.best:.1f}%" if self.best is not None else "no result yet"
        line = (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {100 * event['progress']:3.0f}% "
                f"{format_duration(event['eta_seconds'])} left · {self.trial} · {best}")
        if self.interactive:
            self.stream.write("\r" + line.ljust(100))
            if kind == "run_finished":
                self.stream.write("\n")
        elif kind in ("run_started", "trial_finished", "trial_pruned", "trial_failed", "final_training_started",
                      "run_finished"):
            self.stream.write(line + "\n")
        self.stream.flush()


def print_leaderboard(result: SearchResult, stream=None) -> None:
    stream = stream or sys.stdout

    def percent(value):
        return f"{100 * value:.2f}%" if value is not None else "-"

    print(f"{'rank':>4} {'trial':>5} {'status':<11} {'val acc':>8} {'params':>10} {'latency':>9} {'epochs':>6} "
          f"{'seconds':>7}  candidate", file=stream)
    for rank, row in enumerate(result.leaderboard[:LEADERBOARD_ROWS], start=1):
        latency = f"{row.latency_ms:.2f}ms" if row.latency_ms is not None else "-"
        params = f"{row.params:,}" if row.params is not None else "-"
        print(f"{rank:>4} {row.id:>5} {row.status:<11} {percent(row.val_accuracy):>8} {params:>10} "
              f"{latency:>9} {row.epochs:>6} {row.seconds:>7.1f}  {row.genotype_summary}", file=stream)
    best, summary, report = result.best, result.summary, result.test_report
    how = "retrained on train+validation" if best.retrained else "as trained during the search"
    print(f"\nBest: trial {best.trial_id} ({how}): test accuracy {percent(best.test_accuracy)} "
          f"(95% interval {percent(report.accuracy_low)} to {percent(report.accuracy_high)} on {report.images} "
          f"test images), {best.params:,} parameters, {best.latency_ms:.2f} ms CPU latency; "
          f"{sum(summary.trials.values())} candidates in {format_duration(summary.elapsed_seconds)}.",
          file=stream)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = SearchConfig(
        budget_seconds=args.budget, strategy=args.strategy, seed=args.seed, resolution=args.resolution,
        device=args.device, max_trials=args.max_trials,
        constraints=Constraints(max_params=args.max_params, max_model_mb=args.max_model_mb,
                                max_latency_ms=args.max_latency_ms),
    )
    try:
        result = run_search(config, args.data_dir, args.out, on_event=ProgressBar())
    except (DatasetError, BudgetTooSmall, SearchFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_leaderboard(result)
    for kind in ("bundle", "result"):
        print(f"Wrote {args.out}/{ARTIFACT_FILES[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
