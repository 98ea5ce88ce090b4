"""Genotypes are plain JSON that always build a working network, whatever the space draws."""

import json
import random

import optuna
import pytest
import torch

from apps.nas.blocks import ACTIVATIONS, BLOCKS
from apps.nas.build import build
from apps.nas.leaderboard import plain_name
from apps.nas.names import BACKBONE_STAGES
from apps.nas.space import SearchSpace, baseline_genotype, probe_genotype

optuna.logging.set_verbosity(optuna.logging.WARNING)


def forward_checked(genotype: dict, input_shape=(1, 8, 8), num_classes=4) -> torch.Tensor:
    genotype = json.loads(json.dumps(genotype))  # the network must come from the JSON alone
    model = build(genotype, input_shape, num_classes).eval()
    images = torch.randint(0, 256, (2, *input_shape)).float()
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (2, num_classes)
    assert torch.isfinite(logits).all()
    return logits


def single_stage_genotype(block: str, **stage) -> dict:
    genotype = baseline_genotype()
    genotype["stages"] = [{"block": block, "depth": 2, "width": 16, "kernel": 3, "se": False,
                           "expand": 4 if block == "mbconv" else 1, **stage}]
    return genotype


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("se", [False, True])
def test_every_block_builds_and_runs_with_and_without_squeeze_excite(block, se):
    forward_checked(single_stage_genotype(block, se=se, kernel=5))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    forward_checked({**single_stage_genotype("residual"), "activation": activation})


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 12, 12), (3, 28, 20), (1, 64, 64)])
def test_it_adapts_to_resolution_channels_and_class_count(input_shape):
    forward_checked(baseline_genotype(), input_shape, num_classes=7)


def test_random_genotypes_round_trip_through_json_and_build():
    space = SearchSpace()
    rng = random.Random(0)
    for _ in range(12):
        genotype = space.sample(rng)
        assert json.loads(json.dumps(genotype)) == genotype
        forward_checked(genotype, input_shape=(3, 10, 10))


def test_the_baseline_is_a_point_of_the_default_space():
    space = SearchSpace()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.to_params(baseline_genotype(epochs=12)))
    assert space.suggest(study.ask()) == baseline_genotype(epochs=12)


def test_to_params_then_suggest_gives_back_the_same_genotype():
    space = SearchSpace()
    rng = random.Random(1)
    genotypes = [space.sample(rng) for _ in range(20)]
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for genotype in genotypes:
        study.enqueue_trial(space.to_params(genotype))
    for genotype in genotypes:
        trial = study.ask()
        assert space.suggest(trial) == genotype
        study.tell(trial, 0.5)


def test_suggest_asks_only_the_parameters_the_genotype_uses():
    space = SearchSpace()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        trial = study.ask()
        genotype = space.suggest(trial)
        assert trial.params == space.to_params(genotype)
        study.tell(trial, 0.0)


def test_mutate_changes_one_thing_and_stays_in_the_space():
    space = SearchSpace(block_types=("residual", "mbconv"), max_stages=2, backbones=())
    rng = random.Random(2)
    parent = space.sample(rng)
    for _ in range(15):
        child = space.mutate(parent, rng)
        assert child != parent
        changed = {key for key, value in space.to_params(child).items() if space.to_params(parent).get(key) != value}
        removed = set(space.to_params(parent)) - set(space.to_params(child))
        assert changed or removed
        assert {stage["block"] for stage in child["stages"]} <= {"residual", "mbconv"}
        assert 1 <= len(child["stages"]) <= 2
        forward_checked(child)
        parent = child


def test_space_toggles_restrict_what_is_drawn():
    space = SearchSpace(block_types=("dwsep",), activations=("silu",), squeeze_excite=False, allow_flip=False,
                        backbones=())
    rng = random.Random(4)
    for _ in range(20):
        genotype = space.sample(rng)
        assert genotype["activation"] == "silu"
        assert all(stage["block"] == "dwsep" and not stage["se"] for stage in genotype["stages"])
        assert genotype["train"]["flip"] is False


def test_pretrained_candidates_draw_only_the_backbones_and_fine_tuning_the_space_allows():
    space = SearchSpace(backbones=("lite0",), finetune_stages=(0, 3), head_hidden=(0,))
    drawn = [space.sample(random.Random(seed)) for seed in range(40)]
    pretrained = [genotype for genotype in drawn if "backbone" in genotype]
    assert {genotype["backbone"] for genotype in pretrained} == {"lite0"}
    assert {genotype["finetune"] for genotype in pretrained} == {0, 3}
    assert all(genotype["head_hidden"] == 0 for genotype in pretrained)
    # A frozen backbone's features are cached per image and view: nothing but the mirror may augment them.
    assert all(genotype["train"]["augment"] == 0.0 and "backbone_lr" not in genotype["train"]
               for genotype in pretrained if genotype["finetune"] == 0)
    assert any("stages" in genotype for genotype in drawn)  # from-scratch networks stay in the space


def test_pretrained_candidates_upsample_small_images_at_most_four_times():
    space = SearchSpace(pretrained_sides=(96, 128, 224))
    assert space.for_images(8).pretrained_sides == (96,)  # the smallest side, whatever it takes
    assert space.for_images(28).pretrained_sides == (96,)
    assert space.for_images(32).pretrained_sides == (96, 128)
    assert space.for_images(64).pretrained_sides == (96, 128, 224)


def test_it_refuses_unknown_choices():
    with pytest.raises(ValueError, match="transformer"):
        SearchSpace(block_types=("residual", "transformer"))


@pytest.mark.parametrize(("image_side", "probe_side"), [(28, 96), (64, 128), (100, 224), (224, 224), (None, 224)])
def test_the_probe_enlarges_small_images_about_twice_and_large_ones_to_the_largest_side(image_side, probe_side):
    assert probe_genotype(SearchSpace(), image_side)["side"] == probe_side


def test_every_candidate_has_a_short_plain_name_that_tells_kinds_and_sizes_apart():
    deep = baseline_genotype()
    deep["stages"] = [{**stage, "depth": 3} for stage in deep["stages"]]
    probe = probe_genotype(SearchSpace())
    tuned = {**probe, "backbone": "lite2", "finetune": 3}

    assert plain_name(baseline_genotype()) == "small network from scratch"
    assert plain_name(deep) == "large network from scratch"
    assert plain_name(probe) == "small photo network, kept as it is"
    assert plain_name(tuned) == "large photo network, last layers tuned"
    assert plain_name({**probe, "finetune": BACKBONE_STAGES}) == "small photo network, all of it tuned"
    # Drawn from the space, each is named without the jargon its settings carry.
    space = SearchSpace()
    for seed in range(30):
        words = set(plain_name(space.sample(random.Random(seed))).replace(",", "").split())
        assert "network" in words and not words & {"lr", "bs", "ep", "px", "EfficientNet-Lite0", "mbconv"}
