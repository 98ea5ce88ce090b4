"""Regularized (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image Classifier Architecture
Search"): the population is the P most recent finished candidates, so old ones age out however good they were;
each child is one mutation of the winner of a random tournament of S members of that population.
"""

from optuna.trial import TrialState

from apps.nas.strategies.base import Strategy
from apps.nas.strategies.registry import register

# The paper uses P=100, S=25 for 20,000 candidates; a search here trains tens, so both are scaled down while
# keeping the tournament a sizable share of the population (selection pressure without collapsing diversity).
POPULATION_SIZE = 10
TOURNAMENT_SIZE = 3


@register
class RegularizedEvolution(Strategy):
    name = "evolution"

    def ask(self):
        # The population is derived from the study's history, so a resumed search needs no extra state.
        finished = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        population = finished[-POPULATION_SIZE:]
        if len(population) == POPULATION_SIZE:
            tournament = self.rng.sample(population, TOURNAMENT_SIZE)
            parent = max(tournament, key=lambda trial: trial.value)
            child = self.space.mutate(parent.user_attrs["genotype"], self.rng)
            self.study.enqueue_trial(self.space.to_params(child))
        # Until the population is full the study's random sampler draws the founders.
        return super().ask()
