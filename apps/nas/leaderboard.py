"""The leaderboard of a search's candidates and its Pareto front, from the study's trials."""

import math
from dataclasses import dataclass, fields
from functools import cmp_to_key

from optuna.trial import FrozenTrial, TrialState

from apps.nas.build import is_pretrained
from apps.nas.names import BACKBONE_NAMES, BACKBONE_STAGES
from apps.nas.pareto import pareto_front
from apps.nas.results import Candidate, CrossValidation, CurvePoint, ParetoPoint

CURVE_KEYS = tuple(f.name for f in fields(CurvePoint))
# Leaderboard order: fully trained candidates first, then partially trained, then the rest.
STATUS_ORDER = {"complete": 0, "pruned": 1, "interrupted": 1, "infeasible": 2, "failed": 3, "running": 4}


def validation_rank(val_accuracy: float | None, val_loss: float | None) -> tuple[float, float]:
    """How two candidates trained alike compare on validation, larger is better: the higher accuracy, then the lower
    log-loss. On a few dozen validation images several candidates tie on accuracy (6 of one run's at 36 of 37); the
    log-loss still tells apart the one that is right with more confidence."""
    return (val_accuracy if val_accuracy is not None else -math.inf,
            -val_loss if val_loss is not None else -math.inf)


@dataclass(frozen=True)
class Standing:
    """How a trained candidate compares with another, like with like: fully trained above stopped early; then, where
    both were cross-validated (small data, apps.nas.cross_validation), by that score, else by the validation split,
    which every candidate was scored on (a cross-validated score is not set against another's hold-out score: on 30
    validation images a lucky 100% would beat any honest estimate). Each by validation_rank."""

    complete: bool
    val_accuracy: float | None
    val_loss: float | None
    cv_accuracy: float | None = None
    cv_loss: float | None = None

    def beats(self, other: "Standing") -> bool:
        return self.rank_against(other) > other.rank_against(self)

    def rank_against(self, other: "Standing") -> tuple[bool, float, float]:
        both_folded = self.cv_accuracy is not None and other.cv_accuracy is not None
        accuracy, loss = (self.cv_accuracy, self.cv_loss) if both_folded else (self.val_accuracy, self.val_loss)
        return self.complete, *validation_rank(accuracy, loss)


STANDING_FIELDS = tuple(f.name for f in fields(Standing))


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
                    cv_accuracy=folded.accuracy if folded else None, cv_loss=folded.loss if folded else None)


def leaderboard(trials: list[FrozenTrial]) -> list[Candidate]:
    """Every candidate the search tried, best first (not a start point still queued when the run ended): by status,
    then as Standing compares them; the first trained first among equals."""
    rows = [candidate(trial) for trial in trials if trial.state != TrialState.WAITING]

    def order(a: Candidate, b: Candidate) -> int:
        if STATUS_ORDER[a.status] != STATUS_ORDER[b.status]:
            return STATUS_ORDER[a.status] - STATUS_ORDER[b.status]
        first, second = standing(a), standing(b)
        return -1 if first.beats(second) else 1 if second.beats(first) else a.id - b.id

    return sorted(rows, key=cmp_to_key(order))


def finished_pareto_front(rows: list[Candidate]) -> list[ParetoPoint]:
    """Accuracy vs latency vs size front of the fully trained, validated candidates."""
    finished = [row for row in rows if row.status == "complete" and row.val_accuracy is not None]
    return [ParetoPoint(id=row.id, val_accuracy=row.val_accuracy, latency_ms=row.latency_ms, size_mb=row.size_mb,
                        params=row.params, genotype_summary=row.genotype_summary) for row in pareto_front(finished)]
