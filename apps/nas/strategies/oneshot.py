"""One-shot, gradient-based search: a weight-sharing supernet learns a distribution over the architectures first,
then the candidates come from it and are trained on their own like any other (GDAS, Dong & Yang 2019, with the
latency term of ProxylessNAS; the supernet is apps.nas.supernet, its training apps.nas.supernet_training).

- Before the first candidate (prepare), the supernet trains for at most SUPERNET_SHARE of the search time left
  (the final retrain's share is kept apart already). A third: the derived candidate then needs its own full
  training, and more candidates from the distribution need room after it; more time gains little once the
  distribution has settled (the phase then stops early), while much less leaves the supernet barely past its
  warm-up. On a CPU the share, not the planned steps, usually ends the phase.
- The first candidate, the derived architecture, is treated as a start point (see OneShot.origin). It is the
  hand-designed recipe (apps.nas.space.baseline_genotype) changed at every decision the supernet has made: one
  whose normalised entropy is below DECIDED_ENTROPY takes its likeliest option, with the skip cap below. The
  others keep the recipe's option: a distribution that has hardly moved from uniform ranks options by the noise of
  its few steps, and its argmax is a draw from the space. On a CPU a third of a three-minute search buys about 80
  architecture steps, and MNIST-5k's default space ended at a mean normalised entropy of 0.92-0.95: the argmax
  networks (often wide MBConv stages, 7-29 s an epoch on one thread against the recipe's 2 s) reached 98.43% test
  on average against the recipe's 99.3%. A decision without a recipe option (the space excludes it) takes the
  argmax.
  Then candidates are drawn from the learned distribution, never one already tried; once draws keep repeating
  tried ones (a settled distribution), a uniform draw explores instead. Weight sharing ranks architectures only
  roughly (Yu et al. 2020, "Evaluating the Search Phase of Neural Architecture Search"), so it pays to train a few
  of the likely ones rather than trust the argmax alone.
- Skip cap: no candidate skips more than MAX_SKIPPED_SHARE of the optional layer slots (rounded down) on the
  supernet's word; above that, the skipped slots with the highest "keep" probability are kept. The shallow paths
  train fastest, so a supernet tends to prefer them for that alone (the collapse to skip connections of DARTS,
  which P-DARTS caps likewise); half leaves a network as deep as the space's average candidate at least. The slots
  the derived architecture skips because the recipe does (one layer a stage) are not the supernet's, and do not
  count.
- Training hyperparameters are not searched: every candidate trains with the hand-designed recipe's
  (apps.nas.space.baseline_genotype), fitted to the space, so candidates differ only in what the supernet judged.
  Its stem width and activation are fixed the same way. The one exception is the schedule: where the recipe's
  epochs of an average path (as the supernet's warm-up timed it) would take more than CANDIDATE_SHARE of the time
  left after the phase, candidates train fewer (never below the space's minimum); the final retrain stretches the
  winner's schedule again. Without it, on digits at 60 s, the one candidate the time allowed was stopped by the
  clock before the end of its schedule.
- Pretrained backbones are out of scope (their weights cannot be shared with networks from scratch); the search
  proposes networks from scratch only.

The learned logits are stored in the study (SUPERNET_ATTR), so a resumed search does not train the supernet again;
a search killed during the supernet phase trains it again from the start (the phase is short, and its steps are
not checkpointed). Trial n's draw comes from its own generator seeded with (the first attempt's seed, n), as in the
rl strategy, so a resumed search proposes what it would have proposed had it never stopped.
"""

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from apps.nas import events
from apps.nas.config import Constraints
from apps.nas.data import ImageDataset
from apps.nas.space import SearchSpace, baseline_genotype, with_epochs
from apps.nas.strategies.base import Strategy, first_attempt_seed
from apps.nas.strategies.registry import register
from apps.nas.supernet import Decision, Operation, decision_entropy, supernet_decisions
from apps.nas.supernet_training import train_supernet

SUPERNET_SHARE = 1 / 3
CANDIDATE_SHARE = 0.5
MAX_SKIPPED_SHARE = 0.5
DRAWS_BEFORE_EXPLORING = 20
# Two options at 78/22 have a normalised entropy of 0.76; twelve operations at 0.5 for one and the rest even, 0.76.
DECIDED_ENTROPY = 0.75
SUPERNET_ATTR = "supernet"
# The recipe's optimizer when the space excludes SGD: AdamW at the rates the pretrained recipes use.
ADAMW_TRAINING = {"optimizer": "adamw", "lr": 0.003, "weight_decay": 0.01}


