"""Tree-structured Parzen Estimator (Optuna's TPESampler) and `auto`, the default built on it."""

import warnings

import optuna

from apps.nas.strategies.base import Strategy
from apps.nas.strategies.registry import register


def create_tpe_sampler(seed: int, n_startup_trials: int) -> optuna.samplers.TPESampler:
    """Multivariate TPE grouped by the space's conditional structure (stages and blocks appear or not). The constant
    liar counts candidates other slots are training as poor ones, so slots asking at once do not propose alike."""
    with warnings.catch_warnings():
        # multivariate, group and constant_liar are marked experimental in Optuna; documented and tested there.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, n_startup_trials=n_startup_trials, constant_liar=True
        )


@register
class TPE(Strategy):
    name = "tpe"

    @staticmethod
    def create_sampler(study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
        return create_tpe_sampler(seed, n_startup_trials=10)


@register
class Auto(Strategy):
    """The default for non-experts: the frozen-feature probe, a fine-tuning recipe and the hand-designed recipe
    first (see start_points), then TPE, with ASHA early stopping.

    The probe (a pretrained backbone's features with a linear head) costs one pass over the images and tells how
    far ImageNet features go here; starting from the recipe means the search is never worse than it; the
    fine-tuning recipe is what a competent engineer would try on photos. Validation then decides where TPE spends
    the rest. ASHA means weak proposals cost one or three epochs instead of their
    full budget, so TPE gets several times more candidates in the same time and can start modelling after fewer
    random ones. Without the probe (no pretrained networks in the space, or so many photos that their features
    would take most of the budget on a CPU), on a budget that buys only a few trainings of the recipe, no search
    beats training the recipe for all of it, so that is what auto does then.
    """

    name = "auto"
    multi_fidelity_default = True
    recipe_on_small_budgets = True

    @staticmethod
    def create_sampler(study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
        return create_tpe_sampler(seed, n_startup_trials=6)

    def start_points(self) -> list[dict]:
        """The probe, then the recipes in the order that suits the images (Strategy.recipes)."""
        return self.fitting_probe() + self.recipes()

    def ask(self):
        if not self.study.trials:
            for start in self.start_points():
                self.study.enqueue_trial(self.space.to_params(start))
        return super().ask()

