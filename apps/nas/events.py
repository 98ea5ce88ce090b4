"""Typed events a search reports through its `on_event` callback, each a JSON-able dict with a "type" key.

Every event carries the run's clock: elapsed_seconds, progress (0..1 of the budget) and eta_seconds, so a
dashboard can draw a progress bar from any single event. trial_id is the candidate's number in the search
(0, 1, 2, ...); epoch_finished events of the final retrain have phase "final" and trial_id of the candidate.
"""

from dataclasses import asdict, dataclass, field
from typing import ClassVar


@dataclass(kw_only=True)
class Event:
    """Fields every event carries; filled by the search's reporter just before the event is sent."""

    type: ClassVar[str]
    elapsed_seconds: float = 0.0
    progress: float = 0.0
    eta_seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-able dict with the event's type first."""
        return {"type": self.type, **asdict(self)}


@dataclass(kw_only=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    strategy: str
    budget_seconds: float
    device: str
    seed: int
    resumed: bool
    dataset: dict  # num_images, num_classes, class_names, input_shape, split sizes, skipped files
    constraints: dict
    multi_fidelity: bool


@dataclass(kw_only=True)
class SupernetProgress(Event):
    """The one-shot strategy's supernet (apps.nas.supernet) as it learns, every few steps and once at the end."""

    type: ClassVar[str] = "supernet_progress"
    step: int
    total_steps: int  # planned; the phase may stop earlier (finished says so)
    entropy: float  # mean normalised entropy of the decisions: 1 undecided, 0 certain
    # One entry per decision: {"name", "label", "options": [readable labels], "probabilities": [...]}.
    decisions: list[dict]
    train_loss: float | None  # of the last weight step (None before the first)
    finished: bool = False
    reason: str = ""  # why the phase ended, on the last event


@dataclass(kw_only=True)
class TrialStarted(Event):
    type: ClassVar[str] = "trial_started"
    trial_id: int
    name: str  # apps.nas.leaderboard.plain_name
    genotype_summary: str
    genotype: dict
    epochs: int
    params: int
    flops: int
    latency_ms: float
    size_mb: float
    device: str
    worker: str = ""  # host:pid of the process that trains it ("" when the caller did not say)
    resumed_from_epoch: int = 0  # > 0 when a killed run continues this candidate from its checkpoint


@dataclass(kw_only=True)
class EpochFinished(Event):
    type: ClassVar[str] = "epoch_finished"
    trial_id: int
    phase: str  # "search" or "final"
    epoch: int  # 1-based
    total_epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    images_per_second: float
    lr: float
    eval_images_per_second: float | None = None  # see apps.nas.train.EpochStats


@dataclass(kw_only=True)
class TrialFinished(Event):
    type: ClassVar[str] = "trial_finished"
    trial_id: int
    val_accuracy: float | None  # None: auto's recipe trained alone on train+validation (nothing held out)
    epochs: int
    seconds: float
    params: int
    flops: int
    latency_ms: float
    size_mb: float
    # On small data, the k-fold cross-validated accuracy over train+validation (apps.nas.cross_validation); None: not
    # cross-validated. It decides between candidates tied on validation (leaderboard.Standing).
    cv_accuracy: float | None = None


@dataclass(kw_only=True)
class TrialPruned(Event):
    type: ClassVar[str] = "trial_pruned"
    trial_id: int
    reason: str
    val_accuracy: float | None
    epochs: int
    seconds: float
    infeasible: bool = False  # broke a deployment limit, so it was never trained


@dataclass(kw_only=True)
class TrialFailed(Event):
    type: ClassVar[str] = "trial_failed"
    trial_id: int
    reason: str
    seconds: float


@dataclass(kw_only=True)
class NewBest(Event):
    type: ClassVar[str] = "new_best"
    trial_id: int
    val_accuracy: float
    name: str
    genotype_summary: str
    params: int
    latency_ms: float
    cv_accuracy: float | None = None  # as TrialFinished's


@dataclass(kw_only=True)
class FinalTrainingStarted(Event):
    type: ClassVar[str] = "final_training_started"
    trial_id: int
    name: str
    genotype_summary: str
    retrain: bool  # False: too little time (or cancelled), the candidate is exported as trained
    epochs: int
    reason: str
    recipe_only: bool = False  # the budget was too short to search: the recipe trains alone (the run's only one)


@dataclass(kw_only=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    status: str  # "finished" or "cancelled"
    best_trial_id: int
    val_accuracy: float | None
    test_accuracy: float
    trials: dict  # count per status
    files: dict = field(default_factory=dict)
