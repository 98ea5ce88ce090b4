"""The state one run shares between its candidate loop (search.py) and its end (final.py): configuration, clock,
files, data splits, strategy, the best candidate so far, and the way out for events."""

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from apps.nas import data_parallel, events
from apps.nas.budget import EXPORT_SECONDS, FINISH_SECONDS, PRETRAINED_EXPORT_SECONDS, Budget, SearchControl
from apps.nas.build import is_pretrained
from apps.nas.checkpoint import SearchFiles
from apps.nas.config import SearchConfig
from apps.nas.data import DatasetSplits
from apps.nas.export import PARITY_IMAGES
from apps.nas.features import FeatureCache
from apps.nas.slots import STALE_SECONDS
from apps.nas.space import SearchSpace, with_epochs
from apps.nas.strategies import Strategy
from apps.nas.train import EpochStats, Trainer


def resolve_device(device: str) -> str:
    """ "auto" is CUDA when there is a GPU, else CPU; anything else is used as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@dataclass
class BestCandidate:
    """The best candidate so far, whose trained state the search keeps in SearchFiles.best_trial_path."""

    trial: int
    complete: bool  # trained to the end of its schedule (ranks above any stopped early)
    val_accuracy: float | None
    epochs: int
    epoch_seconds: float  # mean over its epochs, validation included
    pretrained: bool  # built on a pretrained backbone (slower to export)
    latency_ms: float  # CPU batch-1 latency as shipped: what scoring the test split costs per image
    step_seconds: float  # one training step (a batch), what processes sharing its final training divide

    @classmethod
    def from_curve(cls, trial: int, complete: bool, curve: list[dict], genotype: dict,
                   measured: dict) -> "BestCandidate":
        images_per_second = statistics.mean(stats["images_per_second"] for stats in curve)
        return cls(trial=trial, complete=complete, val_accuracy=curve[-1]["val_accuracy"], epochs=len(curve),
                   epoch_seconds=sum(stats["seconds"] for stats in curve) / len(curve),
                   pretrained=is_pretrained(genotype), latency_ms=measured["latency_ms"],
                   step_seconds=genotype["train"]["batch_size"] / images_per_second)


@dataclass(frozen=True)
class ExportCost:
    """What ending the run with a candidate costs: its export (slower for a pretrained one) and scoring the test
    split at its latency."""

    pretrained: bool
    latency_ms: float


class RunState:
    """One run's shared state. `splits` and `strategy` are set once the data is loaded and the study opened."""

    splits: DatasetSplits
    strategy: Strategy
    space: SearchSpace  # the configured space, fitted to the dataset's image side

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
        # While no candidate is best yet: the cost of ending the run with the one in training, which would be it.
        self.first_in_training: ExportCost | None = None
        self.features = FeatureCache(self.files.dir / "features")

    @property
    def finish_seconds(self) -> float:
        """Seconds kept for the end of the run: the test score, and the export of the best candidate so far (which
        checks the exported file on a sample of the test split)."""
        # A pretrained first candidate stopped by the search deadline is what the run ships: keeping only a small
        # network's end for it overran EuroSAT's 120 s budget by 20% (rl's fine-tuning start point).
        shipped = self.best or self.first_in_training
        if shipped is None:
            return FINISH_SECONDS + (EXPORT_SECONDS if self.config.export else 0.0)
        # The test pass, and with export the parity check's two passes (PyTorch and onnxruntime) over a sample.
        images = len(self.splits.test) + (2 * min(PARITY_IMAGES, len(self.splits.test)) if self.config.export else 0)
        scoring = shipped.latency_ms / 1000 * images
        if not self.config.export:
            return FINISH_SECONDS + scoring
        export = PRETRAINED_EXPORT_SECONDS if shipped.pretrained else EXPORT_SECONDS
        return FINISH_SECONDS + export + scoring

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

    def final_epoch_seconds(self, processes: int | None = None) -> float:
        """Estimated seconds of one final-retrain epoch on train+validation (0: no fully trained best yet), trained
        by `processes` (None: by as many as final_training_processes says)."""
        if not self.config.final_retrain or self.best is None or not self.best.complete:
            return 0.0
        shared_by = processes or self.final_training_processes()
        speedup = data_parallel.speedup(shared_by, self.best.step_seconds) if shared_by > 1 else 1.0
        return self.best.epoch_seconds * self.final_data_growth() / speedup

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

    def training_seconds_left(self) -> float:
        """Seconds a final training may still use: the rest of the budget less the end of the run."""
        return self.budget.remaining() - self.finish_seconds

    def out_of_final_time(self) -> bool:
        """The retrain must leave the end of the run its time: past this, the best candidate is exported as trained."""
        return self.budget.cancelled() or self.training_seconds_left() <= 0
