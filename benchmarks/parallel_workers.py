"""Parallel workers: one search on one worker process vs the same search on two, side by side in one script.

    .venv/bin/python -m benchmarks.parallel_workers --data mnist5k --budget 120 --strategy random --seeds 0 1
    .venv/bin/python -m benchmarks.parallel_workers --data mnist5k --budget 300 --scratch --seeds 0 1
    .venv/bin/python -m benchmarks.parallel_workers --data mnist5k --budget 300 --scratch --search-only --seeds 0 1

Each process trains with one thread (two processes, one core each, is what a 2-core machine gives two workers). The
second process is a slot of the first's search (apps.nas.slots), sharing its work folder and study, as a second
Dramatiq worker would: started with the search and its imports done, as a worker waits for messages, it is opened
when the search opens its slots and then loads the dataset's training file as slot_execute does. Random search draws
trial n from the seed and n alone, so both sides propose the same candidates and the count measures throughput.
Prints a markdown table: candidates evaluated (see EVALUATED), those the clock stopped, epochs trained, when the
last candidate ended (the search's end: a run keeps the rest for its final training), the final test accuracy, and
the wall time; goal: two workers evaluate at least 1.8x as many candidates as one, with at least the same accuracy.
First it measures the machine's own ceiling: the recipe trained for a few epochs alone, then twice at once in two
processes (two vCPUs of a virtual machine may share less than two cores' worth of compute), then by two processes
together, as a run's slots share its final training (apps.nas.data_parallel). --scratch leaves pretrained
networks out of the space: on small grayscale images most of them are too slow to train on a CPU thread, and a
search of one or two candidates compares luck, not throughput. --search-only leaves the final training out: a run
keeps most of its budget for the final training of its best candidate, a reserve that grows with that candidate's
epochs (the pair's two processes train it together, so they keep less), so a pair that finds a better candidate
sooner also stops searching sooner; without it both sides search for the whole budget and the count measures the
search's throughput alone.
"""

import argparse
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import torch

from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset, load_image_folder
from apps.nas.data_parallel import TrainingGroup
from apps.nas.search import run_search, run_trial_slot
from apps.nas.space import SearchSpace, baseline_genotype, with_epochs
from apps.nas.train import Trainer
from benchmarks.datasets import digits_folder, mnist5k_folder, shared_photos_folder

DATASETS = {"digits": digits_folder, "mnist5k": mnist5k_folder, "eurosat": lambda: shared_photos_folder("eurosat")}
SPAWN = multiprocessing.get_context("spawn")
CEILING_EPOCHS = 3
# A candidate is evaluated when it trained to the end of its schedule or successive halving judged it; one the
# clock stopped (the search's deadline, or "would not finish") told the search nothing of its worth.
EVALUATED = ("complete", "pruned")


def recipe_training_seconds(training_file: Path, meeting_file: Path | None = None, rank: int = 0) -> float:
    """Seconds of CEILING_EPOCHS epochs of the hand-designed recipe on the whole dataset, on one thread; with a
    meeting file, as member `rank` of a group of two sharing that training (apps.nas.data_parallel)."""
    torch.set_num_threads(1)
    dataset = ImageDataset.load(training_file)
    group = TrainingGroup(meeting_file, rank=rank, size=2) if meeting_file else None
    trainer = Trainer(with_epochs(baseline_genotype(), CEILING_EPOCHS), dataset, None, device="cpu", seed=0,
                      group=group)
    started = time.monotonic()
    trainer.fit()
    seconds = time.monotonic() - started
    if group is not None:
        group.close()
    return seconds


def machine_ceiling(training_file: Path) -> tuple[float, float, float]:
    """The recipe's training seconds alone, how many times one training's work two processes do at once, and how
    many times faster two processes train it together."""
    with SPAWN.Pool(1) as pool:
        alone = pool.apply(recipe_training_seconds, (training_file,))
    with SPAWN.Pool(2) as pool:
        pair = pool.map(recipe_training_seconds, [training_file, training_file])
        meeting_file = training_file.with_name("meeting")
        shared = pool.starmap(recipe_training_seconds, [(training_file, meeting_file, rank) for rank in (0, 1)])
    return alone, 2 * alone / max(pair), alone / max(shared)


