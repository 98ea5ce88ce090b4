"""A search small enough for tests: tiny networks from scratch, few epochs, no export unless a test asks for it."""

from apps.nas.config import SearchConfig
from apps.nas.space import SearchSpace

TINY_SPACE = SearchSpace(
    widths=(8, 16), stem_widths=(8,), expand_ratios=(2,), max_stages=2, max_depth=1,
    batch_sizes=(16, 32), min_epochs=2, max_epochs=4, backbones=(),
)


def tiny_config(**overrides) -> SearchConfig:
    """SearchConfig on TINY_SPACE, random search, no export: override any field."""
    options = {"budget_seconds": 30.0, "strategy": "random", "space": TINY_SPACE, "export": False, **overrides}
    return SearchConfig(**options)


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
