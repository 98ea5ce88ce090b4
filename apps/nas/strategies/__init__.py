"""Search strategies behind one ask/tell interface, registered by name."""

from apps.nas.strategies import evolution, oneshot, random_search, reinforce, tpe  # noqa: F401  (registers the strategies)
from apps.nas.strategies.base import Strategy
from apps.nas.strategies.registry import STRATEGIES, create_strategy, register

__all__ = ["STRATEGIES", "Strategy", "create_strategy", "register"]
