"""Random search: every candidate drawn independently (the baseline every other strategy must beat)."""

from apps.nas.strategies.base import Strategy
from apps.nas.strategies.registry import register


@register
class RandomSearch(Strategy):
    name = "random"
