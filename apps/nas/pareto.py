"""The accuracy vs CPU latency vs model size Pareto front of finished candidates."""

# (attribute, True when larger is better)
OBJECTIVES = (("val_accuracy", True), ("latency_ms", False), ("size_mb", False))


def dominates(a, b) -> bool:
    """True when a is at least as good as b on every objective and strictly better on one."""
    at_least_as_good = all((getattr(a, k) >= getattr(b, k)) if larger else (getattr(a, k) <= getattr(b, k))
                           for k, larger in OBJECTIVES)
    strictly_better = any((getattr(a, k) > getattr(b, k)) if larger else (getattr(a, k) < getattr(b, k))
                          for k, larger in OBJECTIVES)
    return at_least_as_good and strictly_better


def pareto_front(entries: list) -> list:
    """Entries no other entry dominates, most accurate first (O(n^2): searches have hundreds of trials at most).

    Args:
        entries: objects with val_accuracy, latency_ms and size_mb attributes (e.g. leaderboard Candidates).
    """
    front = [e for e in entries if not any(dominates(other, e) for other in entries if other is not e)]
    return sorted(front, key=lambda e: (-e.val_accuracy, e.latency_ms, e.size_mb))
