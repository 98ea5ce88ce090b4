import json

import optuna
import pytest

from apps.nas.search import run_search
from apps.nas.slots import SLOT_SEED_STRIDE
from apps.nas.space import SearchSpace, baseline_genotype, finetune_genotype, probe_genotype
from apps.nas.strategies import STRATEGIES, create_strategy
from apps.nas.strategies.evolution import POPULATION_SIZE
from tests.nas.tiny_search import TINY_SPACE, EventLog, journal, tiny_config

BUDGET_SECONDS = 6.0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_finishes_within_its_budget_with_a_trained_best(name, make_image_folder, tmp_path):
    log = EventLog()
    result = run_search(tiny_config(strategy=name, budget_seconds=BUDGET_SECONDS), make_image_folder(),
                        tmp_path / "work", on_event=log)
    assert result.summary.elapsed_seconds <= 1.05 * BUDGET_SECONDS
    assert result.summary.trials.get("complete", 0) >= 1
    assert result.best.val_accuracy == max(
        row.val_accuracy for row in result.leaderboard if row.status == "complete"
    )
    assert log[0]["type"] == "run_started" and log[-1]["type"] == "run_finished"


def ask_and_tell(strategy, values) -> list[optuna.Trial]:
    """Ask len(values) candidates and tell each its value, without training anything."""
    trials = []
    for value in values:
        trial, _ = strategy.ask()
        strategy.tell(trial, "complete", value)
        trials.append(trial)
    return trials


def in_memory(name: str, space: SearchSpace = TINY_SPACE, **options):
    return create_strategy(name, storage=optuna.storages.InMemoryStorage(), space=space, seed=0, **options)


def test_auto_starts_from_the_hand_designed_recipe():
    strategy = in_memory("auto", space=SearchSpace(), baseline=baseline_genotype())
    _, genotype = strategy.ask()
    assert genotype == baseline_genotype()
    assert strategy.multi_fidelity


def origins(strategy, count: int) -> list[str]:
    return [strategy.study.trials[t.number].user_attrs["origin"] for t in ask_and_tell(strategy, [0.5] * count)]


def test_each_candidate_says_whether_it_was_a_start_point_or_the_searchs_own_choice():
    space = SearchSpace()
    starts = {"probe": probe_genotype(space, 28), "baseline": baseline_genotype(),
              "finetune": finetune_genotype(space, 28)}

    assert origins(in_memory("auto", space=space, **starts), 4) == ["probe", "recipe", "finetune", "search"]
    assert set(origins(in_memory("random", space=space, **starts), 4)) == {"search"}


def test_auto_fine_tunes_before_the_recipe_on_colour_photos_unless_their_features_are_unaffordable():
    space = SearchSpace()
    starts = {"baseline": baseline_genotype(), "finetune": finetune_genotype(space, 64)}

    with_probe = in_memory("auto", space=space, colour=True, probe=probe_genotype(space, 64), **starts)
    without_probe = in_memory("auto", space=space, colour=True, **starts)

    assert origins(with_probe, 3) == ["probe", "finetune", "recipe"]
    assert origins(without_probe, 2) == ["recipe", "finetune"]


def test_the_rl_controller_starts_from_the_probe_on_photos_and_from_the_recipe_on_grayscale_images():
    space = SearchSpace()
    starts = {"baseline": baseline_genotype(), "finetune": finetune_genotype(space, 64),
              "probe": probe_genotype(space, 64)}

    assert origins(in_memory("rl", space=space, **starts), 3) == ["recipe", "search", "search"]
    assert origins(in_memory("rl", space=space, colour=True, **starts), 3) == ["probe", "search", "search"]
    # Photos too many to afford the probe's features (start_points.probe_affordable)
    assert origins(in_memory("rl", space=space, colour=True, baseline=baseline_genotype()), 2) == ["recipe", "search"]


def test_auto_skips_the_recipe_when_the_space_excludes_it():
    strategy = in_memory("auto", baseline=baseline_genotype())  # TINY_SPACE has no 32-wide stem
    _, genotype = strategy.ask()
    assert genotype != baseline_genotype()
    assert genotype["stem_width"] in TINY_SPACE.stem_widths


def test_evolution_breeds_children_of_the_population_once_it_is_full():
    strategy = in_memory("evolution")
    founders = ask_and_tell(strategy, [i / 100 for i in range(POPULATION_SIZE)])
    children = ask_and_tell(strategy, [0.5, 0.5])

    def enqueued(trial) -> bool:  # a child is enqueued as fixed parameters: the mutation of a tournament winner
        return "fixed_params" in strategy.study.trials[trial.number].system_attrs

    assert not any(enqueued(t) for t in founders)
    assert all(enqueued(t) for t in children)


def test_a_resumed_search_does_not_propose_its_first_candidates_again(tmp_path):
    storage = journal(tmp_path / "j")
    first = create_strategy("random", storage=storage, space=TINY_SPACE, seed=0)
    before = [first.space.suggest(t) for t in ask_and_tell(first, [0.1, 0.2, 0.3])]
    resumed = create_strategy("random", storage=storage, space=TINY_SPACE, seed=0)
    _, genotype = resumed.ask()
    assert genotype not in before
    assert len(resumed.study.trials) == 4


def test_random_search_proposes_the_same_candidates_on_one_slot_or_two_and_after_a_resume(tmp_path):
    space = SearchSpace()
    alone = create_strategy("random", storage=journal(tmp_path / "alone"), space=space, seed=5)
    expected = [alone.ask()[1] for _ in range(6)]

    storage = journal(tmp_path / "shared")
    slots = [create_strategy("random", storage=storage, space=space, seed=5 + SLOT_SEED_STRIDE * slot)
             for slot in (0, 1)]
    proposed = [slots[number % 2].ask()[1] for number in range(4)]  # the slots take turns
    resumed = create_strategy("random", storage=storage, space=space, seed=5)  # the coordinator after a kill
    proposed += [resumed.ask()[1] for _ in range(2)]

    assert proposed == expected
    assert len({json.dumps(genotype, sort_keys=True) for genotype in expected}) == len(expected)


def test_multi_fidelity_follows_the_strategy_unless_told():
    assert not in_memory("random").multi_fidelity
    assert in_memory("random", multi_fidelity=True).multi_fidelity
    assert isinstance(in_memory("tpe", multi_fidelity=True).study.pruner, optuna.pruners.SuccessiveHalvingPruner)


def test_an_unknown_strategy_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="evolution"):
        in_memory("genetic")
