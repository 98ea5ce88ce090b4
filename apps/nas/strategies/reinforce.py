"""A controller trained with REINFORCE (Williams 1992), as in NASNet (Zoph et al. 2018) and ENAS (Pham et al. 2018):
a policy proposes each candidate one decision at a time, and every finished candidate's reward (its validation
accuracy) makes the decisions it took more or less likely.

Where it departs from those papers, and why:

- The policy is one independent categorical distribution per decision of the space (its logits), not an LSTM, as
  in TuNAS (Bender et al. 2020). NASNet's LSTM learned from 20,000 candidates; a search here finishes tens: enough
  to move a table of logits, far too few to train a recurrent network. The space's conditional structure
  still holds: a decision that a candidate never reached (a third stage, an MBConv expansion) is not credited.
- Numeric decisions (learning rates, dropout, epochs...) are cut into NUMERIC_BINS bins, evenly on the scale the
  space samples them on (logarithmic for rates); the policy learns the bin, the value is drawn uniformly inside
  it. So the controller learns whether a rate should be small or large, and nearby values keep being tried.
- The advantage is the reward minus a moving-average baseline, divided by the moving spread of the rewards: on
  one dataset candidates differ by a few points of accuracy, on another by tens, and without this the learning
  rate would suit only one of them. It is clipped, so one broken candidate (reward 0) cannot flip the policy.
- A candidate stopped before its last epoch (early stopping, or the clock) is rewarded with the accuracy it had
  reached: below what it would have finished with, so being stopped counts against it, but above the 0 of a
  candidate that was never trained (over a deployment limit) or failed. Early stopping is a fair verdict on a
  weak candidate; the clock only ever stops the last candidate of a search, where it no longer matters.
- One REINFORCE step per finished candidate: batches would wait for several trainings before learning anything.

The controller keeps no state of its own: it is rebuilt by learning again from the study's finished trials in
the order they were asked (the search tells them in that order), and trial n's proposal is drawn from its own
generator seeded with (the first attempt's seed, n). So a search killed and resumed proposes what it would have
proposed had it never stopped, like evolution, which derives its population from the same history.
"""

import math

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from apps.nas.space import Chooser, SearchSpace
from apps.nas.strategies.base import Strategy, first_attempt_seed
from apps.nas.strategies.registry import register

NUMERIC_BINS = 4
# The learning rate (of the logits, per candidate, at an advantage of one spread) and the entropy bonus trade speed
# for caution. With these, on the planted optimum of tests/nas/test_rl.py (nine decisions) the controller puts half
# its probability on the optimum after 61-135 candidates (median 96, seeds 0-19); at 0.2 and 0.1 it took 140 in the
# median. The price: on rewards that are pure noise a two-option decision wanders to about 80/20 (72/28 at the
# slower setting) and no further, because the entropy bonus pulls it back; no option is ruled out for good on luck.
LEARNING_RATE = 0.5
ENTROPY_WEIGHT = 0.2
BASELINE_DECAY = 0.9  # the baseline and spread remember about the last ten candidates
ADVANTAGE_LIMIT = 2.0  # in spreads
MIN_REWARD_SPREAD = 0.01  # one point of accuracy: rewards closer than that are not told apart by much
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class Policy:
    """One categorical distribution per decision, as logits (uniform at first), learned by REINFORCE."""

    def __init__(self):
        self.logits: dict[str, np.ndarray] = {}
        self.baseline: float | None = None  # moving average of the rewards
        self.spread = 0.0  # moving root mean square of reward - baseline

    def log_probabilities(self, name: str, options: int) -> np.ndarray:
        logits = self.logits.setdefault(name, np.zeros(options))
        shifted = logits - logits.max()  # exp() of the largest is 1: no overflow
        return shifted - np.log(np.exp(shifted).sum())

    def probability(self, taken: dict[str, tuple[int, int]]) -> float:
        """How likely the policy is to take all these decisions: {name: (option, number of options)}."""
        return math.exp(sum(self.log_probabilities(name, options)[option]
                            for name, (option, options) in taken.items()))

    def learn(self, taken: dict[str, tuple[int, int]], reward: float) -> None:
        """One REINFORCE step: the options taken become likelier when the reward beats the baseline."""
        if self.baseline is None:
            self.baseline = reward
            return
        deviation = reward - self.baseline
        advantage = np.clip(deviation / max(self.spread, MIN_REWARD_SPREAD), -ADVANTAGE_LIMIT, ADVANTAGE_LIMIT)
        for name, (option, options) in taken.items():
            log_p = self.log_probabilities(name, options)
            p = np.exp(log_p)
            log_likelihood_gradient = np.eye(options)[option] - p
            entropy_gradient = -p * (log_p + (-p * log_p).sum())
            self.logits[name] = self.logits[name] + LEARNING_RATE * (
                advantage * log_likelihood_gradient + ENTROPY_WEIGHT * entropy_gradient)
        self.spread = math.sqrt(BASELINE_DECAY * self.spread ** 2 + (1 - BASELINE_DECAY) * deviation ** 2)
        self.baseline += (1 - BASELINE_DECAY) * deviation


def integer_bins(low: int, high: int) -> list[tuple[int, int]]:
    """[first, last] of each bin: one value each for small ranges (stages, depth), NUMERIC_BINS bins otherwise."""
    values = np.arange(low, high + 1)
    return [(int(part[0]), int(part[-1])) for part in np.array_split(values, min(NUMERIC_BINS, len(values)))]


def bin_edges(low: float, high: float, log: bool) -> np.ndarray:
    edges = np.exp(np.linspace(math.log(low), math.log(high), NUMERIC_BINS + 1)) if log else (
        np.linspace(low, high, NUMERIC_BINS + 1))
    edges[0], edges[-1] = low, high  # exactly, so a value drawn in the end bins stays within the space's range
    return edges


