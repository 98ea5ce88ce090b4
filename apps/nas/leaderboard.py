"""The leaderboard of a search's candidates and its Pareto front, from the study's trials."""

import math
from dataclasses import dataclass, fields

from optuna.trial import FrozenTrial, TrialState

from apps.nas.build import is_pretrained
from apps.nas.names import BACKBONE_NAMES, BACKBONE_SIZES, BACKBONE_STAGES
from apps.nas.pareto import pareto_front
from apps.nas.results import Candidate, CrossValidation, CurvePoint, ParetoPoint

CURVE_KEYS = tuple(f.name for f in fields(CurvePoint))
# Leaderboard order: fully trained candidates first, then partially trained, then the rest.
STATUS_ORDER = {"complete": 0, "pruned": 1, "interrupted": 1, "infeasible": 2, "failed": 3, "running": 4}
# A network from scratch with at most this many blocks is "small" in its plain name (the recipe has 3), at most
# MEDIUM_NETWORK_BLOCKS "medium", else "large".
SMALL_NETWORK_BLOCKS = 3
MEDIUM_NETWORK_BLOCKS = 6


def validation_rank(val_accuracy: float | None, val_loss: float | None) -> tuple[float, float]:
    """How two candidates trained alike compare on validation, larger is better: the higher accuracy, then the lower
    log-loss. On a few dozen validation images several candidates tie on accuracy (6 of one run's at 36 of 37); the
    log-loss still tells apart the one that is right with more confidence."""
    return (val_accuracy if val_accuracy is not None else -math.inf,
            -val_loss if val_loss is not None else -math.inf)


@dataclass(frozen=True)
class Standing:
    """How a trained candidate ranks, larger is better: fully trained above stopped early; then its accuracy on the
    validation split, which every candidate was scored on; among equals there, the cross-validated accuracy (small
    data, apps.nas.cross_validation) of one that has it, above one that has not; then the validation log-loss. A
    cross-validated score is never set against another's hold-out score (on 30 validation images a lucky 100% would
    beat any honest estimate), and one order holds for all (comparing cross-validated pairs by that score and other
    pairs on validation would go round in circles: A over C over B over A). On a few dozen validation images many
    candidates tie (6 of one run's at 36 of 37): that is where cross-validation decides."""

    complete: bool
    val_accuracy: float | None
    val_loss: float | None
    cv_accuracy: float | None = None

    def beats(self, other: "Standing") -> bool:
        return self.rank > other.rank

    @property
    def rank(self) -> tuple[bool, float, float, float]:
        accuracy, loss = validation_rank(self.val_accuracy, self.val_loss)
        return self.complete, accuracy, self.cv_accuracy if self.cv_accuracy is not None else -math.inf, loss


STANDING_FIELDS = tuple(f.name for f in fields(Standing))


def plain_name(genotype: dict) -> str:
    """A short name anyone can read, e.g. "small photo network, last layers tuned" or "medium network from scratch";
    genotype_summary has the settings behind it."""
    if is_pretrained(genotype):
        finetune = genotype["finetune"]
        adapted = ("kept as it is" if finetune == 0 else "all of it tuned" if finetune >= BACKBONE_STAGES
                   else "last layers tuned")
        return f"{BACKBONE_SIZES[genotype['backbone']]} photo network, {adapted}"
    blocks = sum(stage["depth"] for stage in genotype["stages"])
    size = "small" if blocks <= SMALL_NETWORK_BLOCKS else "medium" if blocks <= MEDIUM_NETWORK_BLOCKS else "large"
    return f"{size} network from scratch"


