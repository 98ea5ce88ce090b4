"""The state one run shares between its candidate loop (search.py) and its end (final.py): configuration, budget
and time policy (apps.nas.clock), files, data splits, strategy, the best candidate so far, and the way out for
events."""

import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch

from apps.nas import data_parallel, events
from apps.nas.budget import Budget, SearchControl
from apps.nas.checkpoint import SearchFiles
from apps.nas.clock import BestCandidate, ExportCost, RunClock
from apps.nas.config import SearchConfig
from apps.nas.cross_validation import CrossValidationPlan
from apps.nas.data import DatasetSplits, ImageDataset, load_image_folder, split_dataset
from apps.nas.features import FeatureCache
from apps.nas.measure import backbone_costs
from apps.nas.shares import fraction_to_test
from apps.nas.slots import STALE_SECONDS
from apps.nas.space import SearchSpace, with_epochs
from apps.nas.strategies import Strategy
from apps.nas.train import EpochStats, Trainer

# A slot re-reads the best candidate of every slot this often while it trains: the best sets the search's deadline
# and whether a candidate can still finish. Read between candidates only, a slot that drew a 35-epoch network
# before any slot had finished one trained it to the end of the budget (MNIST-5k, 300 s: 245 s), where one process
# stopped it after an epoch.
BEST_POLL_SECONDS = 1.0


def resolve_device(device: str) -> str:
    """ "auto" is CUDA when there is a GPU, else CPU; anything else is used as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class RunState:
    """One run's shared state. `splits` and `strategy` are set once the data is loaded and the study opened."""

    splits: DatasetSplits
    strategy: Strategy
    space: SearchSpace  # the configured space, fitted to the dataset's image side
    cross_validation: CrossValidationPlan | None  # how candidates are scored on small data, None: on validation

    def __init__(self, config: SearchConfig, work_dir: Path, on_event: Callable[[dict], None] | None,
                 control: SearchControl | None, *, slot: int = 0, worker: str = "", storage_url: str | None = None,
                 stale_seconds: float = STALE_SECONDS):
        """Args: as run_search's; slot: 0 for the coordinator, which alone keeps the run's state, 1, 2, ... for the
        processes that evaluate candidates beside it (see apps.nas.slots)."""
        self.config = config
        self.work_dir = work_dir
        self.files = SearchFiles(work_dir)
        saved = self.files.state()
        self.phase = saved["phase"]  # "search", "recipe" (auto trains its recipe alone) or "final"
        self.control = control
        self.budget = Budget(config.budget_seconds, used_before=saved["seconds_used"], control=control)
        self.slot = slot
        self.worker = worker
        self.storage_url = storage_url
        self.stale_seconds = stale_seconds
        # The study's name in a shared database: one per run folder.
        self.study_name = "search" if storage_url is None else f"run-{work_dir.name}"
        self.on_event = on_event
        self.device = resolve_device(config.device)
        self.best: BestCandidate | None = None
        self.best_read_at = -math.inf  # time.monotonic() of the last refresh_best
        # While no candidate is best yet: the cost of ending the run with the one in training, which would be it.
        self.first_in_training: ExportCost | None = None
        self.features = FeatureCache(self.files.dir / "features")
        self.clock = RunClock(self)

    @property
    def study(self):
        return self.strategy.study

    def emit(self, event: events.Event) -> None:
        self.budget.confirm_ownership()
        event.elapsed_seconds = round(self.budget.elapsed(), 3)
        finished = isinstance(event, events.RunFinished)  # may end before the budget (max_trials, cancel)
        event.progress = 1.0 if finished else round(self.budget.progress(), 4)
        event.eta_seconds = 0.0 if finished else round(self.budget.remaining(), 1)
        if self.slot == 0:
            self.files.save_state(seconds_used=self.budget.elapsed(), phase=self.phase)
        if self.on_event is not None:
            self.on_event(event.to_dict())

    def emit_epoch(self, trial_id: int, phase: str, total_epochs: int, stats: EpochStats) -> None:
        self.emit(events.EpochFinished(trial_id=trial_id, phase=phase, total_epochs=total_epochs, **asdict(stats)))

    def split_sizes(self) -> dict[str, int]:
        """Images in each split, for events and the summary."""
        return {name: len(getattr(self.splits, name)) for name in ("train", "val", "test")}

    def final_data_growth(self) -> float:
        """How many times larger train+validation is than train: what an epoch of a final training costs more."""
        return (len(self.splits.train) + len(self.splits.val)) / len(self.splits.train)

    def final_training_processes(self) -> int:
        """How many processes the best candidate's final training is planned on: every slot of the run where they
        can share it (see apps.nas.data_parallel: CPU workers, a network trained from scratch whose steps are long
        enough to gain from it), else one."""
        shared = (self.config.workers > 1 and self.strategy.parallel and self.device == "cpu"
                  and self.best is not None and not self.best.pretrained
                  and data_parallel.speedup(self.config.workers, self.best.step_seconds) >= data_parallel.MIN_SPEEDUP)
        return self.config.workers if shared else 1

    def final_trainer(self, genotype: dict, epochs: int, *, should_stop: Callable[[], bool],
                      group: data_parallel.TrainingGroup | None = None) -> Trainer:
        """A trainer of the final training on train+validation, built alike in every process of its group."""
        return Trainer(with_epochs(genotype, epochs), self.splits.train_and_val, None, device=self.device,
                       seed=self.config.seed, should_stop=should_stop, features=self.features, group=group)

    def refresh_best(self) -> None:
        """Take the best candidate of every slot, at most every BEST_POLL_SECONDS (it is a file read)."""
        if time.monotonic() - self.best_read_at >= BEST_POLL_SECONDS:
            self.best = self.load_best()
            self.best_read_at = time.monotonic()

    def load_best(self) -> BestCandidate | None:
        """The best candidate kept so far, by any slot or an earlier attempt of this run (None before the first)."""
        best = self.files.best_record()
        if best is None:
            return None
        if self.best is not None and self.best.trial == best["trial"]:
            return self.best
        trial = self.study.trials[best["trial"]]
        return BestCandidate.from_curve(best["trial"], best["complete"], trial.user_attrs["curve"],
                                        trial.user_attrs["genotype"], trial.user_attrs["measurements"])

    def load_data(self, data: ImageDataset | str | Path) -> ImageDataset:
        """The dataset, split as every slot of this search splits it, and the space fitted to its images."""
        dataset = data if isinstance(data, ImageDataset) else load_image_folder(data, self.config.resolution)
        self.splits = split_dataset(dataset, seed=self.config.seed, val_fraction=self.config.val_fraction,
                                    test_fraction=fraction_to_test(len(dataset), self.config.test_fraction))
        self.space = self.fitted_space(min(dataset.input_shape[1:]))
        self.cross_validation = CrossValidationPlan.for_splits(self.splits, seed=self.config.seed)
        return dataset

    def fitted_space(self, side: int) -> SearchSpace:
        """The configured space for images of this side, without the backbones that alone break a size limit (a
        microcontroller's, say): every candidate built on them would be measured only to be skipped."""
        space = self.config.space.for_images(side)
        limits = self.config.constraints
        fitting = tuple(name for name in space.backbones
                        if not limits.violations(**backbone_costs(name), latency_ms=0.0))
        return replace(space, backbones=fitting)

    def dataset_summary(self, dataset: ImageDataset) -> dict:
        return {
            "num_images": len(dataset), "num_classes": dataset.num_classes, "class_names": dataset.class_names,
            "input_shape": list(dataset.input_shape),
            "splits": self.split_sizes(),
            "skipped": [list(item) for item in dataset.skipped],
        }
