"""A search small enough for tests: tiny networks from scratch, few epochs, no export unless a test asks for it."""

from collections.abc import Callable
from dataclasses import replace

import optuna
import pytest

from apps.nas.config import SearchConfig
from apps.nas.space import SearchSpace
from apps.nas.train import Trainer

TINY_SPACE = SearchSpace(
    widths=(8, 16), stem_widths=(8,), expand_ratios=(2,), max_stages=2, max_depth=1,
    batch_sizes=(16, 32), min_epochs=2, max_epochs=4, backbones=(),
)


def tiny_config(**overrides) -> SearchConfig:
    """SearchConfig on TINY_SPACE, random search, no export: override any field."""
    options = {"budget_seconds": 30.0, "strategy": "random", "space": TINY_SPACE, "export": False, **overrides}
    return SearchConfig(**options)


def journal(path) -> optuna.storages.JournalStorage:
    """A study storage in a file, as a search's work folder keeps it (apps.nas.checkpoint)."""
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


class EventLog(list):
    """on_event callback that keeps every event."""

    def __call__(self, event: dict) -> None:
        self.append(event)

    def of_type(self, kind: str) -> list[dict]:
        return [event for event in self if event["type"] == kind]


def assert_scored_on_the_test_split(result) -> None:
    """The test figure counts the test split's images, matches its confusion matrix and sits in its interval."""
    report = result.test_report
    right = sum(report.confusion[k][k] for k in range(len(report.confusion)))
    assert report.images == result.summary.splits["test"] == sum(row.support for row in report.per_class) > 0
    assert report.accuracy == right / report.images == result.best.test_accuracy
    assert report.accuracy_low < report.accuracy_high
    assert report.accuracy_low <= report.accuracy <= report.accuracy_high
    assert len(result.misclassified) == min(report.images - right, 48)


def epochs_take(monkeypatch: pytest.MonkeyPatch, seconds: float, of: Callable[[dict], bool]) -> None:
    """Make every epoch of the candidates whose genotype `of` accepts report that it took `seconds`: the search
    plans with those figures, as on a slow CPU, while the test runs fast."""
    run_epoch = Trainer.run_epoch

    def timed(trainer: Trainer):
        stats = run_epoch(trainer)
        return replace(stats, seconds=seconds) if of(trainer.genotype) else stats

    monkeypatch.setattr(Trainer, "run_epoch", timed)
