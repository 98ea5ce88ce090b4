"""The one-shot strategy: its supernet learns by gradient, finds what a task needs, respects the skip cap and the
latency limit, stops once it has decided, and is not trained again when a search resumes.

Everything runs on the CPU with tiny shapes and fixed seeds.
"""

import optuna
import pytest
import torch
from torch.nn import functional as F

from apps.nas import supernet_training
from apps.nas.build import Network
from apps.nas.config import Constraints
from apps.nas.data import ImageDataset
from apps.nas.search import run_search
from apps.nas.space import SearchSpace, baseline_genotype, with_epochs
from apps.nas.strategies import create_strategy, oneshot
from apps.nas.strategies.base import fits_space
from apps.nas.strategies.oneshot import SUPERNET_ATTR, OneShotArchitectures, architecture, max_skipped_layers
from apps.nas.supernet import Operation, SuperNet, supernet_decisions
from apps.nas.supernet_training import ENTROPY_STOP, SupernetResult, train_supernet
from tests.nas.tiny_search import EventLog, tiny_config

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Two classes of 16x16 images that differ only in how two bright dots GAP pixels apart are placed: side by side or
# one above the other. The stem's 3x3 and a 3x3 layer see 5x5 pixels, never both dots, so only the 7x7 layer can
# tell the classes apart.
GAP = 6
KERNEL_SPACE = SearchSpace(block_types=("plain",), kernel_sizes=(3, 7), widths=(16,), stem_widths=(16,),
                           max_stages=1, max_depth=1, backbones=())
DEEP_SPACE = SearchSpace(block_types=("plain", "residual"), kernel_sizes=(3,), widths=(8, 16), stem_widths=(8,),
                         max_stages=3, max_depth=3, backbones=())
WIDTH_SPACE = SearchSpace(block_types=("plain",), kernel_sizes=(3,), widths=(8, 96), stem_widths=(8,),
                          max_stages=1, max_depth=1, backbones=())


def dot_pairs(count: int, seed: int, side: int = 16) -> ImageDataset:
    """Class 0: two dots side by side; class 1: one above the other; on faint noise."""
    generator = torch.Generator().manual_seed(seed)

    def position(high: int) -> int:
        return int(torch.randint(0, high, (), generator=generator))

    images = torch.randint(0, 40, (count, 1, side, side), generator=generator).to(torch.uint8)
    labels = torch.arange(count) % 2
    for index, label in enumerate(labels.tolist()):
        if label == 0:
            y, x = position(side), position(side - GAP)
            images[index, 0, y, [x, x + GAP]] = 255
        else:
            y, x = position(side - GAP), position(side)
            images[index, 0, [y, y + GAP], x] = 255
    return ImageDataset(images, labels, ["side by side", "one above the other"], [""] * count, [])


def in_memory(space: SearchSpace, seed: int = 0):
    return create_strategy("oneshot", storage=optuna.storages.InMemoryStorage(), space=space, seed=seed)


def prepare(strategy, train: ImageDataset, val: ImageDataset, *, emit=lambda event: None,
            latency_limit_ms: float | None = None) -> None:
    strategy.prepare(train=train, val=val, device="cpu", constraints=Constraints(max_latency_ms=latency_limit_ms),
                     seconds_left=lambda: 600.0, should_stop=lambda: False, emit=emit)


def skipped_layers(genotype: dict) -> int:
    return sum(DEEP_SPACE.max_depth - stage["depth"] for stage in genotype["stages"])


def test_an_architecture_step_reaches_every_decision_and_only_the_sampled_weights(tiny_dataset):
    supernet = SuperNet(DEEP_SPACE, tiny_dataset.input_shape, tiny_dataset.num_classes, stem_width=8,
                        activation="relu")
    path = supernet.sample_path(torch.Generator().manual_seed(0))
    F.cross_entropy(supernet(tiny_dataset.images[:16].float(), path), tiny_dataset.labels[:16]).backward()

    for name, logits in supernet.logits.items():
        assert logits.grad is not None and logits.grad.abs().sum() > 0, name
    chosen = int(path["s0_op"].argmax())
    first_slot = supernet.stages[0].slots[0]
    assert all(p.grad is not None for p in first_slot[chosen].parameters())
    assert all(p.grad is None for other, op in enumerate(first_slot) if other != chosen for p in op.parameters())


