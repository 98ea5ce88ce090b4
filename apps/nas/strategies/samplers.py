"""The random sampler every strategy without a model of its own draws from."""

import zlib
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial


class TrialSeededRandomSampler(optuna.samplers.BaseSampler):
    """Uniform draws like Optuna's RandomSampler, but trial n's parameters depend on (seed, n) alone, not on what
    this process drew before: slots drawing one search's trials in any order, and a search resumed after a kill,
    propose the same candidates as one uninterrupted process with the same seed."""

    def __init__(self, seed: int):
        self.seed = seed

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        # One generator per parameter: drawn in order from one generator, a parameter's value would depend on which
        # others the genotype's conditional structure asked for before it.
        entropy = [self.seed % 2**32, trial.number, zlib.crc32(param_name.encode())]
        draw_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        return optuna.samplers.RandomSampler(seed=draw_seed).sample_independent(
            study, trial, param_name, param_distribution)
