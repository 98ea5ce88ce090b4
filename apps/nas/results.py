"""What a search hands back, as typed records: the engine writes them, result.json and the API carry them, and the
pages read nothing else.

Plain dataclasses of JSON types, importable without PyTorch or Optuna, so the web layer declares the same shape
in its API schema. A genotype stays a plain dict (see apps.nas.space).
"""

import math
from dataclasses import asdict, dataclass, field

# Two-sided 95% normal quantile for the Wilson interval of the test accuracy.
Z_95 = 1.959964


@dataclass
class CurvePoint:
    """One training epoch of a candidate; val_* are None when nothing was held out."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


@dataclass
class CrossValidation:
    """A candidate trained once per fold of train+validation and scored on the images each fold held out (see
    apps.nas.cross_validation): on small data, what the search chose it by."""

    accuracy: float
    loss: float  # cross-entropy, which breaks ties on accuracy
    folds: int
    images: int  # train+validation: every image was scored once, by the model that did not learn from it


@dataclass
class Candidate:
    """One row of the leaderboard: a candidate's status, accuracy, cost, time, learning curve and reason."""

    id: int
    status: str  # complete, pruned, interrupted, infeasible, failed, running
    val_accuracy: float | None
    params: int | None  # None: it failed before it was measured
    flops: int | None
    latency_ms: float | None  # CPU, batch 1, as it would be exported (test-time flips included)
    size_mb: float | None
    seconds: float
    epochs: int
    planned_epochs: int | None
    reason: str
    genotype_summary: str  # its settings on one line (apps.nas.leaderboard.genotype_summary)
    genotype: dict | None
    # "probe", "recipe", "finetune", "supernet" (a strategy's start points) or "search" (see Strategy.origin);
    # results stored before origins were recorded have none.
    origin: str = "search"
    curve: list[CurvePoint] = field(default_factory=list)
    name: str = ""  # a short name anyone can read (apps.nas.leaderboard.plain_name); "" when it has no genotype
    # Which process trained it (SearchConfig.workers > 1 runs several at once), and when, in Unix seconds.
    worker: str = ""
    slot: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    retry_of: int | None = None  # the candidate of a dead worker that this one continued
    cross_validation: CrossValidation | None = None  # None: scored on the validation split alone


@dataclass
class ParetoPoint:
    """A fully trained candidate that no other beats on accuracy, latency and size at once."""

    id: int
    val_accuracy: float
    latency_ms: float
    size_mb: float
    params: int
    genotype_summary: str


@dataclass
class ClassScores:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # test images of this class


@dataclass
class TestReport:
    """The final model on the test split, scored once."""

    accuracy: float
    images: int
    # 95% Wilson score interval of the accuracy: what the test split's size lets one claim.
    accuracy_low: float
    accuracy_high: float
    macro_f1: float
    per_class: list[ClassScores]
    confusion: list[list[int]]  # rows: true class, columns: predicted class

    __test__ = False  # not a pytest test class, despite its name


def accuracy_interval(right: int, images: int) -> tuple[float, float]:
    """95% Wilson score interval of an accuracy of right/images (sound for small splits and near 0% or 100%)."""
    if images == 0:
        return 0.0, 1.0
    share = right / images
    z2 = Z_95**2
    centre = (share + z2 / (2 * images)) / (1 + z2 / images)
    half = Z_95 * math.sqrt(share * (1 - share) / images + z2 / (4 * images**2)) / (1 + z2 / images)
    # Rounded to 4 places: the bounds are shown as whole percents, and 100% must stay exactly 1.0.
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


@dataclass
class Parity:
    """The exported ONNX model against PyTorch on the test images."""

    images: int
    prediction_agreement: float
    max_abs_logit_diff: float


@dataclass
class BestModel:
    """The model the run exports, its scores and what it costs to deploy."""

    trial_id: int
    genotype: dict
    genotype_summary: str
    name: str  # a short name anyone can read (apps.nas.leaderboard.plain_name)
    val_accuracy: float | None  # None: trained on train+validation from the start, nothing held out
    test_accuracy: float
    retrained: bool  # trained again on train+validation after the search
    final_epochs: int
    params: int
    flops: int
    latency_ms: float  # CPU, batch 1, one thread: the exported model, test-time flips included
    size_mb: float
    # On small data, the estimate the search chose it by, over every image the test did not keep: beside the test
    # figure, a second, independent look at the same network (see apps.nas.cross_validation).
    cross_validation: CrossValidation | None = None


@dataclass
class Summary:
    """Facts about the run; the flat ones also go into the model card's search table."""

    status: str  # finished or cancelled
    strategy: str
    seed: int
    device: str
    multi_fidelity: bool
    budget_seconds: float
    elapsed_seconds: float
    candidates_trained: int
    epochs_trained: int
    training_seconds: float  # the candidates' training (the recipe's, when it trained alone), not a final retrain's
    best_trial: int
    best_val_accuracy: float | None
    retrained: bool
    recipe_only: bool  # auto trained its recipe alone: too short a budget to search
    input_shape: list[int]  # (C, H, W) the model takes
    trials: dict[str, int]  # candidates by status
    constraints: dict[str, float | None]
    splits: dict[str, int]  # images in train, val, test
    onnx_parity: Parity | None = None  # None when export is off
    continued: bool = False  # the best candidate's own training continued on train+validation (no retrain)


@dataclass
class Mistake:
    """A test image the model got wrong."""

    path: str
    true: str
    predicted: str
    confidence: float


@dataclass
class Baseline:
    """The simple method the model is compared with, on the same test images."""

    method: str
    test_accuracy: float


@dataclass
class SearchResult:
    """The outcome of run_search; to_dict() is what result.json holds."""

    best: BestModel
    test_report: TestReport
    leaderboard: list[Candidate]  # best first
    pareto_front: list[ParetoPoint]
    summary: Summary
    baseline: Baseline
    misclassified: list[Mistake] = field(default_factory=list)  # the most confidently wrong first
    files: dict[str, str] = field(default_factory=dict)  # exported files by artifact name (empty when export is off)

    def to_dict(self) -> dict:
        return asdict(self)