def test_a_path_computes_the_network_derived_from_it_with_the_supernets_weights(tiny_dataset):
    space = SearchSpace(block_types=("residual", "mbconv"), kernel_sizes=(3, 5), widths=(8, 12, 16),
                        stem_widths=(16,), expand_ratios=(2, 3), max_stages=3, max_depth=2, backbones=())
    supernet = SuperNet(space, tiny_dataset.input_shape, tiny_dataset.num_classes, stem_width=16,
                        activation="relu").eval()
    # Stage 1: residual 3x3 at width 8, two layers (from the 16-wide stem: the shortcut needs its projection);
    # stage 2: mbconv 5x5 x3 at 16, one; stage 3: residual 5x5 at 12, one.
    choices = {"s0_op": 0, "s0_width": 0, "s0_layer2": 1, "s1_op": 5, "s1_width": 2, "s1_layer2": 0,
               "s2_op": 1, "s2_width": 1, "s2_layer2": 0}
    path = {name: F.one_hot(torch.tensor(option), len(supernet.logits[name])).float()
            for name, option in choices.items()}
    genotype = OneShotArchitectures(space).genotype(choices)
    assert [(s["block"], s["kernel"], s["expand"], s["width"], s["depth"]) for s in genotype["stages"]] == [
        ("residual", 3, 1, 8, 2), ("mbconv", 5, 3, 16, 1), ("residual", 5, 1, 12, 1)]
    network = Network(genotype, tiny_dataset.input_shape, tiny_dataset.num_classes).eval()
    shared = supernet.state_dict()

    def supernet_name(name: str) -> str:  # stages.<stage>.<layer>.<rest> -> stages.<stage>.slots.<layer>.<op>.<rest>
        if not name.startswith("stages."):
            return name
        _, stage, layer, rest = name.split(".", 3)
        return f"stages.{stage}.slots.{layer}.{choices[f's{stage}_op']}.{rest}"

    network.load_state_dict({name: shared[supernet_name(name)][tuple(slice(0, size) for size in tensor.shape)]
                             for name, tensor in network.state_dict().items()})
    images = tiny_dataset.images[:8].float()
    with torch.no_grad():
        assert torch.allclose(supernet(images, path), network(images), atol=1e-5)


def test_the_search_finds_the_larger_kernel_a_task_needs():
    strategy = in_memory(KERNEL_SPACE)
    log = EventLog()
    prepare(strategy, dot_pairs(256, seed=1), dot_pairs(128, seed=2), emit=lambda event: log(event.to_dict()))

    _, genotype = strategy.ask()
    assert genotype["stages"][0]["kernel"] == 7
    assert fits_space(KERNEL_SPACE, genotype)
    progress = log.of_type("supernet_progress")
    assert progress[-1]["finished"] and 0 <= progress[-1]["entropy"] < progress[0]["entropy"] <= 1
    operation = next(d for d in progress[-1]["decisions"] if d["name"] == "s0_op")
    assert operation["options"] == ["plain 3x3", "plain 7x7"]
    assert operation["probabilities"][1] > operation["probabilities"][0]
    assert sum(operation["probabilities"]) == pytest.approx(1, abs=1e-3)


def test_no_candidate_skips_more_layers_than_the_cap_even_when_skipping_dominates():
    strategy = in_memory(DEEP_SPACE)
    names = [d.name for d in strategy.architectures.decisions]
    skip_dominates = {name: [8.0, -8.0] if "_layer" in name else [0.0] * len(d.options)
                      for name, d in zip(names, strategy.architectures.decisions, strict=True)}
    strategy.study.set_user_attr(SUPERNET_ATTR, {"logits": skip_dominates})
    cap = max_skipped_layers(DEEP_SPACE)
    assert cap == 3  # half of the 6 optional layer slots (3 stages, depth up to 3)

    proposals = []
    for _ in range(12):
        trial, genotype = strategy.ask()
        strategy.tell(trial, "complete", 0.5)
        proposals.append(genotype)
    assert skipped_layers(proposals[0]) == cap  # the derived architecture: skips up to the cap, no further
    assert all(skipped_layers(genotype) <= cap for genotype in proposals)
    assert all(fits_space(DEEP_SPACE, genotype) for genotype in proposals)
    assert len({str(genotype) for genotype in proposals}) == len(proposals)  # never one already tried


