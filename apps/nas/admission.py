"""Whether a drawn candidate may train, decided before any training: what it costs as it would be exported (a
limit broken is a skip), and whether a CPU can train it in the search time left."""

from apps.nas.build import build, is_pretrained
from apps.nas.features import cacheable
from apps.nas.measure import deployment_costs
from apps.nas.names import BACKBONE_STAGES
from apps.nas.state import RunState


def measure(run: RunState, genotype: dict) -> dict:
    """Parameters, FLOPs, CPU latency and size of a freshly built model (before any training), as it would be
    exported: a limit checked here holds for the shipped model, test-time flips included."""
    shape = run.splits.train.input_shape
    return deployment_costs(build(genotype, shape, run.splits.train.num_classes), genotype, shape)


def too_slow(run: RunState, genotype: dict, measured: dict) -> str | None:
    """Why a slow candidate cannot train in the search time left on a CPU (RunClock.too_slow), or None.

    The epoch is estimated from the batch-1 latency measured for the limits: a fully fine-tuned EfficientNet-Lite2
    on a thousand photos at 224 px needs minutes per epoch on a small CPU, and would take the whole budget
    before it could be compared. A pretrained candidate whose frozen stages' output is cached trains only its
    head and last stages on it (its one pass to compute them stops early when it cannot finish, see
    FeatureCache.features), and on a GPU the CPU latency says nothing about training time: neither is checked.
    """
    if run.device != "cpu" or trains_on_cache(run, genotype):
        return None
    return run.clock.too_slow(measured["latency_ms"], flips=genotype["train"]["flip"])


def trains_on_cache(run: RunState, genotype: dict) -> bool:
    """Whether the Trainer will run this candidate's frozen stages once per image and view (Trainer.cached)."""
    if not is_pretrained(genotype) or genotype["finetune"] == BACKBONE_STAGES:
        return False
    train, val = run.splits.train, run.splits.val
    model = build(genotype, train.input_shape, train.num_classes)
    views = 2 if genotype["train"]["flip"] else 1
    return cacheable(model, train.input_shape, len(train) + len(val), views)
