"""Zero-cost proxies score any from-scratch candidate, the same way every time, and rank broken networks last."""

import math
import random

import pytest
import torch
from torch import nn

from apps.nas.blocks import ACTIVATIONS, BLOCKS
from apps.nas.build import build
from apps.nas.space import SearchSpace, baseline_genotype, probe_genotype
from apps.nas.zero_cost import NASWOT_BATCH, PROXIES, naswot, score_genotype, scoring_batch


@pytest.fixture
def batch(tiny_dataset):
    return scoring_batch(tiny_dataset.images, seed=0)


def narrow(genotype: dict, width: int) -> dict:
    """The genotype with its stem and every stage `width` channels wide."""
    return {**genotype, "stem_width": width, "stages": [{**stage, "width": width} for stage in genotype["stages"]]}


def test_the_batch_is_naswots_size_and_the_same_for_a_seed(tiny_dataset):
    batch = scoring_batch(tiny_dataset.images, seed=3)
    assert len(batch) == NASWOT_BATCH < len(tiny_dataset)
    assert torch.equal(batch, scoring_batch(tiny_dataset.images, seed=3))
    assert not torch.equal(batch, scoring_batch(tiny_dataset.images, seed=4))


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_a_score_is_the_same_for_the_same_seed_and_leaves_torchs_random_state_alone(proxy, batch):
    genotype = SearchSpace(backbones=()).sample(random.Random(0))
    rng_state = torch.get_rng_state()
    first = score_genotype(genotype, batch, 3, proxy=proxy, seed=5)
    assert first == score_genotype(genotype, batch, 3, proxy=proxy, seed=5)
    assert math.isfinite(first)
    assert torch.equal(torch.get_rng_state(), rng_state)


def test_naswot_depends_on_the_initialisation_seed(batch):
    genotype = baseline_genotype()
    assert score_genotype(genotype, batch, 3, seed=0) != score_genotype(genotype, batch, 3, seed=1)


def recipe_network(batch: torch.Tensor, *, dead: bool = False) -> nn.Module:
    """The recipe's network for the batch's images; dead: every convolution's weights zero, so no unit switches."""
    model = build(baseline_genotype(), tuple(batch.shape[1:]), 3)
    if dead:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.Conv2d):
                    module.weight.zero_()
    return model


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_a_network_whose_units_never_switch_on_ranks_below_a_healthy_one(proxy, batch):
    score = PROXIES[proxy]
    assert score(recipe_network(batch, dead=True), batch.float()) < score(recipe_network(batch), batch.float())


def test_naswot_finds_nothing_to_tell_apart_in_a_dead_network(batch):
    assert naswot(recipe_network(batch, dead=True), batch.float()) == -math.inf


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_a_one_channel_network_ranks_below_the_recipe(proxy, batch):
    recipe = baseline_genotype()
    assert score_genotype(narrow(recipe, 1), batch, 3, proxy=proxy) < score_genotype(recipe, batch, 3, proxy=proxy)


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_block_and_activation_gets_a_finite_score_from_both_proxies(block, activation, batch):
    genotype = {**baseline_genotype(), "activation": activation,
                "stages": [{"block": block, "depth": 2, "width": 16, "kernel": 3, "se": True,
                            "expand": 4 if block == "mbconv" else 1}]}
    # naswot is -inf unless the hooks on this activation read codes that tell the images apart.
    assert math.isfinite(score_genotype(genotype, batch, 3, proxy="naswot"))
    assert math.isfinite(score_genotype(genotype, batch, 3, proxy="synflow"))


def test_pretrained_candidates_are_not_scored(batch):
    with pytest.raises(ValueError, match="from scratch"):
        score_genotype(probe_genotype(SearchSpace()), batch, 3)


def test_an_unknown_proxy_is_refused_with_the_choices(batch):
    with pytest.raises(ValueError, match="synflow"):
        score_genotype(baseline_genotype(), batch, 3, proxy="jacov")
