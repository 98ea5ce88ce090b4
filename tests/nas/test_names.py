"""The names the web layer takes from apps.nas.names are the engine's own."""

from apps.nas.backbones import BACKBONES
from apps.nas.blocks import BLOCKS
from apps.nas.names import BACKBONE_NAMES, BLOCK_TYPES, STRATEGIES, STRATEGY_SENTENCES
from apps.nas.space import SearchSpace
from apps.nas.strategies import STRATEGIES as REGISTERED_STRATEGIES


def test_every_block_the_builder_knows_is_named_and_searched_by_default():
    assert set(BLOCK_TYPES) == set(BLOCKS) == set(SearchSpace().block_types)


def test_every_registered_strategy_is_named_and_no_other():
    assert set(STRATEGIES) == set(REGISTERED_STRATEGIES)


def test_every_registered_strategy_is_explained_in_one_sentence():
    assert set(STRATEGY_SENTENCES) == set(REGISTERED_STRATEGIES)
    for sentence in STRATEGY_SENTENCES.values():
        assert sentence[0].isupper() and sentence.endswith(".") and sentence.count(". ") == 0


def test_every_backbone_is_named_and_searched_by_default():
    assert set(BACKBONE_NAMES) == set(BACKBONES) == set(SearchSpace().backbones)