def slot_process(config: SearchConfig, training_file: Path, work_dir: Path, slot: int, opened: Event) -> None:
    torch.set_num_threads(1)
    opened.wait()
    with tempfile.TemporaryDirectory() as scratch:
        dataset = ImageDataset.load(training_file, Path(scratch) / "pixels.npy")
        run_trial_slot(config, dataset, work_dir, slot=slot, worker=f"slot-{slot}")


def search(training_file: Path, workers: int, budget: float, strategy: str, seed: int, space: SearchSpace,
           final_retrain: bool) -> dict:
    config = SearchConfig(budget_seconds=budget, strategy=strategy, seed=seed, workers=workers, space=space,
                          final_retrain=final_retrain)
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        opened = {slot: SPAWN.Event() for slot in range(1, workers)}
        processes = [SPAWN.Process(target=slot_process, args=(config, training_file, work_dir, slot, event))
                     for slot, event in opened.items()]
        for process in processes:
            process.start()
        started = time.time()
        dataset = ImageDataset.load(training_file, work_dir / "pixels.npy")
        result = run_search(config, dataset, work_dir, open_slot=lambda slot: opened[slot].set(), worker="slot-0")
        seconds = time.time() - started
        for event in opened.values():  # a search that never opened its slots: they find it ended and return
            event.set()
        for process in processes:
            process.join()
    ended = [row.finished_at for row in result.leaderboard if row.finished_at is not None]
    return {"candidates": sum(row.status in EVALUATED for row in result.leaderboard),
            "stopped": sum(row.status == "interrupted" for row in result.leaderboard),
            "epochs": sum(row.epochs for row in result.leaderboard),
            "search_seconds": max(ended, default=started) - started,
            "test_accuracy": result.best.test_accuracy, "seconds": seconds}


def mean_and_each(values: list[float], mean_spec: str, each_spec: str = "") -> str:
    """A table cell: the mean over seeds, then each seed's value in brackets."""
    return f"{statistics.mean(values):{mean_spec}} ({', '.join(format(value, each_spec) for value in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist5k", choices=sorted(DATASETS))
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--scratch", action="store_true", help="networks from scratch only")
    parser.add_argument("--search-only", action="store_true", help="no final training: the budget is the search's")
    args = parser.parse_args()
    space = SearchSpace(backbones=()) if args.scratch else SearchSpace()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        training_file = Path(scratch) / "training.npz"
        load_image_folder(DATASETS[args.data]()).save(training_file)
        alone, ceiling, shared = machine_ceiling(training_file)
        runs = {workers: [search(training_file, workers, args.budget, args.strategy, seed, space,
                                 not args.search_only)
                          for seed in args.seeds]
                for workers in (1, 2)}
    networks = "networks from scratch" if args.scratch else "the default space"
    final = ", no final training" if args.search_only else ""
    print(f"\n{args.data}, {args.strategy}, {networks}{final}, {args.budget:g} s, seeds {args.seeds}, "
          "one thread per process\n")
    print("| workers | candidates evaluated (per seed) | stopped by the clock (per seed) | epochs trained (per seed) "
          "| search ended at s (per seed) | test accuracy % (per seed) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for workers, results in runs.items():
        print(f"| {workers} | {mean_and_each([r['candidates'] for r in results], '.1f')} | "
              f"{mean_and_each([r['stopped'] for r in results], '.1f')} | "
              f"{mean_and_each([r['epochs'] for r in results], '.1f')} | "
              f"{mean_and_each([r['search_seconds'] for r in results], '.0f', '.0f')} | "
              f"{mean_and_each([100 * r['test_accuracy'] for r in results], '.2f', '.2f')} | "
              f"{statistics.mean(r['seconds'] for r in results):.0f} |")
    ratio = {key: statistics.mean(r[key] for r in runs[2]) / statistics.mean(r[key] for r in runs[1])
             for key in ("candidates", "epochs", "search_seconds")}
    print(f"\ntwo workers evaluated {ratio['candidates']:.2f}x as many candidates as one, "
          f"{ratio['epochs']:.2f}x as many epochs, in {ratio['search_seconds']:.2f}x the search time")
    print(f"the machine's ceiling: two trainings at once did {ceiling:.2f}x the work of one "
          f"({CEILING_EPOCHS} epochs of the recipe took {alone:.1f} s alone); two processes trained it together "
          f"{shared:.2f}x as fast as one")


if __name__ == "__main__":
    main()
