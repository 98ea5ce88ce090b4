"""The ask/tell interface every strategy shares, on top of one Optuna study that is the search's ledger."""

import random
import time
import warnings
from collections.abc import Callable
from typing import ClassVar

import optuna
from optuna.trial import TrialState

from apps.nas import events
from apps.nas.config import Constraints
from apps.nas.data import ImageDataset
from apps.nas.space import SearchSpace
from apps.nas.strategies.samplers import TrialSeededRandomSampler

# How a candidate's outcome is told to Optuna. Infeasible candidates (over a deployment limit, never trained)
# are told as pruned without any reported value: TPE ranks such trials below every trained one, so it learns to
# avoid that region, with no dependence on Optuna's version-specific constraint API.
OPTUNA_STATES = {
    "complete": TrialState.COMPLETE,
    "pruned": TrialState.PRUNED,
    "interrupted": TrialState.PRUNED,
    "infeasible": TrialState.PRUNED,
    "failed": TrialState.FAIL,
}
# Where a start point came from (Strategy.start_point), in the order origin() tells them apart; oneshot's derived
# architecture is its own ("supernet", see OneShot.origin).
ORIGINS = ("probe", "recipe", "finetune")
FIRST_SEED_ATTR = "first_seed"


class Strategy:
    """Proposes candidates (ask) and learns from their outcomes (tell); subclasses choose the sampler."""

    name: ClassVar[str]
    multi_fidelity_default: ClassVar[bool] = False
    # True: on a budget too small for a search to pay (see budget.RECIPE_ONLY_MAX_EPOCHS), the search trains the
    # baseline recipe alone, on train+validation, for the whole budget.
    recipe_on_small_budgets: ClassVar[bool] = False
    # True: processes may evaluate its candidates at once, each with its own copy of the strategy reading the one
    # study (apps.nas.slots); False for a strategy that learns from the data in one process (oneshot).
    parallel: ClassVar[bool] = True

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        *,
        seed: int,
        multi_fidelity: bool,
        baseline: dict | None = None,
        probe: dict | None = None,
        finetune: dict | None = None,
        colour: bool = False,
    ):
        self.study = study
        self.space = space
        self.multi_fidelity = multi_fidelity  # the study's pruner stops weak candidates early
        self.rng = random.Random(seed)
        self.baseline = baseline
        self.probe = probe
        self.finetune = finetune
        self.colour = colour  # the images are in colour, like the photos pretrained networks learned from

    @staticmethod
    def create_sampler(study: optuna.Study, seed: int) -> optuna.samplers.BaseSampler:
        """The study's sampler for this attempt of the search (`seed`, see create_strategy); random draws take the
        first attempt's seed instead, so that trial n is drawn alike in every attempt and slot."""
        return TrialSeededRandomSampler(first_attempt_seed(study, seed))

    def start_points(self) -> list[dict]:
        """The known-good candidates this strategy tries first. Early stopping never judges them: after one epoch
        of its schedule the recipe still warms up and loses to a frozen-feature head that is nearly done, though
        trained to the end it wins on digits by 4-5 points (MNIST-5k)."""
        return []

    def fitting_probe(self) -> list[dict]:
        """The frozen-feature probe, when the strategy was given one that fits the space."""
        return [self.probe] if self.probe is not None and fits_space(self.space, self.probe) else []

    def recipes(self) -> list[dict]:
        """The fine-tuning recipe and the hand-designed one that fit the space, in the order that suits the images.

        On colour photos the fine-tuning recipe goes first: on a CPU the hand-designed network rarely finishes
        its schedule in a short search (one epoch of EuroSAT's 64 px tiles took 27 s on one thread) and trails
        pretrained networks anyway (Caltech-10: 93.8% against 99.4%). On grayscale images such as digits the
        hand-designed recipe goes first: it is cheap there, and ahead (MNIST-5k: 99.2% against the frozen probe's
        95%). Without the probe (too many photos to afford its features, see start_points.probe_affordable) the
        fine-tuning recipe's pass would not be affordable either, and the hand-designed recipe goes first."""
        finetune_first = self.colour and self.probe is not None
        ordered = (self.finetune, self.baseline) if finetune_first else (self.baseline, self.finetune)
        return [recipe for recipe in ordered if recipe is not None and fits_space(self.space, recipe)]

    def prepare(self, *, train: ImageDataset, val: ImageDataset, device: str, constraints: Constraints,
                seconds_left: Callable[[], float], should_stop: Callable[[], bool],
                emit: Callable[[events.Event], None]) -> None:
        """Called once before the first candidate of a search (and again on every resume), for a strategy that learns
        from the data itself before it proposes anything (oneshot trains its supernet here). The others learn from
        the candidates' outcomes alone and do nothing.

        Args:
            train: images candidates train on; val: images they are scored on.
            device: "cpu", "cuda", ...
            constraints: the deployment limits candidates must meet.
            seconds_left: the search time left, in seconds (the final training and the export are kept apart).
            should_stop: true once the search must stop (out of time, cancelled).
            emit: sends an event (apps.nas.events) to the run's listeners.
        """

    def ask(self) -> tuple[optuna.Trial, dict]:
        """A new trial and its genotype (stored on the trial, so a resumed search can rebuild the candidate), and
        where the candidate came from (see origin)."""
        trial = self.study.ask()
        genotype = self.space.suggest(trial)
        trial.set_user_attr("genotype", genotype)
        trial.set_user_attr("origin", self.origin(genotype))
        return trial, genotype

    def origin(self, genotype: dict) -> str:
        """"probe", "recipe" or "finetune" for one of this strategy's start points, else "search": the result page
        tells people what the search tried first and what it found on its own."""
        starts = self.start_points()
        return next((name for name in ORIGINS if (start := self.start_point(name)) is not None
                     and start == genotype and start in starts), "search")

    def start_point(self, origin: str) -> dict | None:
        """The genotype of the start point a trial's origin names, as the strategy was given it."""
        return {"probe": self.probe, "recipe": self.baseline, "finetune": self.finetune}[origin]

    def tell(self, trial: optuna.Trial, status: str, value: float | None = None) -> None:
        """Record the outcome: status is one of OPTUNA_STATES; value is the final validation accuracy."""
        trial.set_user_attr("status", status)
        trial.set_user_attr("finished_at", time.time())
        state = OPTUNA_STATES[status]
        self.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)


def first_attempt_seed(study: optuna.Study, seed: int) -> int:
    """The seed of the search's first attempt, kept in the study: create_strategy reseeds a resumed search and each
    slot, and a strategy that draws trial n from (this seed, n) then draws it the same whether or not the search
    stopped before it, and whichever slot asks for it."""
    if FIRST_SEED_ATTR not in study.user_attrs:
        study.set_user_attr(FIRST_SEED_ATTR, seed)
    return study.user_attrs[FIRST_SEED_ATTR]


def fits_space(space: SearchSpace, genotype: dict) -> bool:
    """True when every choice of the genotype is allowed by the space (e.g. the user did not toggle it off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna only warns about a fixed value out of a numeric range
        try:
            return space.suggest(optuna.trial.FixedTrial(space.to_params(genotype))) == genotype
        except (ValueError, UserWarning):
            return False
