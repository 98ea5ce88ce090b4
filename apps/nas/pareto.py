"""The accuracy vs CPU latency vs model size Pareto front of finished candidates."""

# (key, True when larger is better)
OBJECTIVES = (("val_accuracy", True), ("latency_ms", False), ("size_mb", False))


def dominates(a: dict, b: dict) -> bool:
    """True when a is at least as good as b on every objective and strictly better on one."""
    at_least_as_good = all((a[k] >= b[k]) if larger else (a[k] <= b[k]) for k, larger in OBJECTIVES)
    strictly_better = any((a[k] > b[k]) if larger else (a[k] < b[k]) for k, larger in OBJECTIVES)
    return at_least_as_good and strictly_better


def pareto_front(entries: list[dict]) -> list[dict]:
    """Entries no other entry dominates, most accurate first (O(n^2): searches have hundreds of trials at most).

    Args:
        entries: dicts with at least val_accuracy, latency_ms and size_mb (e.g. leaderboard rows).
    """
    front = [e for e in entries if not any(dominates(other, e) for other in entries if other is not e)]
    return sorted(front, key=lambda e: (-e["val_accuracy"], e["latency_ms"], e["size_mb"]))