def test_a_tight_latency_limit_moves_the_architecture_to_cheaper_options_and_a_loose_one_changes_nothing(
        tiny_dataset):
    def wide_probability(latency_limit_ms: float | None) -> float:
        result = train_supernet(WIDTH_SPACE, tiny_dataset, tiny_dataset, stem_width=8, activation="relu",
                                device="cpu", seed=0, should_stop=lambda: False, latency_limit_ms=latency_limit_ms,
                                steps=60)
        return F.softmax(torch.tensor(result.logits["s0_width"]), 0)[1].item()

    unconstrained = wide_probability(None)
    assert wide_probability(1000.0) == unconstrained
    tight = wide_probability(0.01)
    assert tight < 0.5 and tight < unconstrained


def test_the_supernet_stops_once_its_distribution_has_settled(tiny_dataset, monkeypatch):
    monkeypatch.setattr(supernet_training, "ARCH_LR", 0.5)  # decides within a few architecture steps
    log = []
    result = train_supernet(DEEP_SPACE, tiny_dataset, tiny_dataset, stem_width=8, activation="relu", device="cpu",
                            seed=0, should_stop=lambda: False, steps=200, emit=log.append)
    assert result.steps < 200
    assert result.entropy < ENTROPY_STOP
    assert log[-1].finished and log[-1].reason == result.reason == "the architecture distribution settled early"


def test_a_supernet_cut_short_by_its_time_share_still_spends_most_of_it_learning_the_architecture(tiny_dataset):
    log = []
    result = train_supernet(DEEP_SPACE, tiny_dataset, tiny_dataset, stem_width=8, activation="relu", device="cpu",
                            seed=0, should_stop=lambda: False, seconds=2.0, steps=100_000, emit=log.append)
    assert result.planned_steps < 100_000  # re-planned to what two seconds buy, warm-up included
    assert result.steps <= result.planned_steps
    assert result.entropy < 1.0  # a warm-up planned for 100,000 steps would never have let the logits move
    assert log[-1].total_steps == result.planned_steps


@pytest.mark.parametrize(("seconds_left", "epochs"), [(10_000.0, 30), (400.0, 20), (10.0, 5)])
def test_candidates_train_fewer_epochs_when_the_recipes_would_not_fit_in_the_time_left(
        tiny_dataset, monkeypatch, seconds_left, epochs):
    space = SearchSpace(widths=(8,), stem_widths=(8,), batch_sizes=(16,), max_stages=1, max_depth=1, min_epochs=5,
                        backbones=())  # tiny_dataset: 72 images, 4 batches of 16
    undecided = {d.name: [0.0] * len(d.options) for d in supernet_decisions(space)}
    timed = SupernetResult(logits=undecided, steps=10, planned_steps=10, seconds=1.0, entropy=1.0, reason="",
                           path_step_seconds=2.5)  # 10 s an epoch
    monkeypatch.setattr(oneshot, "train_supernet", lambda *args, **kwargs: timed)
    strategy = in_memory(space)
    strategy.prepare(train=tiny_dataset, val=tiny_dataset, device="cpu", constraints=Constraints(),
                     seconds_left=lambda: seconds_left, should_stop=lambda: False, emit=lambda event: None)

    _, genotype = strategy.ask()
    assert genotype["train"]["epochs"] == epochs  # the recipe's 30, half the time left, the space's minimum
    assert fits_space(space, genotype)


