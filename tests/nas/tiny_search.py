"""A search small enough for tests: tiny networks, few epochs, no export unless a test asks for it."""

from apps.nas.config import SearchConfig
from apps.nas.space import SearchSpace

TINY_SPACE = SearchSpace(
    widths=(8, 16), stem_widths=(8,), expand_ratios=(2,), max_stages=2, max_depth=1,
    batch_sizes=(16, 32), min_epochs=2, max_epochs=4,
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