def recipe_training(space: SearchSpace) -> dict:
    """The hand-designed recipe's training hyperparameters, each moved to the nearest value the space allows."""
    train = dict(baseline_genotype()["train"])
    if train["optimizer"] not in space.optimizers:
        train.update(ADAMW_TRAINING)
    train["batch_size"] = min(space.batch_sizes, key=lambda size: abs(size - train["batch_size"]))
    train["epochs"] = min(max(train["epochs"], space.min_epochs), space.max_epochs)
    return train


def fixed_stem(space: SearchSpace) -> tuple[int, str]:
    """Stem width and activation of every one-shot candidate: the recipe's where the space allows them."""
    recipe = baseline_genotype()
    width = recipe["stem_width"] if recipe["stem_width"] in space.stem_widths else space.stem_widths[0]
    activation = recipe["activation"] if recipe["activation"] in space.activations else space.activations[0]
    return width, activation


def max_skipped_layers(space: SearchSpace) -> int:
    return int(MAX_SKIPPED_SHARE * space.max_stages * (space.max_depth - 1))


def capped(choices: dict[str, int], probabilities: dict[str, np.ndarray], cap: int) -> dict[str, int]:
    """The choices with at most `cap` layer slots skipped: the skipped slots likeliest to be kept are kept."""
    skipped = [name for name, option in choices.items() if "_layer" in name and option == 0]
    skipped.sort(key=lambda name: -probabilities[name][1])
    return {**choices, **{name: 1 for name in skipped[:max(0, len(skipped) - cap)]}}


