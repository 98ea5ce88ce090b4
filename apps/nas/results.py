"""What a search hands back: the leaderboard of every candidate, the Pareto front, the best model's report."""

from dataclasses import asdict, dataclass, field

from optuna.trial import FrozenTrial

from apps.nas.pareto import pareto_front

CURVE_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")
# Leaderboard order: fully trained candidates first, then partially trained, then the rest.
STATUS_ORDER = {"complete": 0, "pruned": 1, "interrupted": 1, "infeasible": 2, "failed": 3, "running": 4}


def genotype_summary(genotype: dict) -> str:
    """One line for dashboards, e.g. "residual 32 > mbconv6 2x64 k5 se · relu · sgd lr 0.1 · 30 ep"."""
    stages = []
    for stage in genotype["stages"]:
        block = f"{stage['block']}{stage['expand']}" if stage["block"] == "mbconv" else stage["block"]
        depth = f"{stage['depth']}x" if stage["depth"] > 1 else ""
        kernel = f" k{stage['kernel']}" if stage["kernel"] != 3 else ""
        se = " se" if stage["se"] else ""
        stages.append(f"{block} {depth}{stage['width']}{kernel}{se}")
    train = genotype["train"]
    return (f"{' > '.join(stages)} · {genotype['activation']} · {train['optimizer']} lr {train['lr']:.3g}"
            f" · bs {train['batch_size']} · {train['epochs']} ep")


def leaderboard_row(trial: FrozenTrial) -> dict:
    """Everything reported about one candidate: status, accuracy, cost, time, learning curve, reason."""
    attrs = trial.user_attrs
    curve = attrs.get("curve", [])
    measured = attrs.get("measurements", {})
    genotype = attrs.get("genotype")
    return {
        "id": trial.number,
        "status": attrs.get("status", "running"),
        "val_accuracy": curve[-1]["val_accuracy"] if curve else None,
        "params": measured.get("params"),
        "flops": measured.get("flops"),
        "latency_ms": measured.get("latency_ms"),
        "size_mb": measured.get("size_mb"),
        "seconds": attrs.get("seconds", 0.0),
        "epochs": len(curve),
        "planned_epochs": genotype["train"]["epochs"] if genotype else None,
        "curve": [{key: stats[key] for key in CURVE_KEYS} for stats in curve],
        "reason": attrs.get("reason", ""),
        "genotype_summary": genotype_summary(genotype) if genotype else "",
        "genotype": genotype,
    }


def leaderboard(trials: list[FrozenTrial]) -> list[dict]:
    """Rows of every candidate, best first."""
    rows = [leaderboard_row(trial) for trial in trials]
    return sorted(rows, key=lambda row: (STATUS_ORDER[row["status"]], -(row["val_accuracy"] or 0.0), row["id"]))


def finished_pareto_front(rows: list[dict]) -> list[dict]:
    """Accuracy vs latency vs size front of the fully trained, validated candidates (without learning curves)."""
    finished = [{k: v for k, v in row.items() if k != "curve"} for row in rows
                if row["status"] == "complete" and row["val_accuracy"] is not None]
    return pareto_front(finished)


@dataclass
class SearchResult:
    """The outcome of run_search; to_dict() is what result.json holds."""

    best: dict  # trial_id, genotype, genotype_summary, val/test accuracy, params, flops, latency_ms, size_mb
    test_report: dict  # accuracy, per-class precision/recall/F1, confusion matrix (test split, scored once)
    leaderboard: list[dict]
    pareto_front: list[dict]
    files: dict = field(default_factory=dict)  # exported files by name (empty when export is off)
    summary: dict = field(default_factory=dict)  # status, strategy, device, budget, elapsed, trial counts, ...
    misclassified: list[dict] = field(default_factory=list)  # test images it got wrong: path, true, predicted
    baseline: dict = field(default_factory=dict)  # the simple method it is compared with: method, test_accuracy

    def to_dict(self) -> dict:
        return asdict(self)
