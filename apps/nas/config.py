"""What a search is asked to do: time budget, strategy, deployment limits and the space to search."""

from dataclasses import asdict, dataclass, field

from apps.nas.shares import TEST_FRACTION, VAL_FRACTION
from apps.nas.space import SearchSpace


@dataclass
class Constraints:
    """Deployment limits a candidate must meet to count; None means no limit."""

    max_params: int | None = None
    max_model_mb: float | None = None
    max_latency_ms: float | None = None  # CPU, batch 1

    def violations(self, *, params: int, size_mb: float, latency_ms: float) -> list[str]:
        """Plain-words reasons a candidate breaks the limits; empty when it meets them all."""
        reasons = []
        if self.max_params is not None and params > self.max_params:
            reasons.append(f"{params:,} parameters > limit {self.max_params:,}")
        if self.max_model_mb is not None and size_mb > self.max_model_mb:
            reasons.append(f"{size_mb:.2f} MB > limit {self.max_model_mb:g} MB")
        if self.max_latency_ms is not None and latency_ms > self.max_latency_ms:
            reasons.append(f"{latency_ms:.2f} ms CPU latency > limit {self.max_latency_ms:g} ms")
        return reasons


@dataclass
class SearchConfig:
    """Everything one search needs besides its data; every field but the budget has a safe default."""

    budget_seconds: float  # wall clock for the whole run: search, final retrain and export
    strategy: str = "auto"
    seed: int = 0
    constraints: Constraints = field(default_factory=Constraints)
    resolution: int | None = None  # None: chosen from the images by load_image_folder
    device: str = "auto"  # "auto" picks CUDA when there is one, else CPU
    space: SearchSpace = field(default_factory=SearchSpace)
    multi_fidelity: bool | None = None  # successive-halving early stopping; None: the strategy's default
    max_trials: int | None = None  # stop after this many trained candidates; None: the budget alone decides
    final_retrain: bool = True  # retrain the best candidate on train+validation when time allows
    export: bool = True  # ONNX, TorchScript and the bundle; off only to save time in tests
    workers: int = 1  # processes evaluating candidates at once (see apps.nas.slots)
    val_fraction: float = VAL_FRACTION
    test_fraction: float = TEST_FRACTION  # grown for small datasets: apps.nas.shares.fraction_to_test

    def __post_init__(self) -> None:
        if not self.budget_seconds > 0:
            raise ValueError(f"The budget must be a positive number of seconds, got {self.budget_seconds!r}.")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers!r}.")
        if self.max_trials is not None and self.max_trials < 1:
            raise ValueError(f"max_trials must be at least 1, got {self.max_trials!r}.")

    def to_dict(self) -> dict:
        """JSON-able copy, e.g. for result.json."""
        return asdict(self)