class OneShotArchitectures:
    """Genotypes of a space from one option per supernet decision."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.decisions: list[Decision] = supernet_decisions(space)
        self.stem_width, self.activation = fixed_stem(space)
        self.train = recipe_training(space)
        self.recipe = self.recipe_choices()

    def recipe_choices(self) -> dict[str, int]:
        """The recipe's option of every decision whose options hold it (its width: the nearest); the recipe's last
        stage stands for any later stage."""
        recipe = baseline_genotype()["stages"]
        options = {d.name: d.options for d in self.decisions}
        choices = {}
        for stage in range(self.space.max_stages):
            planned = recipe[min(stage, len(recipe) - 1)]
            operation = Operation(planned["block"], planned["kernel"], planned["expand"])
            if operation in options[f"s{stage}_op"]:
                choices[f"s{stage}_op"] = options[f"s{stage}_op"].index(operation)
            widths = options[f"s{stage}_width"]
            choices[f"s{stage}_width"] = min(range(len(widths)), key=lambda i: abs(widths[i] - planned["width"]))
            for layer in range(2, self.space.max_depth + 1):
                choices[f"s{stage}_layer{layer}"] = int(layer <= planned["depth"])
        return choices

    def genotype(self, choices: dict[str, int]) -> dict:
        """The genotype SearchSpace.decide would make of these choices ({decision name: option index})."""
        options = {d.name: d.options[choices[d.name]] for d in self.decisions}
        stages = []
        for stage in range(self.space.max_stages):
            op = options[f"s{stage}_op"]
            kept = sum(options[f"s{stage}_layer{layer}"] for layer in range(2, self.space.max_depth + 1))
            stages.append({"block": op.block, "depth": 1 + kept, "width": options[f"s{stage}_width"],
                           "kernel": op.kernel, "se": False, "expand": op.expand})
        return {"stem_width": self.stem_width, "activation": self.activation, "stages": stages,
                "train": dict(self.train)}


def architecture(genotype: dict) -> dict:
    """The genotype without its training: one-shot candidates share the recipe's, but for the schedule the search
    fits to the time left."""
    return {name: value for name, value in genotype.items() if name != "train"}


def probabilities_of(logits: dict[str, list[float]]) -> dict[str, np.ndarray]:
    def softmax(values: list[float]) -> np.ndarray:
        shifted = np.exp(np.asarray(values) - max(values))
        return shifted / shifted.sum()

    return {name: softmax(values) for name, values in logits.items()}


@register
class OneShot(Strategy):
    name = "oneshot"

    parallel = False  # the supernet learns in one process

    def __init__(self, study: optuna.Study, space: SearchSpace, *, seed: int, **options):
        super().__init__(study, space, seed=seed, **options)
        self.seed = first_attempt_seed(study, seed)
        self.architectures = OneShotArchitectures(space)
        self.skip_cap = max_skipped_layers(space)

    @property
    def logits(self) -> dict[str, list[float]]:
        """What the supernet learned; uniform before it has trained (prepare not called: the draws are uniform)."""
        learned = self.study.user_attrs.get(SUPERNET_ATTR)
        if learned is not None:
            return learned["logits"]
        return {d.name: [0.0] * len(d.options) for d in self.architectures.decisions}

    def prepare(self, *, train: ImageDataset, val: ImageDataset, device: str, constraints: Constraints,
                seconds_left: Callable[[], float], should_stop: Callable[[], bool],
                emit: Callable[[events.Event], None]) -> None:
        if SUPERNET_ATTR in self.study.user_attrs:
            return
        result = train_supernet(
            self.space, train, val, stem_width=self.architectures.stem_width,
            activation=self.architectures.activation, device=device, seed=self.seed, should_stop=should_stop,
            seconds=SUPERNET_SHARE * max(0.0, seconds_left()), latency_limit_ms=constraints.max_latency_ms, emit=emit,
        )
        epochs = self.architectures.train["epochs"]
        if result.path_step_seconds:
            epoch_seconds = result.path_step_seconds * max(1, len(train) // self.architectures.train["batch_size"])
            affordable = int(CANDIDATE_SHARE * max(0.0, seconds_left()) / epoch_seconds)
            epochs = max(self.space.min_epochs, min(epochs, affordable))
        self.study.set_user_attr(SUPERNET_ATTR, {**asdict(result), "epochs": epochs})

    def candidate(self, choices: dict[str, int]) -> dict:
        """The genotype of these choices, on the schedule prepare fitted to the time left."""
        learned = self.study.user_attrs.get(SUPERNET_ATTR, {})
        genotype = self.architectures.genotype(choices)
        return with_epochs(genotype, learned.get("epochs", genotype["train"]["epochs"]))

    def derived(self) -> dict:
        """The recipe changed at every decision the supernet has made, within the skip cap."""
        logits = self.logits
        probabilities = probabilities_of(logits)
        recipe = self.architectures.recipe
        decided = {name: int(np.argmax(p)) for name, p in probabilities.items()
                   if name not in recipe or decision_entropy(torch.tensor(logits[name])) < DECIDED_ENTROPY}
        return self.candidate({**recipe, **capped(decided, probabilities, self.skip_cap)})

    def draw(self, rng: np.random.Generator, probabilities: dict[str, np.ndarray]) -> dict:
        choices = {name: int(rng.choice(len(p), p=p)) for name, p in probabilities.items()}
        return self.candidate(capped(choices, probabilities, self.skip_cap))

    def origin(self, genotype: dict) -> str:
        """"supernet" for the derived architecture: the search treats it as a start point (Strategy.start_points),
        so its schedule is fitted to the time left from its first real epoch (the supernet's step time overstates
        a network's on its own: MNIST-5k's derived candidate got 5 epochs at 180 s, and 24 s of the budget were
        left unused) and early stopping does not judge it."""
        return "supernet" if architecture(genotype) == architecture(self.derived()) else "search"

    def start_point(self, origin: str) -> dict | None:
        if origin == "supernet":  # its schedule may stretch to the recipe's own
            return with_epochs(self.derived(), self.architectures.train["epochs"])
        return super().start_point(origin)

    def propose(self, number: int) -> dict:
        """Trial `number`'s genotype: the derived one first, then draws from the distribution not tried yet."""
        tried = [architecture(trial.user_attrs["genotype"]) for trial in self.study.get_trials(deepcopy=False)
                 if "genotype" in trial.user_attrs]
        genotype = self.derived()
        if architecture(genotype) not in tried:
            return genotype
        rng = np.random.default_rng([self.seed % 2**64, number])
        learned = probabilities_of(self.logits)
        for _ in range(DRAWS_BEFORE_EXPLORING):
            genotype = self.draw(rng, learned)
            if architecture(genotype) not in tried:
                return genotype
        uniform = {name: np.full(len(p), 1 / len(p)) for name, p in learned.items()}
        return self.draw(rng, uniform)

    def ask(self):
        trials = self.study.get_trials(deepcopy=False)
        # A candidate still waiting was proposed before a kill: it is the next one.
        if not any(trial.state == TrialState.WAITING for trial in trials):
            self.study.enqueue_trial(self.space.to_params(self.propose(len(trials))))
        return super().ask()