def test_the_derived_architecture_is_a_start_point_whose_schedule_may_stretch_to_the_recipes(tiny_dataset, monkeypatch):
    space = SearchSpace(widths=(8, 16), stem_widths=(8,), batch_sizes=(16,), max_stages=1, max_depth=1, min_epochs=5,
                        backbones=())
    undecided = {d.name: [0.0] * len(d.options) for d in supernet_decisions(space)}
    timed = SupernetResult(logits=undecided, steps=10, planned_steps=10, seconds=1.0, entropy=1.0, reason="",
                           path_step_seconds=2.5)
    monkeypatch.setattr(oneshot, "train_supernet", lambda *args, **kwargs: timed)
    strategy = in_memory(space)
    strategy.prepare(train=tiny_dataset, val=tiny_dataset, device="cpu", constraints=Constraints(),
                     seconds_left=lambda: 10.0, should_stop=lambda: False, emit=lambda event: None)

    trial, derived = strategy.ask()
    assert derived["train"]["epochs"] == 5 and trial.user_attrs["origin"] == "supernet"
    assert strategy.start_point("supernet") == with_epochs(derived, 30)  # the recipe's schedule at most
    trial.set_user_attr("genotype", with_epochs(derived, 12))  # as the search refits it after its first epoch
    strategy.tell(trial, "complete", 0.9)
    trial, drawn = strategy.ask()
    assert trial.user_attrs["origin"] == "search"
    assert drawn["stages"] != derived["stages"]  # the derived architecture counts as tried on any schedule


class SimulatedKill(BaseException):
    """Like SIGKILL: nothing in the engine catches it."""


def kill_on(event_type: str, log: EventLog):
    def on_event(event: dict) -> None:
        log(event)
        if event["type"] == event_type:
            raise SimulatedKill

    return on_event


SEARCH_SPACE = SearchSpace(widths=(8, 16), stem_widths=(8,), expand_ratios=(2,), max_stages=2, max_depth=2,
                           batch_sizes=(16, 32), min_epochs=2, max_epochs=2, backbones=())


def test_a_resumed_search_keeps_the_supernet_it_learned(make_image_folder, tmp_path):
    data = make_image_folder()
    config = tiny_config(space=SEARCH_SPACE, max_trials=2, strategy="oneshot")
    first, second = EventLog(), EventLog()
    with pytest.raises(SimulatedKill):
        run_search(config, data, tmp_path / "work", on_event=kill_on("trial_finished", first))
    run_search(config, data, tmp_path / "work", on_event=second)

    assert first.of_type("supernet_progress")[-1]["finished"]
    assert not second.of_type("supernet_progress")
    assert len(second.of_type("trial_finished")) == 1


def test_a_search_killed_while_its_supernet_learns_learns_it_again(make_image_folder, tmp_path):
    data = make_image_folder()
    config = tiny_config(space=SEARCH_SPACE, max_trials=1, strategy="oneshot")
    reference = EventLog()
    run_search(config, data, tmp_path / "uninterrupted", on_event=reference)
    first, second = EventLog(), EventLog()
    with pytest.raises(SimulatedKill):
        run_search(config, data, tmp_path / "work", on_event=kill_on("supernet_progress", first))
    run_search(config, data, tmp_path / "work", on_event=second)

    assert second.of_type("supernet_progress")[-1]["finished"]
    assert second.of_type("trial_started")[0]["genotype"] == reference.of_type("trial_started")[0]["genotype"]


def test_the_derived_architecture_is_the_recipe_changed_only_where_the_supernet_has_decided():
    strategy = in_memory(SearchSpace(backbones=()))
    logits = {d.name: [0.0] * len(d.options) for d in strategy.architectures.decisions}
    operations = [d for d in strategy.architectures.decisions if d.name == "s0_op"][0].options
    # As after 80 architecture steps on a CPU: one operation three times as likely as each other (MNIST-5k, seed 0).
    logits["s0_op"][operations.index(Operation("mbconv", 3, 2))] = 1.1
    logits["s1_width"][0] = 4.0  # decided: 90% on the narrowest width, 16
    strategy.study.set_user_attr(SUPERNET_ATTR, {"logits": logits})

    _, genotype = strategy.ask()
    recipe = baseline_genotype()
    recipe["stages"][1]["width"] = 16
    assert architecture(genotype) == architecture(recipe)
    assert genotype["train"] == with_epochs(recipe, genotype["train"]["epochs"])["train"]
