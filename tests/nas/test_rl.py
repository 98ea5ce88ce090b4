"""The REINFORCE controller learns where the reward is, beats random search, and resumes to the same state.

No network is trained here: candidates are scored by a synthetic objective with a planted optimum.
"""

import json
import random
import statistics

import optuna
import pytest

from apps.nas.space import SearchSpace
from apps.nas.strategies import create_strategy
from apps.nas.strategies.base import fits_space
from apps.nas.strategies.reinforce import decisions_taken, reward
from tests.nas.tiny_search import journal

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Nine decisions with more than one option: block (3), activation, kernel, width, batch size (2 each), and learning
# rate, weight decay, dropout, augmentation, label smoothing (NUMERIC_BINS bins each). Random search proposes the
# planted architecture once in 3 * 2**4 * 4**5 = 49,152 candidates.
PLANTED_SPACE = SearchSpace(
    block_types=("plain", "residual", "mbconv"), activations=("relu", "silu"), kernel_sizes=(3, 5), widths=(8, 16),
    stem_widths=(8,), expand_ratios=(2,), max_stages=1, max_depth=1, squeeze_excite=False, optimizers=("sgd",),
    batch_sizes=(16, 32), min_epochs=2, max_epochs=2, allow_flip=False, backbones=(),
)
# Over seeds 0-19 the controller needed 61 to 135 candidates (median 96); twice the worst leaves room.
STEPS_TO_LEARN = 270
SEEDS = range(5)
SEARCH_LENGTH = 40  # candidates, a search of tens as the engine runs them


def planted_objective(seed: int):
    """The planted genotype and a reward of the fraction of decisions (bins for numbers) that take its option."""
    planted = PLANTED_SPACE.sample(random.Random(1000 + seed))
    target = decisions_taken(PLANTED_SPACE, PLANTED_SPACE.to_params(planted))

    def objective(genotype: dict) -> float:
        taken = decisions_taken(PLANTED_SPACE, PLANTED_SPACE.to_params(genotype))
        return sum(taken.get(name) == option for name, option in target.items()) / len(target)

    return planted, objective


def in_memory(name: str, seed: int, space: SearchSpace = PLANTED_SPACE):
    return create_strategy(name, storage=optuna.storages.InMemoryStorage(), space=space, seed=seed)


def play(strategy, objective, steps: int) -> list[dict]:
    """Ask `steps` candidates and tell each its objective; the genotypes proposed."""
    proposals = []
    for _ in range(steps):
        trial, genotype = strategy.ask()
        strategy.tell(trial, "complete", objective(genotype))
        proposals.append(genotype)
    return proposals


def policy_state(strategy) -> tuple:
    policy = strategy.policy
    return {name: logits.tolist() for name, logits in policy.logits.items()}, policy.baseline, policy.spread


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_controller_learns_the_planted_architecture(seed):
    planted, objective = planted_objective(seed)
    strategy = in_memory("rl", seed)
    assert strategy.probability(planted) < 0.001
    steps = 0
    while strategy.probability(planted) <= 0.5 and steps < STEPS_TO_LEARN:
        play(strategy, objective, 1)
        steps += 1
    assert strategy.probability(planted) > 0.5, f"p = {strategy.probability(planted):.3f} after {steps} candidates"


def test_it_finds_better_candidates_than_random_search():
    best = {"rl": [], "random": []}
    for seed in SEEDS:
        _, objective = planted_objective(seed)
        for name in best:
            best[name].append(max(map(objective, play(in_memory(name, seed), objective, SEARCH_LENGTH))))
    assert statistics.median(best["rl"]) > statistics.median(best["random"]), best


def test_the_same_seed_proposes_the_same_candidates():
    _, objective = planted_objective(0)
    first, again, other = (play(in_memory("rl", seed), objective, 10) for seed in (0, 0, 1))
    assert first == again
    assert first != other


class SimulatedKill(BaseException):
    """Like SIGKILL: nothing in the engine catches it."""


def die(*args, **kwargs):
    raise SimulatedKill


@pytest.mark.parametrize("killed", ["between candidates", "while choosing a candidate", "while training one"])
def test_a_resumed_controller_proposes_what_the_uninterrupted_one_would(killed, monkeypatch, tmp_path):
    _, objective = planted_objective(0)
    told, steps = 20, 25
    uninterrupted = create_strategy("rl", storage=journal(tmp_path / "uninterrupted"), space=PLANTED_SPACE, seed=0)
    expected = play(uninterrupted, objective, steps)

    first = create_strategy("rl", storage=journal(tmp_path / "killed"), space=PLANTED_SPACE, seed=0)
    proposed = play(first, objective, told)
    if killed == "while choosing a candidate":  # chosen and queued in the study, not yet started
        monkeypatch.setattr(first.study, "ask", die)
        with pytest.raises(SimulatedKill):
            first.ask()
    if killed == "while training one":
        trial, genotype = first.ask()
        proposed.append(genotype)
    resumed = create_strategy("rl", storage=journal(tmp_path / "killed"), space=PLANTED_SPACE, seed=0)
    if killed == "while training one":  # the search reopens the study and finishes that candidate first
        resumed.tell(optuna.trial.Trial(resumed.study, trial._trial_id), "complete", objective(genotype))
    proposed += play(resumed, objective, steps - len(proposed))

    assert proposed == expected
    assert policy_state(resumed) == policy_state(uninterrupted)


def test_every_proposal_is_a_genotype_of_the_space_stored_like_any_other():
    space = SearchSpace()  # pretrained backbones and networks from scratch, every choice open
    strategy = in_memory("rl", 0, space=space)
    rng = random.Random(0)
    for _ in range(40):
        trial, genotype = strategy.ask()
        assert fits_space(space, genotype)
        assert json.loads(json.dumps(genotype)) == genotype
        assert strategy.study.trials[trial.number].params == space.to_params(genotype)
        strategy.tell(trial, "complete", rng.random())
    assert any("backbone" in trial.user_attrs["genotype"] for trial in strategy.study.trials)


def test_a_candidate_stopped_early_counts_with_the_accuracy_it_reached_and_an_untrained_one_with_nothing():
    strategy = in_memory("rl", 0)
    outcomes = []
    for status, accuracies in [("complete", [0.5, 0.8]), ("pruned", [0.3, 0.4]), ("interrupted", [0.6]),
                               ("infeasible", []), ("failed", [0.7])]:
        trial, _ = strategy.ask()
        for epoch, accuracy in enumerate(accuracies, start=1):
            trial.report(accuracy, step=epoch)
        strategy.tell(trial, status, accuracies[-1] if accuracies else None)
        outcomes.append(reward(strategy.study.trials[trial.number]))
    assert outcomes == [0.8, 0.4, 0.6, 0.0, 0.0]
