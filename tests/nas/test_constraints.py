from types import SimpleNamespace

import pytest

import apps.nas.measure
import apps.nas.search
from apps.nas import SearchFailed
from apps.nas.build import build
from apps.nas.config import Constraints
from apps.nas.measure import count_flops, count_params
from apps.nas.pareto import pareto_front
from apps.nas.search import run_search
from tests.nas.tiny_search import EventLog, tiny_config


def fake_latency_ms(model, input_shape) -> float:
    """Deterministic stand-in for the CPU timer: 1 ms per 1,000 parameters."""
    return count_params(model) / 1000


def test_candidates_over_the_limits_are_never_reported_as_best(make_image_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(apps.nas.measure, "cpu_latency_ms", fake_latency_ms)
    limits = Constraints(max_params=1500, max_latency_ms=1.2)
    log = EventLog()
    result = run_search(tiny_config(constraints=limits, max_trials=5), make_image_folder(), tmp_path,
                        on_event=log)

    skipped = [row for row in result.leaderboard if row.status == "infeasible"]
    assert skipped, "the tiny space has candidates above 1,500 parameters; some must have been skipped"
    assert all(row.epochs == 0 and "deployment limits" in row.reason for row in skipped)
    assert all(e["infeasible"] for e in log.of_type("trial_pruned") if e["epochs"] == 0 and e["seconds"] == 0)
    trained = [row for row in result.leaderboard if row.epochs > 0]
    assert all(row.params <= 1500 and row.latency_ms <= 1.2 for row in trained)
    assert result.best.params <= 1500 and result.best.latency_ms <= 1.2
    assert {e["trial_id"] for e in log.of_type("new_best")} <= {row.id for row in trained}


def flops_latency_ms(model, input_shape) -> float:
    """Deterministic stand-in for the CPU timer: 1 ms per million FLOPs, so two forward passes cost twice one."""
    return count_flops(model, input_shape) / 1e6


FLIPPED_RECIPE = {  # a point of the tiny space that averages each answer with the mirror image's
    "stem_width": 8, "activation": "relu",
    "stages": [{"block": "plain", "depth": 1, "width": 16, "kernel": 3, "se": False, "expand": 1}],
    "train": {"optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4, "dropout": 0.1, "batch_size": 16,
              "augment": 0.5, "flip": True, "label_smoothing": 0.1, "epochs": 2},
}


def test_a_latency_limit_holds_for_the_exported_model_with_test_time_flips(make_image_folder, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(apps.nas.measure, "cpu_latency_ms", flops_latency_ms)
    monkeypatch.setattr(apps.nas.search, "baseline_genotype", lambda: FLIPPED_RECIPE)  # auto asks it first
    folder = make_image_folder()
    shape = (1, 12, 12)  # 10 x 12 pictures are trained at 12 x 12
    bare = flops_latency_ms(build(FLIPPED_RECIPE, shape, 3), shape)
    limit = 1.5 * bare  # the network alone is under it, the network as shipped (twice, for the flip) over
    result = run_search(tiny_config(strategy="auto", export=True, max_trials=1, budget_seconds=60,
                                    constraints=Constraints(max_latency_ms=limit)), folder, tmp_path)

    assert tuple(result.summary.input_shape) == shape
    recipe = next(row for row in result.leaderboard if row.id == 0)
    assert recipe.genotype == FLIPPED_RECIPE and recipe.status == "infeasible" and "latency" in recipe.reason
    assert recipe.latency_ms == pytest.approx(2 * bare)
    assert result.best.latency_ms <= limit  # measured again on the exported model


def test_limits_nothing_can_meet_give_a_clear_error(make_image_folder, tmp_path):
    with pytest.raises(SearchFailed, match="Relax the limits"):
        run_search(tiny_config(constraints=Constraints(max_params=10), budget_seconds=4), make_image_folder(),
                   tmp_path)


def test_constraints_say_which_limit_is_broken():
    limits = Constraints(max_params=1000, max_model_mb=0.5, max_latency_ms=2.0)
    assert limits.violations(params=900, size_mb=0.4, latency_ms=1.0) == []
    reasons = limits.violations(params=2000, size_mb=0.4, latency_ms=3.0)
    assert len(reasons) == 2 and "parameters" in reasons[0] and "latency" in reasons[1]


def point(accuracy, latency, size, name=""):
    return SimpleNamespace(val_accuracy=accuracy, latency_ms=latency, size_mb=size, name=name)


def test_pareto_front_keeps_only_undominated_candidates_most_accurate_first():
    fast = point(0.90, 1.0, 0.1, "fast")
    accurate = point(0.99, 5.0, 2.0, "accurate")
    dominated = point(0.89, 2.0, 0.2, "dominated")  # slower, bigger and less accurate than fast
    small = point(0.95, 6.0, 0.05, "small")  # worst latency but the smallest: still a trade-off
    assert [p.name for p in pareto_front([fast, accurate, dominated, small])] == ["accurate", "small", "fast"]


def test_pareto_front_keeps_exact_ties():
    a, b = point(0.9, 1.0, 0.1, "a"), point(0.9, 1.0, 0.1, "b")
    assert len(pareto_front([a, b])) == 2