def genotype_summary(genotype: dict) -> str:
    """One line for dashboards, e.g. "residual 32 > mbconv6 2x64 k5 se · relu · sgd lr 0.1 · 30 ep", or
    "EfficientNet-Lite0 frozen > linear head · 224 px · adamw lr 0.003 · bs 32 · 30 ep"."""
    train = genotype["train"]
    schedule = f"{train['optimizer']} lr {train['lr']:.3g} · bs {train['batch_size']} · {train['epochs']} ep"
    if is_pretrained(genotype):
        finetune = genotype["finetune"]
        adapted = ("frozen" if finetune == 0 else "fine-tuned" if finetune >= BACKBONE_STAGES
                   else f"last {finetune} stage{'s' if finetune > 1 else ''} fine-tuned")
        head = f"MLP head {genotype['head_hidden']}" if genotype["head_hidden"] else "linear head"
        return f"{BACKBONE_NAMES[genotype['backbone']]} {adapted} > {head} · {genotype['side']} px · {schedule}"
    stages = []
    for stage in genotype["stages"]:
        block = f"{stage['block']}{stage['expand']}" if stage["block"] == "mbconv" else stage["block"]
        depth = f"{stage['depth']}x" if stage["depth"] > 1 else ""
        kernel = f" k{stage['kernel']}" if stage["kernel"] != 3 else ""
        se = " se" if stage["se"] else ""
        stages.append(f"{block} {depth}{stage['width']}{kernel}{se}")
    return f"{' > '.join(stages)} · {genotype['activation']} · {schedule}"


def cross_validation(trial: FrozenTrial) -> CrossValidation | None:
    """The candidate's cross-validated score, where the search scored it so (apps.nas.cross_validation)."""
    scored = trial.user_attrs.get("cross_validation")
    return CrossValidation(**scored) if scored else None


def candidate(trial: FrozenTrial) -> Candidate:
    """Everything reported about one candidate, from what the search recorded on its trial."""
    attrs = trial.user_attrs
    curve = [CurvePoint(**{key: stats[key] for key in CURVE_KEYS}) for stats in attrs.get("curve", [])]
    measured = attrs.get("measurements", {})
    genotype = attrs.get("genotype")
    return Candidate(
        id=trial.number,
        status=attrs.get("status", "running"),
        val_accuracy=curve[-1].val_accuracy if curve else None,
        params=measured.get("params"),
        flops=measured.get("flops"),
        latency_ms=measured.get("latency_ms"),
        size_mb=measured.get("size_mb"),
        seconds=attrs.get("seconds", 0.0),
        epochs=len(curve),
        planned_epochs=genotype["train"]["epochs"] if genotype else None,
        reason=attrs.get("reason", ""),
        genotype_summary=genotype_summary(genotype) if genotype else "",
        name=plain_name(genotype) if genotype else "",
        genotype=genotype,
        origin=attrs.get("origin", "search"),
        curve=curve,
        worker=attrs.get("worker", ""),
        slot=attrs.get("slot", 0),
        started_at=attrs.get("started_at"),
        finished_at=attrs.get("finished_at"),
        retry_of=attrs.get("retry_of"),
        cross_validation=cross_validation(trial),
    )


def standing(row: Candidate) -> Standing:
    folded = row.cross_validation
    return Standing(complete=row.status == "complete", val_accuracy=row.val_accuracy,
                    val_loss=row.curve[-1].val_loss if row.curve else None,
                    cv_accuracy=folded.accuracy if folded else None)


def leaderboard(trials: list[FrozenTrial]) -> list[Candidate]:
    """Every candidate the search tried, best first (not a start point still queued when the run ended): by status,
    then by Standing.rank; the first trained first among equals."""
    rows = [candidate(trial) for trial in trials if trial.state != TrialState.WAITING]

    def rank(row: Candidate) -> tuple:
        return STATUS_ORDER[row.status], *(-value for value in standing(row).rank[1:]), row.id

    return sorted(rows, key=rank)


def finished_pareto_front(rows: list[Candidate]) -> list[ParetoPoint]:
    """Accuracy vs latency vs size front of the fully trained, validated candidates."""
    finished = [row for row in rows if row.status == "complete" and row.val_accuracy is not None]
    return [ParetoPoint(id=row.id, val_accuracy=row.val_accuracy, latency_ms=row.latency_ms, size_mb=row.size_mb,
                        params=row.params, genotype_summary=row.genotype_summary) for row in pareto_front(finished)]