class _PolicyChooser(Chooser):
    """Draws each decision's option from the policy, and a numeric value uniformly inside the option's bin."""

    def __init__(self, policy: Policy, rng: np.random.Generator):
        self.policy = policy
        self.rng = rng

    def option(self, name: str, options: int) -> int:
        return int(self.rng.choice(options, p=np.exp(self.policy.log_probabilities(name, options))))

    def categorical(self, name, choices):
        return choices[self.option(name, len(choices))]

    def integer(self, name, low, high):
        bins = integer_bins(low, high)
        first, last = bins[self.option(name, len(bins))]
        return int(self.rng.integers(first, last + 1))

    def uniform(self, name, low, high):
        return self.within_bin(name, bin_edges(low, high, log=False), log=False)

    def log_uniform(self, name, low, high):
        return self.within_bin(name, bin_edges(low, high, log=True), log=True)

    def within_bin(self, name: str, edges: np.ndarray, log: bool) -> float:
        option = self.option(name, NUMERIC_BINS)
        start, end = edges[option], edges[option + 1]
        value = math.exp(self.rng.uniform(math.log(start), math.log(end))) if log else self.rng.uniform(start, end)
        return float(np.clip(value, start, end))


class _OptionReader(Chooser):
    """Which option of each decision a trial's parameters took: the actions REINFORCE credits."""

    def __init__(self, params: dict):
        self.params = params
        self.taken: dict[str, tuple[int, int]] = {}

    def read(self, name: str, option: int, options: int):
        self.taken[name] = (option, options)
        return self.params[name]

    def categorical(self, name, choices):
        return self.read(name, list(choices).index(self.params[name]), len(choices))

    def integer(self, name, low, high):
        bins = integer_bins(low, high)
        value = self.params[name]
        return self.read(name, next(i for i, (first, last) in enumerate(bins) if first <= value <= last), len(bins))

    def uniform(self, name, low, high):
        return self.in_bin(name, bin_edges(low, high, log=False))

    def log_uniform(self, name, low, high):
        return self.in_bin(name, bin_edges(low, high, log=True))

    def in_bin(self, name: str, edges: np.ndarray):
        option = int(np.clip(np.searchsorted(edges, self.params[name], side="right") - 1, 0, NUMERIC_BINS - 1))
        return self.read(name, option, NUMERIC_BINS)


def decisions_taken(space: SearchSpace, params: dict) -> dict[str, tuple[int, int]]:
    """{decision: (option taken, number of options)} for the Optuna parameters of one of the space's genotypes."""
    reader = _OptionReader(params)
    space.decide(reader)
    return reader.taken


def reward(trial: FrozenTrial) -> float:
    """Validation accuracy; for a candidate stopped early, the accuracy it had reached; 0 for one never trained
    (over a deployment limit) or that failed."""
    if trial.state == TrialState.COMPLETE:
        return trial.value
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return 0.0


@register
class Reinforce(Strategy):
    name = "rl"

    def __init__(self, study: optuna.Study, space: SearchSpace, *, seed: int, **options):
        super().__init__(study, space, seed=seed, **options)
        self.seed = first_attempt_seed(study, seed)
        self.policy = Policy()
        self.learned: set[int] = set()
        self.learn_from_finished()

    def start_points(self) -> list[dict]:
        """One cheap, known-good first candidate: its reward is the controller's first baseline, so every
        proposal is judged against it, and the search is never worse than it. On colour photos the frozen-feature
        probe (one pass over the images, then a head that trains in seconds); on grayscale images, or photos too
        many to afford the probe's features, the recipe that suits them (Strategy.recipes).

        Without a start point, on MNIST-5k at 180 s the controller spent the budget on draws from the whole space
        before its policy had learned anything, and shipped a fine-tuned Lite1 at 96.7%. The fine-tuning recipe
        as EuroSAT's start point could not finish its first epoch in a 120 s search on one thread."""
        return (self.fitting_probe() if self.colour else []) or self.recipes()[:1]

    def ask(self):
        trials = self.study.get_trials(deepcopy=False)
        starts = self.start_points()
        # A candidate still waiting was drawn by this policy, in this state, before a kill: it is the next one.
        if not any(trial.state == TrialState.WAITING for trial in trials):
            if len(trials) < len(starts):
                genotype = starts[len(trials)]
            else:
                # len(trials) is the next trial's number; the seed wraps because SeedSequence takes no negative seeds.
                rng = np.random.default_rng([self.seed % 2**64, len(trials)])
                genotype = self.space.decide(_PolicyChooser(self.policy, rng))
            self.study.enqueue_trial(self.space.to_params(genotype))
        return super().ask()

    def tell(self, trial: optuna.Trial, status: str, value: float | None = None) -> None:
        super().tell(trial, status, value)
        self.learn_from_finished()

    def learn_from_finished(self) -> None:
        for trial in self.study.get_trials(deepcopy=False, states=FINISHED):
            if trial.number in self.learned:
                continue
            self.learned.add(trial.number)
            # The parameters, not the genotype: a retry after running out of GPU memory rewrites the genotype's
            # batch size. No genotype: the process stopped before the candidate was chosen.
            if "genotype" in trial.user_attrs:
                self.policy.learn(decisions_taken(self.space, trial.params), reward(trial))

    def probability(self, genotype: dict) -> float:
        """How likely the controller is to propose this genotype (its numeric values' bins)."""
        return self.policy.probability(decisions_taken(self.space, self.space.to_params(genotype)))
